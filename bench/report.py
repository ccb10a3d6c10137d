"""Tables for the terminal and JSON files for comparing runs over time.

Each run writes ``bench/results/<UTC timestamp>-<name>.json`` (kept, one per run) and
``bench/results/latest-<name>.json`` (overwritten). A quick run is named ``<name>-quick`` so
it never replaces the latest full figures.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table

import passline
from bench.artifacts import (
    GOAL_PEAK_RSS,
    GOAL_TIME_RATIO,
    MB,
    OPERATIONS,
    PAGE_CACHE_NOTE,
    ArtifactResult,
)
from bench.metadata import LABELS, MetadataResult

__all__ = ["artifacts_table", "machine_info", "metadata_table", "write_results"]

RESULTS_DIR = Path(__file__).parent / "results"
_REPO = Path(__file__).parent.parent


# --- JSON ------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """What the figures depend on, so a later run knows whether it compares like with like."""
    return {
        "cpu_count": os.cpu_count(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        # Others share these machines: a high load average explains a slow run.
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "passline_version": passline.__version__,
        "git": _git_state(),
    }


def _git_state() -> dict[str, Any] | None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=_REPO, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.CalledProcessError):
        return None


def write_results(
    name: str, payload: dict[str, Any], started: datetime, results_dir: Path = RESULTS_DIR
) -> list[Path]:
    """Write the timestamped file and the ``latest-`` copy; return both paths."""
    results_dir.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "started_utc": started.isoformat(timespec="seconds"),
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 1),
        "machine": machine_info(),
        **payload,
    }
    text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    paths = [results_dir / f"{stamp}-{name}.json", results_dir / f"latest-{name}.json"]
    for path in paths:
        path.write_text(text)
    return paths


# --- formatting ------------------------------------------------------------------------


def rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def verdict(met: bool | None) -> str:
    if met is None:
        return "-"
    return "[green]pass[/green]" if met else "[red]FAIL[/red]"


def megabytes(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


# --- metadata --------------------------------------------------------------------------

# (row label, key in BackendResult.rates())
_METADATA_ROWS = [
    ("register node, one per call (audit events/s)", "register_events_per_s"),
    ("link, one per call (edges/s = audit events/s)", "single_edges_per_s"),
    ("link_many x{batch} (edges/s)", "batched_edges_per_s"),
    ("link_many x{batch} (audit events/s)", "batched_events_per_s"),
    ("audit verify (entries/s)", "verify_entries_per_s"),
]


def metadata_table(result: MetadataResult) -> Table:
    """Rows are measures, columns are backends, then PG/SQLite and HTTP/SQLite ratios."""
    params = result.params
    table = Table(
        title=f"Metadata writes ({params.single_calls:,} single calls, "
        f"{params.batched_edges:,} batched edges; higher is better)",
        caption=_metadata_caption(result),
    )
    table.add_column("measure")
    for key, label in LABELS.items():
        table.add_column(label if result.get(key) else f"{label} (skipped)", justify="right")
    table.add_column("PG / SQLite", justify="right")
    table.add_column("HTTP / SQLite", justify="right")
    for label, key in _METADATA_ROWS:
        table.add_row(label.format(batch=params.batch_size), *_metadata_cells(result, key))
    table.add_row("batching gain (batched / single edges/s)", *_gain_cells(result))
    table.add_row("link latency p50 / p95 (ms; lower is better)", *_latency_cells(result))
    return table


def _figure(result: MetadataResult, backend: str, key: str) -> float | None:
    found = result.get(backend)
    return found.rates()[key] if found else None


def _over(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _metadata_cells(result: MetadataResult, key: str) -> list[str]:
    values = {b: _figure(result, b, key) for b in LABELS}
    return [rate(values[b]) for b in LABELS] + [
        ratio(_over(values["postgres"], values["sqlite"])),
        ratio(_over(values["http"], values["sqlite"])),
    ]


def _gain_cells(result: MetadataResult) -> list[str]:
    batched = {b: _figure(result, b, "batched_edges_per_s") for b in LABELS}
    single = {b: _figure(result, b, "single_edges_per_s") for b in LABELS}
    gains = {b: _over(batched[b], single[b]) for b in LABELS}
    return [ratio(gains[b]) for b in LABELS] + ["", ""]


def _latency_cells(result: MetadataResult) -> list[str]:
    cells = []
    for backend in LABELS:
        found = result.get(backend)
        ms = found.single_latency_ms if found else None
        cells.append(f"{ms['p50']:.1f} / {ms['p95']:.1f}" if ms else "-")
    return [*cells, "", ""]


def _metadata_caption(result: MetadataResult) -> str:
    chain = ", ".join(
        f"{b.backend}: {b.verify_entries:,} entries {'intact' if b.verify_ok else 'BROKEN'}"
        for b in result.backends
    )
    skipped = "; ".join(f"{k} skipped: {why}" for k, why in result.skipped.items())
    return "Audit chains after the run: " + chain + (f". {skipped}." if skipped else ".")


# --- artifacts -------------------------------------------------------------------------


def artifacts_table(result: ArtifactResult) -> Table:
    size = result.size_bytes / MB
    table = Table(
        title=f"Artifacts: {size:,.0f} MB random file, median of {result.params.rounds} rounds",
        caption=_artifacts_caption(result),
    )
    for name in ("operation", "MB/s", "median s", "x copy time", f"<= {GOAL_TIME_RATIO}x"):
        table.add_column(name, justify="left" if name == "operation" else "right")
    for name in ("x embedded", "baseline RSS MB", "peak RSS MB", "peak - base"):
        table.add_column(name, justify="right")
    table.add_column(f"< {GOAL_PEAK_RSS / MB:.0f} MB", justify="right")
    table.add_column("server peak MB", justify="right")
    for op in result.ops:
        table.add_row(OPERATIONS[op], *_artifact_cells(result, op))
    return table


def _artifact_cells(result: ArtifactResult, op: str) -> list[str]:
    fig = result.figures(op)
    embedded = op.removeprefix("http_")
    versus = (
        fig["median_s"] / result.ops[embedded].median_s
        if op.startswith("http_") and embedded in result.ops
        else None
    )
    return [
        rate(fig["mb_per_s"]),
        f"{fig['median_s']:.2f}",
        ratio(fig["time_vs_copy"]),
        verdict(fig.get("goal_time_met")),
        ratio(versus),
        megabytes(fig["baseline_rss_mb"]),
        megabytes(fig["peak_rss_mb"]),
        megabytes(fig["peak_rss_mb"] - fig["baseline_rss_mb"]),
        verdict(fig.get("goal_memory_met")),
        megabytes(fig["server_peak_rss_mb"]),
    ]


def _artifacts_caption(result: ArtifactResult) -> str:
    return (
        f"{PAGE_CACHE_NOTE} RSS is of a fresh spawn child per operation: baseline after "
        "imports and opening the client, peak = its VmHWM (imports included). "
        "Server peak = the server's VmHWM during that operation."
    )
