"""Tables for the terminal and JSON files for comparing runs over time.

Each run writes ``bench/results/<UTC timestamp>-<name>.json`` (kept, one per run) and
``bench/results/latest-<name>.json`` (overwritten). A quick run is named ``<name>-quick`` so
it never replaces the latest full figures.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.markup import escape
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
from bench.data import (
    GOAL_APPEND_MAX_PCT,
    GOAL_INGEST_RATIO,
    GOAL_PROFILE_SPEEDUP,
    PROFILE_KINDS,
    DataResult,
)
from bench.data import OPERATIONS as DATA_OPERATIONS
from bench.data import PAGE_CACHE_NOTE as DATA_PAGE_CACHE_NOTE
from bench.metadata import LABELS, MetadataResult

__all__ = ["artifacts_table", "data_tables", "machine_info", "metadata_table", "write_results"]

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


# --- data ------------------------------------------------------------------------------


def data_tables(result: DataResult) -> Group:
    """Ingest against the floor, storage economy and profile speed, one table each."""
    tables: list[Table] = [_ingest_table(result)]
    if result.breakdown is not None:
        tables.append(_breakdown_table(result))
    tables.append(_economy_table(result))
    if result.profile is not None:
        tables.append(_profile_table(result))
    return Group(*tables)


def _ingest_table(result: DataResult) -> Table:
    params, files = result.params, result.files
    block = result.ops["ingest"].samples[0].get("batch_bytes", 0) / 2**20
    table = Table(
        title=f"Data ingest: {result.csv_bytes / MB:,.0f} MB CSV ({files.rows:,} rows x "
        f"{files.columns} columns) to Parquet, median of {params.rounds} rounds; memory "
        f"budget {params.memory_budget_mb} MiB (CSV block {block:g} MiB)",
        caption=_ingest_caption(result),
    )
    for name in ("operation", "CSV MB/s", "median s", "x floor", f">= {GOAL_INGEST_RATIO}x"):
        table.add_column(name, justify="left" if name == "operation" else "right")
    for name in ("Parquet MB", "baseline RSS MB", "peak RSS MB", "peak - base", "x CSV size"):
        table.add_column(name, justify="right")
    table.add_column("<= budget", justify="right")
    for op, label in DATA_OPERATIONS.items():
        fig = result.figures(op)
        table.add_row(
            label,
            rate(fig["mb_per_s"]),
            f"{fig['median_s']:.2f}",
            ratio(fig["vs_floor"]),
            verdict(fig.get("goal_speed_met")),
            megabytes(fig["parquet_mb"]),
            megabytes(fig["baseline_rss_mb"]),
            megabytes(fig["peak_rss_mb"]),
            megabytes(fig["peak_minus_base_mb"]),
            ratio(fig["peak_minus_base_vs_csv"]),
            verdict(fig.get("goal_memory_met")),
        )
    return table


def _ingest_caption(result: DataResult) -> str:
    text = (
        f"{DATA_PAGE_CACHE_NOTE} RSS is of a fresh spawn child per operation: baseline after "
        "imports (and opening the workspace), peak = its VmHWM. Passline's Parquet MB "
        "is the stored part."
    )
    return text + "".join(f" Workaround: {escape(w)}" for w in result.workarounds)


_STAGES = {  # breakdown key -> row label
    "parse": "parse CSV (FileConnector, serial blocks)",
    "parquet_hash_write": "Parquet encode + spool write + SHA-256 + fsync",
    "profile": "profile (DatasetProfile.update)",
    "pii": "PII scan (PiiScanner.update)",
    "finish": "profile to JSON + PII result",
}
_FLOOR_STAGES = {"read_csv": "floor: read_csv (threads)", "write_table": "floor: write_table zstd"}


def _breakdown_table(result: DataResult) -> Table:
    breakdown = result.breakdown
    assert breakdown is not None
    csv_mb = breakdown["csv_bytes"] / MB
    table = Table(
        title=f"Where the time goes: the ingest's write path stage by stage on the first "
        f"{csv_mb:,.0f} MB ({breakdown['rows']:,} rows); floor stages from its rounds",
        caption="CSV MB/s = CSV megabytes / the stage's seconds: a stage slower than the "
        "target rate alone keeps the ingest under it.",
    )
    for name in ("stage", "seconds", "share", "CSV MB/s"):
        table.add_column(name, justify="left" if name == "stage" else "right")
    stages = breakdown["stages"]
    total = sum(stages.values())
    for key, label in _STAGES.items():
        seconds = stages[key]
        table.add_row(label, f"{seconds:.2f}", f"{seconds / total:.0%}", rate(csv_mb / seconds))
    table.add_row("[bold]ingest total[/bold]", f"{total:.2f}", "100%", rate(csv_mb / total))
    target = GOAL_INGEST_RATIO * result.figures("floor")["mb_per_s"]
    table.add_row(f"target: {GOAL_INGEST_RATIO}x the floor", "", "", rate(target))
    floor = result.ops["floor"].samples
    floor_mb = result.csv_bytes / MB
    medians = {k: statistics.median(s["stages"][k] for s in floor) for k in _FLOOR_STAGES}
    for key, label in _FLOOR_STAGES.items():
        share = medians[key] / sum(medians.values())
        table.add_row(label, f"{medians[key]:.2f}", f"{share:.0%}", rate(floor_mb / medians[key]))
    return table


def _economy_table(result: DataResult) -> Table:
    first = result.ops["ingest"].samples[0]
    figures = result.economy_figures()
    table = Table(
        title="Storage economy: into the first round's workspace (v1: "
        f"{first['bytes'] / MB:,.1f} MB Parquet), then re-ingest the same CSV, then append "
        f"{result.files.extra_rows:,} new rows (1%)",
        caption="Reported = the version's new_bytes; disk = growth of the blob store "
        "(Parquet part and profile JSON). % of v1 = bytes / v1's Parquet bytes.",
    )
    for name in ("step", "rows", "seconds", "unchanged", "new_bytes (reported)"):
        table.add_column(name, justify="left" if name == "step" else "right")
    for name in ("stored on disk", "% of v1 (reported / disk)", "goal"):
        table.add_column(name, justify="right")
    table.add_column("reported", justify="right")
    table.add_column("disk", justify="right")
    table.add_row(
        "v1: first ingest (round 1)",
        f"{first['rows']:,}",
        f"{first['seconds']:.2f}",
        "no" if not first["unchanged"] else "yes",
        f"{first['new_bytes']:,}",
        f"{first['stored_bytes']:,}",
        f"{100 * first['new_bytes'] / first['bytes']:.2f}% / "
        f"{100 * first['stored_bytes'] / first['bytes']:.2f}%",
        "-",
        "-",
        "-",
    )
    for step, label, goal in (
        ("reingest", "re-ingest the unchanged CSV", "unchanged, 0 B new"),
        ("append", "append 1% new rows", f"<= {GOAL_APPEND_MAX_PCT}% of v1"),
    ):
        fig = figures.get(step)
        if fig is None:
            continue
        if step == "reingest":
            reported_ok = fig["goal_unchanged_met"] and fig["goal_reported_zero_met"]
            disk_ok = fig["goal_unchanged_met"] and fig["goal_nothing_stored_met"]
        else:
            reported_ok = fig["goal_rows_met"] and fig["goal_reported_met"]
            disk_ok = fig["goal_rows_met"] and fig["goal_stored_met"]
        table.add_row(
            label,
            f"{fig['rows']:,}",
            f"{fig['seconds']:.2f}",
            "yes" if fig["unchanged"] else "no",
            f"{fig['reported_new_bytes']:,}",
            f"{fig['stored_growth_bytes']:,}",
            f"{fig['reported_pct_of_v1']:.2f}% / {fig['stored_pct_of_v1']:.2f}%",
            goal,
            verdict(reported_ok),
            verdict(disk_ok),
        )
    return table


def _profile_table(result: DataResult) -> Table:
    profile = result.profile
    assert profile is not None
    rounds = len(profile.passline_s)
    mix = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in PROFILE_KINDS.items())
    table = Table(
        title=f"Profile: {profile.rows:,} rows x {profile.columns} columns in memory, "
        f"median of {rounds}",
        caption=f"Columns: {mix}. Passline: DatasetProfile.update over "
        f"{profile.batch_rows:,}-row batches, then summary(). pandas: describe(include='all') "
        "and value_counts() of every column, on a DataFrame built before timing.",
    )
    for name in (
        "method",
        "median s",
        "rows/s",
        "speedup vs pandas",
        f">= {GOAL_PROFILE_SPEEDUP:g}x",
    ):
        table.add_column(name, justify="left" if name == "method" else "right")
    pandas_s = statistics.median(profile.pandas_s)
    passline_s = statistics.median(profile.passline_s)
    table.add_row(
        "pandas describe + value_counts (baseline)",
        f"{pandas_s:.2f}",
        rate(profile.rows / pandas_s),
        ratio(1.0),
        "-",
    )
    table.add_row(
        "Passline DatasetProfile + summary",
        f"{passline_s:.2f}",
        rate(profile.rows / passline_s),
        ratio(profile.speedup),
        verdict(profile.speedup >= GOAL_PROFILE_SPEEDUP),
    )
    return table
