"""Work over large data split in chunks: batch scoring and drift, locally or on Ray.

The driver slices the table (zero-copy) and sends each chunk as Arrow IPC bytes; a worker
scores it with the model, or profiles it with mergeable sketches (the same profile the
ingest builds). Local work runs on a pool of fork-server processes; on Ray each chunk is
a task and the model goes to the object store once. Results are concatenated (scores) or
merged (profiles) by the driver, so the answer does not depend on where the work ran.
"""

from __future__ import annotations

import functools
import pickle
import resource
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from queue import Empty, Queue
from typing import Any

import numpy as np
import pyarrow as pa

from passline.errors import InvalidInput
from passline.pipelines.executors import RayExecutor, StreamWorker
from passline.services.workspace import Services

__all__ = ["chunked_drift", "map_chunks", "score_dataset"]

Progress = Callable[[int, int], None]


def _to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _peak_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: a worker started from a
    large process inherits that process's ru_maxrss across fork and exec on Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@functools.lru_cache(maxsize=2)
def _model(model_bytes: bytes) -> Any:
    """Unpickled once per worker process, not once per chunk."""
    return pickle.loads(model_bytes)


def _score_chunk(model_bytes: bytes, chunk: bytes, features: list[str]) -> tuple[bytes, float]:
    model = _model(model_bytes)
    frame = _from_ipc(chunk).select(features).to_pandas()
    predicted = np.asarray(model.predict(frame), dtype=np.float64)
    return predicted.tobytes(), _peak_mb()


def _profile_chunk(_: bytes, chunk: bytes, columns: list[str]) -> tuple[dict[str, Any], float]:
    from passline.data.profile import DatasetProfile

    table = _from_ipc(chunk).select(columns)
    profile = DatasetProfile.for_schema(table.schema)
    for batch in table.to_batches(max_chunksize=65_536):
        profile.update(batch)
    return profile.to_dict(), _peak_mb()


def map_chunks(
    fn: Callable[[bytes, bytes, list[str]], tuple[Any, float]],
    table: pa.Table,
    shared: bytes,
    columns: list[str],
    *,
    executor: str = "local",
    workers: int = 2,
    chunk_rows: int = 500_000,
    ray_address: str | None = None,
    progress: Progress | None = None,
) -> tuple[list[Any], float]:
    """``fn(shared, chunk, columns)`` over ``table`` in chunks; results in order, and the
    largest peak memory (MB) a worker reported."""
    if chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be 1 or more. Got {chunk_rows} instead.")
    starts = list(range(0, table.num_rows, chunk_rows)) or [0]
    report = progress or (lambda done, total: None)

    def chunk(start: int) -> bytes:  # made when it is sent: the chunks never all exist at once
        return _to_ipc(table.slice(start, chunk_rows).select(columns))

    if executor == "ray":
        ray = RayExecutor(ray_address, workers)._ray
        outcomes = _ray_map(ray, fn, shared, columns, starts, chunk, workers, report)
    elif executor == "local":
        outcomes = _local_map(fn, shared, columns, starts, chunk, workers, report)
    else:
        raise InvalidInput(f"The executor must be 'local' or 'ray'. Got {executor!r} instead.")
    return [o[0] for o in outcomes], max(o[1] for o in outcomes)


def _local_map(
    fn: Callable[..., tuple[Any, float]],
    shared: bytes,
    columns: list[str],
    starts: list[int],
    chunk: Callable[[int], bytes],
    workers: int,
    report: Progress,
) -> list[tuple[Any, float]]:
    """``workers`` stream workers, each with one core's threads, take the next chunk when
    they are free: one interpreter start and one model load per worker, one chunk in
    memory per worker."""
    pending: Queue[int] = Queue()
    for index in range(len(starts)):
        pending.put(index)
    results: list[tuple[Any, float]] = [None] * len(starts)  # type: ignore[list-item]
    lock = threading.Lock()

    def work() -> None:
        with StreamWorker(fn, shared, columns, threads=1) as worker:
            while True:
                try:
                    index = pending.get_nowait()
                except Empty:
                    return
                results[index] = worker.call(chunk(starts[index]))
                with lock:
                    report(sum(r is not None for r in results), len(starts))

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(work) for _ in range(min(workers, len(starts)))]:
            future.result()
    return results


def _ray_map(
    ray: Any,
    fn: Callable[..., tuple[Any, float]],
    shared: bytes,
    columns: list[str],
    starts: list[int],
    chunk: Callable[[int], bytes],
    workers: int,
    report: Progress,
) -> list[tuple[Any, float]]:
    """Tasks on Ray, at most two per worker in flight, so the object store holds a few
    chunks rather than the whole table; ``shared`` (the model) is put there once."""
    remote, shared_ref = ray.remote(num_cpus=1)(fn), ray.put(shared)
    results: list[tuple[Any, float]] = [None] * len(starts)  # type: ignore[list-item]
    in_flight: dict[Any, int] = {}
    for index, start in enumerate(starts):
        if len(in_flight) >= 2 * workers:
            _collect(ray, in_flight, results, report)
        in_flight[remote.remote(shared_ref, ray.put(chunk(start)), columns)] = index
    while in_flight:
        _collect(ray, in_flight, results, report)
    return results


def _collect(ray: Any, in_flight: dict[Any, int], results: list[Any], report: Progress) -> None:
    [ready], _ = ray.wait(list(in_flight), num_returns=1)
    results[in_flight.pop(ready)] = ray.get(ready)
    report(sum(r is not None for r in results), len(results))


def score_dataset(
    services: Services,
    dataset: str,
    model: str,
    *,
    output: str | None = None,
    column: str = "prediction",
    executor: str = "local",
    chunk_rows: int = 500_000,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Score a dataset version with a registered model version (``project/model@alias`` or
    ``@N``); with ``output``, store the rows and their scores as a new dataset version
    linked to both."""
    started = time.perf_counter()
    name, _, selector = model.partition("@")
    version = services.registry.version(name, selector or "production")
    estimator = services.registry.load(name, version.version)
    table = services.datasets.read(dataset)
    features = _features(estimator, version.signature, table)
    settings = services.workspace.settings
    pieces, worker_peak = map_chunks(
        _score_chunk,
        table,
        pickle.dumps(estimator),
        features,
        executor=executor,
        workers=_workers(executor, settings),
        chunk_rows=chunk_rows,
        ray_address=settings.ray_address,
        progress=progress,
    )
    scores = np.frombuffer(b"".join(pieces), dtype=np.float64)
    result: dict[str, Any] = {
        "dataset": services.datasets.version(dataset).label,
        "model": version.label,
        "rows": table.num_rows,
        "executor": executor,
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mb": {"driver": round(_peak_mb(), 1), "worker": round(worker_peak, 1)},
    }
    result["rows_per_s"] = round(table.num_rows / result["seconds"]) if result["seconds"] else None
    if output:
        result["output"] = _store(
            services,
            table.append_column(column, pa.array(scores)),
            output,
            result["dataset"],
            version.id,
        )
    else:
        result["scores"] = scores
    return result


def _workers(executor: str, settings: Any) -> int:
    return (settings.ray_num_cpus or 2) if executor == "ray" else settings.pipeline_workers


def _features(estimator: Any, signature: dict[str, Any], table: pa.Table) -> list[str]:
    names = getattr(estimator, "feature_names_in_", None)
    wanted = list(names) if names is not None else [c["name"] for c in signature.get("inputs", [])]
    wanted = wanted or table.column_names
    missing = [c for c in wanted if c not in table.column_names]
    if missing:
        raise InvalidInput(
            f"The model needs columns the dataset lacks: {', '.join(missing[:5])}.",
            hint=f"The dataset has: {', '.join(table.column_names[:20])}.",
        )
    return wanted


def _store(services: Services, table: pa.Table, output: str, dataset: str, version_id: str) -> str:
    from passline.data.connectors.memory import TableConnector
    from passline.services.ingest import IngestOptions

    stored = services.ingest.ingest(
        output,
        TableConnector(table, label="batch scores"),
        IngestOptions(inputs=[dataset], description="batch scores"),
    )
    services.lineage.link(f"model_version:{version_id}", f"dataset_version:{stored.id}", "scored")
    return stored.label


def chunked_drift(
    services: Services,
    reference: str,
    current: str,
    *,
    columns: list[str] | None = None,
    executor: str = "local",
    chunk_rows: int = 500_000,
    drift_share: float = 0.5,
) -> dict[str, Any]:
    """Drift of dataset version ``current`` against ``reference``, profiling ``current`` in
    chunks on the executor and merging the sketches (for data too big for one process)."""
    from passline.data.drift import drift_report
    from passline.data.profile import DatasetProfile

    started = time.perf_counter()
    table = services.datasets.read(current)
    chosen = columns or table.column_names
    settings = services.workspace.settings
    profiles, worker_peak = map_chunks(
        _profile_chunk,
        table,
        b"",
        chosen,
        executor=executor,
        workers=_workers(executor, settings),
        chunk_rows=chunk_rows,
        ray_address=settings.ray_address,
    )
    merged = DatasetProfile.from_dict(profiles[0])
    for other in profiles[1:]:
        merged = merged.merge(DatasetProfile.from_dict(other))
    ref_profile = DatasetProfile.from_dict(services.datasets.profile_sketches(reference))
    report = drift_report(ref_profile, merged, columns, None, drift_share=drift_share)
    return {
        "reference": reference,
        "current": current,
        "executor": executor,
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mb": {"driver": round(_peak_mb(), 1), "worker": round(worker_peak, 1)},
        **report.to_dict(),
    }
