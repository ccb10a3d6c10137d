"""One measured side of the drift benchmark, in a fresh process: ``python drift_child.py OP ARGS``.

``bench/drift.py`` runs this file with Passline's Python (the ``passline_*``, ``workspace_*``
and ``reference_profile`` ops) or with ``bench/.venv-peers``' Python (the ``evidently`` op).
It imports only the standard library until an op runs, so one file serves both environments
and never brings Evidently into Passline's, or Passline into the peers'. ``ARGS`` is a JSON
object of the op's keyword arguments; the answer is one JSON line on the original stdout
(whatever the libraries print goes to stderr).

Memory is read from ``/proc/self/status``, so every figure is this process's own:

- ``baseline``: ``VmHWM`` after the op's imports (and opening a workspace), before any data;
- ``load_peak``: ``VmHWM`` after the data is loaded;
- then ``VmHWM`` is reset to the current RSS (``/proc/self/clear_refs``), so ``run_peak`` is
  the run's own high-water mark, above ``rss_before_run``.

Not ``ru_maxrss``: a fork+exec child's carries its parent's size at fork time (it is kept in
the answer for comparison).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

# Evidently's method names (as in its ValueDrift config) -> Passline's test ids.
EVIDENTLY_METHODS = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chi2",
    "Z-test p_value": "ztest",
    "PSI": "psi",
}
REFERENCE = "bench/reference"
CURRENT = "bench/current"


class Memory:
    """This process's memory at the four moments the module docstring names."""

    def __init__(self) -> None:
        self.baseline = _status("VmHWM")
        self.load_peak = self.baseline
        self.rss_before_run = _status("VmRSS")
        self.peak_reset = False
        self.run_peak = self.baseline

    def loaded(self) -> None:
        self.load_peak = _status("VmHWM")
        self.rss_before_run = _status("VmRSS")
        self.peak_reset = _reset_peak()

    def ran(self) -> None:
        self.run_peak = _status("VmHWM")

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline_bytes": self.baseline,
            "load_peak_bytes": self.load_peak,
            "rss_before_run_bytes": self.rss_before_run,
            "run_peak_bytes": self.run_peak,
            "peak_bytes": max(self.load_peak, self.run_peak),
            "peak_reset": self.peak_reset,
            "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }


def _status(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {key}")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _timed(rounds: int, action: Any) -> tuple[list[float], Any]:
    seconds, returned = [], None
    for _ in range(rounds):
        began = time.perf_counter()
        returned = action()
        seconds.append(time.perf_counter() - began)
    return seconds, returned


# --- Evidently (run with the peers' Python) --------------------------------------------------


def evidently(
    reference: str, current: str, numeric: list[str], categorical: list[str], rounds: int
) -> dict[str, Any]:
    """``Report([DataDriftPreset()]).run(current, reference)`` on frames read with pandas."""
    began = time.perf_counter()
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently import __version__ as evidently_version
    from evidently.presets import DataDriftPreset

    imports_s = time.perf_counter() - began
    memory = Memory()
    began = time.perf_counter()
    ref_frame, cur_frame = pd.read_parquet(reference), pd.read_parquet(current)
    load_s = time.perf_counter() - began
    memory.loaded()

    def run() -> Any:
        # Building the Datasets is part of the run: Report.run would do it for bare frames.
        definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
        return Report([DataDriftPreset()]).run(
            current_data=Dataset.from_pandas(cur_frame, data_definition=definition),
            reference_data=Dataset.from_pandas(ref_frame, data_definition=definition),
        )

    run_s, snapshot = _timed(rounds, run)
    memory.ran()
    began = time.perf_counter()
    metrics = snapshot.dict()["metrics"]
    dict_s = time.perf_counter() - began
    columns, dataset = {}, {}
    for metric in metrics:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            method = config["method"]
            columns[config["column"]] = {
                "test": EVIDENTLY_METHODS.get(method, method),
                "method": method,
                "threshold": config["threshold"],
                "statistic": metric["value"],
            }
        elif config["type"].endswith(":DriftedColumnsCount"):
            dataset = {"columns_drifted": metric["value"]["count"], **metric["value"]}
    return {
        "versions": {"evidently": evidently_version, "pandas": pd.__version__},
        "imports_s": imports_s,
        "load_s": load_s,
        "run_s": run_s,
        "dict_s": dict_s,
        "dtypes": {str(k): int(v) for k, v in ref_frame.dtypes.astype(str).value_counts().items()},
        "memory": memory.to_json(),
        "columns": columns,
        "dataset": dataset,
    }


# --- Passline (run with Passline's Python) ---------------------------------------------------


def passline_exact(reference: str, current: str, rounds: int, profile: bool) -> dict[str, Any]:
    """``drift_report(ref_table, cur_table)`` on Arrow tables read with ``pq.read_table``."""
    began = time.perf_counter()
    import pyarrow.parquet as pq

    from passline.data.drift import drift_report

    imports_s = time.perf_counter() - began
    memory = Memory()
    began = time.perf_counter()
    ref_table, cur_table = pq.read_table(reference), pq.read_table(current)
    load_s = time.perf_counter() - began
    memory.loaded()
    run_s, report = _timed(rounds, lambda: drift_report(ref_table, cur_table))
    memory.ran()
    answer = {
        "imports_s": imports_s,
        "load_s": load_s,
        "run_s": run_s,
        "memory": memory.to_json(),
        **_report_json(report.to_dict()),
    }
    if profile:
        answer["profile"] = _profile(lambda: drift_report(ref_table, cur_table))
    return answer


def reference_profile(reference: str, out: str) -> dict[str, Any]:
    """The reference's profile, streamed from the file and stored as JSON (as an ingest)."""
    from passline.data.connectors import FileConnector
    from passline.data.profile import DatasetProfile

    memory = Memory()
    memory.loaded()
    began = time.perf_counter()
    profile, batches, batch_rows = _stream_profile(FileConnector(reference))
    Path(out).write_text(json.dumps(profile.to_dict()))
    seconds = time.perf_counter() - began
    memory.ran()
    assert isinstance(profile, DatasetProfile)
    return {
        "seconds": seconds,
        "rows": profile.rows,
        "batches": batches,
        "batch_rows": batch_rows,
        "json_bytes": Path(out).stat().st_size,
        "memory": memory.to_json(),
    }


def _stream_profile(connector: Any) -> tuple[Any, int, int]:
    from passline.data.profile import DatasetProfile

    profile, batches, largest = None, 0, 0
    for batch in connector.batches():
        profile = profile or DatasetProfile.for_schema(batch.schema)
        profile.update(batch)
        batches, largest = batches + 1, max(largest, batch.num_rows)
    return profile, batches, largest


def passline_profiles(reference_json: str, current: str, rounds: int) -> dict[str, Any]:
    """The stored reference profile against the current file profiled in a stream."""
    began = time.perf_counter()
    from passline.data.connectors import FileConnector
    from passline.data.drift import drift_report
    from passline.data.profile import DatasetProfile

    imports_s = time.perf_counter() - began
    memory = Memory()
    memory.loaded()  # nothing is loaded up front: both sides come in as the run reads them
    stages: list[dict[str, float]] = []

    def run() -> Any:
        t0 = time.perf_counter()
        ref = DatasetProfile.from_dict(json.loads(Path(reference_json).read_text()))
        t1 = time.perf_counter()
        cur, batches, batch_rows = _stream_profile(FileConnector(current))
        t2 = time.perf_counter()
        report = drift_report(ref, cur)
        t3 = time.perf_counter()
        stages.append(
            {"read_reference_s": t1 - t0, "profile_current_s": t2 - t1, "report_s": t3 - t2}
        )
        return report, batches, batch_rows

    run_s, (report, batches, batch_rows) = _timed(rounds, run)
    memory.ran()
    return {
        "imports_s": imports_s,
        "load_s": 0.0,
        "run_s": run_s,
        "stages": stages,
        "batches": batches,
        "batch_rows": batch_rows,
        "memory": memory.to_json(),
        **_report_json(report.to_dict()),
    }


def _workspace(home: str) -> Any:
    from passline.services.workspace import Workspace
    from passline.settings import Settings

    workspace = Workspace.open(Settings(home=Path(home)))
    return workspace.services(workspace.local_context("sdk"))


def workspace_ingest(home: str, reference: str, current: str) -> dict[str, Any]:
    """Both files ingested as dataset versions (each stores its profile), for ``compare``."""
    from passline.data.connectors import FileConnector

    services = _workspace(home)
    services.projects.create("bench", "drift benchmark scratch project")
    seconds = {}
    for dataset, path in ((REFERENCE, reference), (CURRENT, current)):
        began = time.perf_counter()
        services.ingest.ingest(dataset, FileConnector(path))
        seconds[dataset] = time.perf_counter() - began
    return {"ingest_s": seconds}


def workspace_compare(home: str, rounds: int) -> dict[str, Any]:
    """``services.drift.compare`` of the two stored versions (their stored profiles)."""
    began = time.perf_counter()
    services = _workspace(home)
    imports_s = time.perf_counter() - began
    memory = Memory()
    memory.loaded()
    run_s, answer = _timed(
        rounds, lambda: services.drift.compare(f"{REFERENCE}@v1", f"{CURRENT}@v1")
    )
    memory.ran()
    return {
        "imports_s": imports_s,
        "load_s": 0.0,
        "run_s": run_s,
        "memory": memory.to_json(),
        **_report_json(answer),
    }


def _report_json(report: dict[str, Any]) -> dict[str, Any]:
    """A drift report's per-column figures, in the shape the Evidently op answers."""
    columns = {
        name: {
            "test": column["test"]["type"] if column["test"] else None,
            "statistic": column["statistic"],
            "threshold": column["threshold"],
            "drifted": column["drifted"],
            "exact": column["exact"],
            "psi": (column["psi"] or {}).get("value"),
        }
        for name, column in report["columns"].items()
    }
    dataset = {
        "columns_drifted": report["columns_drifted"],
        "share": report["drift_share"],
        "drifted": report["drifted"],
    }
    return {"columns": columns, "dataset": dataset}


def _profile(action: Any) -> dict[str, Any]:
    """cProfile of one more run: Passline's functions by cumulative time, all by own time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    began = time.perf_counter()
    action()
    seconds = time.perf_counter() - began
    profiler.disable()
    rows = []
    for (filename, line, name), (_cc, calls, own, cumulative, _callers) in pstats.Stats(
        profiler
    ).stats.items():  # type: ignore[attr-defined]
        function = name if filename == "~" else f"{_short(filename)}:{line}({name})"
        if function.startswith("drift_child.py"):
            continue
        rows.append(
            {"function": function, "calls": calls, "own_s": own, "cumulative_s": cumulative}
        )
    ours = sorted(
        (r for r in rows if r["function"].startswith("passline/")),
        key=lambda r: -r["cumulative_s"],
    )
    rows.sort(key=lambda r: -r["own_s"])
    return {
        "seconds": seconds,
        "rows": [{"view": "Passline, cumulative", **r} for r in ours[:8]]
        + [{"view": "all, own time", **r} for r in rows[:8]],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return Path(filename).name


OPS = {
    "evidently": evidently,
    "passline_exact": passline_exact,
    "passline_profiles": passline_profiles,
    "reference_profile": reference_profile,
    "workspace_ingest": workspace_ingest,
    "workspace_compare": workspace_compare,
}


def main() -> None:
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # a library's print can never corrupt the answer
    op, args = sys.argv[1], json.loads(sys.argv[2])
    answer = OPS[op](**args)
    answer["median_run_s"] = statistics.median(answer["run_s"]) if "run_s" in answer else None
    print(json.dumps(answer), file=answers)


if __name__ == "__main__":
    main()
