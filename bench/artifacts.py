"""Artifacts: put and get MB/s of one large random file against a plain copy (the floor).

A put reads the file, hashes it (SHA-256), writes a temporary file, fsyncs and renames it;
a get reads the blob, hashes it while writing the destination. ``copy_plain`` reads and
writes the same bytes with an fsync and nothing else, so ``put time / copy time`` is the
price of content addressing and durability. HTTP put and get go through a real server.

Every timed operation runs in a fresh ``spawn`` child, so its RSS high-water mark is its
own and not the parent's (which generated a 1 GB file). The page cache cannot be dropped
on these machines, so the source is read once before timing and the operations alternate
in a rotating order over several rounds; the median of the rounds is reported.
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.workspaces import (
    DATA_DIR,
    RunningServer,
    local_client,
    open_local_client,
    peak_rss_of,
    reset_peak_rss_of,
    serve,
    settings_for,
)
from passline.artifacts.store import CHUNK_SIZE, copy_plain
from passline.sdk.client import Client
from passline.sdk.transports import HttpTransport

__all__ = ["FULL", "QUICK", "ArtifactParams", "ArtifactResult", "run"]

MB = 1_000_000  # decimal megabytes, for sizes, throughput and memory alike
PROJECT = "bench"
NAME = "random.bin"
GOAL_TIME_RATIO = 1.5  # a put or get may take at most 1.5x the plain copy
GOAL_PEAK_RSS = 100 * MB  # absolute peak RSS of the process doing the put or get


@dataclass(frozen=True)
class ArtifactParams:
    size_mb: int
    rounds: int = 3
    http: bool = True


FULL = ArtifactParams(size_mb=1000)
QUICK = ArtifactParams(size_mb=100)

# What each operation measures; the keys are also the JSON keys.
OPERATIONS = {
    "copy": "plain copy + fsync (floor)",
    "put": "put, embedded",
    "get": "get, embedded",
    "http_put": "put over HTTP",
    "http_get": "get over HTTP",
}


# --- the data file -------------------------------------------------------------------


def data_file(size_mb: int) -> Path:
    """The random input, generated once and reused by later runs."""
    path = DATA_DIR / f"random-{size_mb}MB.bin"
    if path.exists() and path.stat().st_size == size_mb * MB:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for _ in range(size_mb):
            # Random bytes: nothing on the path can compress or deduplicate them.
            out.write(os.urandom(MB))
    tmp.replace(path)
    return path


def read_through(path: Path) -> float:
    """Read a file once (to put it in the page cache for every operation alike)."""
    start = time.perf_counter()
    with path.open("rb") as stream:
        while stream.read(CHUNK_SIZE):
            pass
    return time.perf_counter() - start


# --- what runs in the child process --------------------------------------------------


def _prepare_copy(src: str, dst: str) -> Callable[[], object]:
    return lambda: copy_plain(src, dst)


def _prepare_put(home: str, src: str) -> Callable[[], object]:
    client = _embedded_client(home)
    return lambda: client.put_artifact(PROJECT, src, NAME)


def _prepare_get(home: str, artifact_id: str, dst: str) -> Callable[[], object]:
    client = _embedded_client(home)
    return lambda: client.download_artifact(artifact_id, dst)


def _prepare_http_put(url: str, token: str, src: str) -> Callable[[], object]:
    client = Client(HttpTransport(url, token, timeout=600.0))
    return lambda: client.put_artifact(PROJECT, src, NAME)


def _prepare_http_get(url: str, token: str, artifact_id: str, dst: str) -> Callable[[], object]:
    client = Client(HttpTransport(url, token, timeout=600.0))
    return lambda: client.download_artifact(artifact_id, dst)


_PREPARE: dict[str, Callable[..., Callable[[], object]]] = {
    "copy": _prepare_copy,
    "put": _prepare_put,
    "get": _prepare_get,
    "http_put": _prepare_http_put,
    "http_get": _prepare_http_get,
}


def _embedded_client(home: str) -> Client:
    # Opened before timing (not part of the figure); the child exits right after.
    return open_local_client(settings_for(Path(home)))


def _rss_now() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    """This process's RSS high-water mark in bytes (``VmHWM``).

    Not ``ru_maxrss``: Linux carries the parent's RSS at fork time into a fork+exec child's
    ``ru_maxrss``, so a spawn child would report the benchmark parent's size, not its own.
    ``VmHWM`` belongs to the address space that exec created. ``ru_maxrss`` is kept in the
    JSON for comparison.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return _ru_maxrss()


def _ru_maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def child_main(op: str, kwargs: dict[str, str]) -> dict[str, Any]:
    """Set up one operation, then time it; memory is read in this (fresh) process."""
    action = _PREPARE[op](**kwargs)
    baseline, peak_before = _rss_now(), _peak_rss()
    start = time.perf_counter()
    returned = action()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "baseline_rss": baseline,
        "peak_rss_before": peak_before,
        "peak_rss": _peak_rss(),
        "ru_maxrss": _ru_maxrss(),
        "artifact_id": getattr(returned, "id", None),
    }


def in_fresh_child(op: str, **kwargs: str) -> dict[str, Any]:
    # spawn, not fork: a forked child would inherit the parent's pages and high-water mark.
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(child_main, op, kwargs).result()


# --- the schedule ----------------------------------------------------------------------


@dataclass
class OpResult:
    op: str
    samples: list[dict[str, Any]] = field(default_factory=list)
    server_peak_rss: list[int] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(s["seconds"] for s in self.samples)

    @property
    def peak_rss(self) -> int:
        return max(s["peak_rss"] for s in self.samples)

    @property
    def baseline_rss(self) -> int:
        return max(s["baseline_rss"] for s in self.samples)


@dataclass
class ArtifactResult:
    params: ArtifactParams
    size_bytes: int
    warm_read_s: float
    ops: dict[str, OpResult] = field(default_factory=dict)
    order: list[list[str]] = field(default_factory=list)

    def figures(self, op: str) -> dict[str, Any]:
        """MB/s, time relative to the copy, memory and the goals, for one operation."""
        result, floor = self.ops[op], self.ops["copy"].median_s
        ratio = result.median_s / floor
        figures: dict[str, Any] = {
            "median_s": result.median_s,
            "mb_per_s": self.size_bytes / MB / result.median_s,
            "time_vs_copy": ratio,
            "baseline_rss_mb": result.baseline_rss / MB,
            "peak_rss_mb": result.peak_rss / MB,
            "server_peak_rss_mb": max(result.server_peak_rss) / MB
            if result.server_peak_rss
            else None,
        }
        if op != "copy":
            figures["goal_time_met"] = ratio <= GOAL_TIME_RATIO
            figures["goal_memory_met"] = result.peak_rss < GOAL_PEAK_RSS
        return figures

    def to_json(self) -> dict[str, Any]:
        return {
            "params": asdict(self.params),
            "size_bytes": self.size_bytes,
            "warm_read_s": self.warm_read_s,
            "goals": {"time_vs_copy_max": GOAL_TIME_RATIO, "peak_rss_mb_max": GOAL_PEAK_RSS / MB},
            "order": self.order,
            "ops": {op: {"figures": self.figures(op), **asdict(r)} for op, r in self.ops.items()},
            "page_cache_note": PAGE_CACHE_NOTE,
        }


PAGE_CACHE_NOTE = (
    "The page cache cannot be dropped here: the source file and the blob are probably "
    "cached, so reads are from memory and the figures mostly compare write, hash and fsync "
    "costs. The source was read once before timing; operations rotate order each round."
)


def schedule(ops: list[str], rounds: int) -> list[list[str]]:
    """Each round starts one operation later, so no operation always runs first or last."""
    return [ops[r % len(ops) :] + ops[: r % len(ops)] for r in range(rounds)]


class Runner:
    """Runs operations in fresh children, with the paths and ids they need."""

    def __init__(self, workdir: Path, src: Path, server: RunningServer | None) -> None:
        self.workdir, self.src, self.server = workdir, src, server
        self.home = workdir / "workspace"
        self.artifact_id = ""

    def setup(self) -> None:
        """Create the project and put the file once, so gets have a blob to read."""
        with local_client(settings_for(self.home)) as client:
            client.create_project(PROJECT, "benchmark scratch project")
        self.artifact_id = in_fresh_child("put", **self._kwargs("put"))["artifact_id"]

    def _kwargs(self, op: str) -> dict[str, str]:
        src, home, dst = str(self.src), str(self.home), str(self.workdir / f"{op}.out")
        http = {"url": self.server.url, "token": self.server.token} if self.server else {}
        return {
            "copy": {"src": src, "dst": dst},
            "put": {"home": home, "src": src},
            "get": {"home": home, "artifact_id": self.artifact_id, "dst": dst},
            "http_put": {**http, "src": src},
            "http_get": {**http, "artifact_id": self.artifact_id, "dst": dst},
        }[op]

    def run(self, op: str, result: OpResult) -> None:
        # Every destination starts absent, so each operation writes a new file.
        (self.workdir / f"{op}.out").unlink(missing_ok=True)
        if self.server and op.startswith("http"):
            reset_peak_rss_of(self.server.pid)
        result.samples.append(in_fresh_child(op, **self._kwargs(op)))
        if self.server and op.startswith("http"):
            result.server_peak_rss.append(peak_rss_of(self.server.pid) or 0)
        (self.workdir / f"{op}.out").unlink(missing_ok=True)


def run(params: ArtifactParams, console: Console) -> ArtifactResult:
    console.log(f"artifacts: preparing a {params.size_mb} MB random file")
    src = data_file(params.size_mb)
    workdir = DATA_DIR / f"artifacts-{secrets.token_hex(3)}"
    (workdir / "workspace").mkdir(parents=True)
    try:
        return _run_in(workdir, src, params, console)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run_in(workdir: Path, src: Path, params: ArtifactParams, console: Console) -> ArtifactResult:
    result = ArtifactResult(params, src.stat().st_size, warm_read_s=read_through(src))
    ops = [op for op in OPERATIONS if params.http or not op.startswith("http")]
    result.ops = {op: OpResult(op) for op in ops}
    result.order = schedule(ops, params.rounds)
    runner = Runner(workdir, src, None)
    runner.setup()
    if not params.http:
        _rounds(runner, result, console)
        return result
    with serve(runner.home) as server:
        runner.server = server
        _rounds(runner, result, console)
    return result


def _rounds(runner: Runner, result: ArtifactResult, console: Console) -> None:
    for number, order in enumerate(result.order, start=1):
        console.log(f"artifacts: round {number}/{len(result.order)}: {', '.join(order)}")
        for op in order:
            runner.run(op, result.ops[op])
