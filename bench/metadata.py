"""Metadata writes: audit events/s and lineage edges/s on SQLite, PostgreSQL and HTTP.

Every mutating call writes one hash-chained audit entry in its own transaction, so the
rate of single calls *is* the audit event rate; ``link_many`` writes a whole batch of
edges under one entry. All three backends are driven through the same SDK ``Client``
(embedded transport or HTTP), so the ratios isolate the backend, not the calling code.

The graph is bipartite (sources -> targets) because ``link`` walks upstream from the
source to refuse cycles: a source has no upstream, so the walk stays one cheap query and
we time the write path rather than a graph that grows deeper with every edge.

The backends are open side by side and take turns, slice by slice (see :func:`interleave`),
so a burst of load from a neighbour on the shared machine hits all of them alike.
"""

from __future__ import annotations

import math
import secrets
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bench.workspaces import DATA_DIR, local_client, serve, settings_for
from passline.sdk.client import Client

__all__ = ["FULL", "QUICK", "MetadataParams", "MetadataResult", "run"]

PROJECT = "bench"
TARGETS = 100  # targets per source row of the bipartite graph
SLICE = 100  # single calls per backend turn when backends take turns
T = TypeVar("T")
LABELS = {  # backend key -> column title, in table order
    "sqlite": "embedded SQLite",
    "postgres": "embedded PostgreSQL",
    "http": "HTTP -> uvicorn (SQLite)",
}
Opener = Callable[[], AbstractContextManager[Client]]


@dataclass(frozen=True)
class MetadataParams:
    single_calls: int
    batched_edges: int
    batch_size: int
    warmup_calls: int
    verify_repeats: int = 3


FULL = MetadataParams(single_calls=2_000, batched_edges=20_000, batch_size=500, warmup_calls=20)
QUICK = MetadataParams(single_calls=200, batched_edges=2_000, batch_size=500, warmup_calls=5)


@dataclass(frozen=True)
class Graph:
    """``sources`` x ``TARGETS`` nodes; edge k joins a different source and target each time.

    Interleaving (rather than filling one source's row first) makes each batch touch many
    distinct nodes, as real batches of lineage do, instead of flattering ``link_many``.
    """

    sources: int

    def nodes(self) -> list[str]:
        return [f"source:s{i}" for i in range(self.sources)] + [
            f"dataset:t{j}" for j in range(TARGETS)
        ]

    def edge(self, k: int, type_: str) -> dict[str, str]:
        i, row = k % self.sources, k // self.sources
        # For a fixed source, row -> (row + i) % TARGETS is a bijection: pairs never repeat.
        return {"src": f"source:s{i}", "dst": f"dataset:t{(row + i) % TARGETS}", "type": type_}

    def edges(self, count: int, type_: str) -> list[dict[str, str]]:
        return [self.edge(k, type_) for k in range(count)]


def plan_graph(params: MetadataParams) -> Graph:
    largest = max(params.single_calls, params.batched_edges, params.warmup_calls)
    return Graph(sources=math.ceil(largest / TARGETS))


@dataclass
class BackendResult:
    """Raw counts and seconds for one backend; rates are derived so they never disagree."""

    backend: str
    label: str
    nodes: int
    register_s: float
    single_calls: int
    single_s: float
    single_latency_ms: dict[str, float]
    batched_edges: int
    batch_size: int
    batched_s: float
    batch_s: list[float]  # each batch, to see the spread on a shared machine
    verify_entries: int
    verify_s: list[float]
    verify_ok: bool

    @property
    def batches(self) -> int:
        return math.ceil(self.batched_edges / self.batch_size)

    def rates(self) -> dict[str, float]:
        verify_s = statistics.median(self.verify_s)
        return {
            "register_events_per_s": self.nodes / self.register_s,
            "single_edges_per_s": self.single_calls / self.single_s,
            "single_events_per_s": self.single_calls / self.single_s,
            "batched_edges_per_s": self.batched_edges / self.batched_s,
            "batched_events_per_s": self.batches / self.batched_s,
            "verify_entries_per_s": self.verify_entries / verify_s,
        }

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "batches": self.batches, "rates": self.rates()}


@dataclass
class MetadataResult:
    params: MetadataParams
    backends: list[BackendResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def get(self, backend: str) -> BackendResult | None:
        return next((b for b in self.backends if b.backend == backend), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "params": asdict(self.params),
            "graph": {"sources": plan_graph(self.params).sources, "targets": TARGETS},
            "backends": {b.backend: b.to_json() for b in self.backends},
            "skipped": self.skipped,
        }


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


@dataclass
class Timings:
    """One backend's client and the seconds it accumulates, phase by phase."""

    backend: str
    client: Client
    register_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    batch_s: list[float] = field(default_factory=list)
    verify_s: list[float] = field(default_factory=list)
    verification: Any = None


def interleave(runs: list[Timings], slices: list[T], work: Callable[[Timings, T], None]) -> None:
    """Give every backend each slice in turn, starting with a different one each time.

    Others share these machines and their load changes by the minute; running backends one
    after the other would let a busy minute land on one of them and skew the ratios.
    """
    for number, piece in enumerate(slices):
        shift = number % len(runs)
        for run in runs[shift:] + runs[:shift]:
            work(run, piece)


def chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def measure(runs: list[Timings], params: MetadataParams) -> None:
    """Register the graph, warm up, then time single links, batched links and verify."""
    graph = plan_graph(params)
    for run in runs:
        run.client.create_project(PROJECT, "benchmark scratch project")
    interleave(runs, chunks(graph.nodes(), SLICE), _register)
    # Warm-up edges use their own type so they never make a timed edge a no-op repeat.
    interleave(runs, [graph.edges(params.warmup_calls, "warmed")], _link_each)
    single = graph.edges(params.single_calls, "used_by")
    interleave(runs, chunks(single, SLICE), _time_link_each)
    batches = chunks(graph.edges(params.batched_edges, "feeds"), params.batch_size)
    interleave(runs, batches, _time_link_many)
    interleave(runs, list(range(params.verify_repeats)), _time_verify)


def _register(run: Timings, refs: list[str]) -> None:
    run.register_s += timed(lambda: [run.client.register_node(r, r, PROJECT) for r in refs])


def _link_each(run: Timings, edges: list[dict[str, str]]) -> None:
    for edge in edges:
        run.client.link(**edge)


def _time_link_each(run: Timings, edges: list[dict[str, str]]) -> None:
    run.latencies.extend(timed(partial(run.client.link, **e)) for e in edges)


def _time_link_many(run: Timings, batch: list[dict[str, str]]) -> None:
    run.batch_s.append(timed(partial(run.client.link_many, batch)))


def _time_verify(run: Timings, _repeat: int) -> None:
    start = time.perf_counter()
    run.verification = run.client.verify_audit()
    run.verify_s.append(time.perf_counter() - start)


def summarise(run: Timings, params: MetadataParams) -> BackendResult:
    return BackendResult(
        backend=run.backend,
        label=LABELS[run.backend],
        nodes=len(plan_graph(params).nodes()),
        register_s=run.register_s,
        single_calls=len(run.latencies),
        single_s=sum(run.latencies),
        single_latency_ms=percentiles_ms(run.latencies),
        batched_edges=params.batched_edges,
        batch_size=params.batch_size,
        batched_s=sum(run.batch_s),
        batch_s=run.batch_s,
        verify_entries=run.verification.checked,
        verify_s=run.verify_s,
        verify_ok=run.verification.ok,
    )


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of per-call latencies, in milliseconds."""
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {
        "p50": cuts[49] * 1000,
        "p95": cuts[94] * 1000,
        "p99": cuts[98] * 1000,
        "max": max(seconds) * 1000,
    }


@contextmanager
def sqlite_backend(workdir: Path) -> Iterator[Client]:
    with local_client(settings_for(workdir / "sqlite")) as client:
        yield client


@contextmanager
def postgres_backend(workdir: Path, admin_url: str) -> Iterator[Client]:
    with fresh_postgres_database(admin_url) as url:
        with local_client(settings_for(workdir / "postgres", url)) as client:
            yield client


@contextmanager
def http_backend(workdir: Path) -> Iterator[Client]:
    with serve(workdir / "http") as server:
        client = server.client()
        try:
            yield client
        finally:
            client.close()


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """A new ``passline_bench_*`` database for one run, dropped afterwards, even on failure."""
    name = f"passline_bench_{secrets.token_hex(4)}"
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                # FORCE ends connections a failed run may have left in the pool.
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def openers(workdir: Path, postgres_url: str | None) -> dict[str, Opener | str]:
    """Each backend's opener, or the reason it is skipped; in table order."""
    return {
        "sqlite": partial(sqlite_backend, workdir),
        "postgres": partial(postgres_backend, workdir, postgres_url)
        if postgres_url
        else "PASSLINE_BENCH_POSTGRES_URL is not set",
        "http": partial(http_backend, workdir),
    }


def run(params: MetadataParams, postgres_url: str | None, console: Console) -> MetadataResult:
    result = MetadataResult(params)
    workdir = DATA_DIR / f"metadata-{secrets.token_hex(3)}"
    workdir.mkdir(parents=True)
    try:
        with ExitStack() as stack:
            runs = []
            for key, opener in openers(workdir, postgres_url).items():
                if isinstance(opener, str):
                    console.log(f"metadata/{key}: skipped ({opener})")
                    result.skipped[key] = opener
                    continue
                console.log(f"metadata/{key}: opening {LABELS[key]}")
                runs.append(Timings(key, stack.enter_context(opener())))
            console.log(f"metadata: measuring {', '.join(r.backend for r in runs)}, interleaved")
            measure(runs, params)
            result.backends = [summarise(r, params) for r in runs]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result
