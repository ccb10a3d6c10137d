"""Data: CSV to versioned Parquet against plain pyarrow, storage economy, profile speed.

1. **Ingest MB/s.** A Passline ingest streams a CSV (``pyarrow.csv.open_csv``, in blocks
   that ``FileConnector`` sizes from the memory budget), writes one zstd Parquet part into
   the content-addressed store while hashing it, and profiles (KLL, HyperLogLog, moments,
   top-k) and scans for PII in the same pass. The floor is what one would write by hand:
   ``pyarrow.csv.read_csv``, then ``pyarrow.parquet.write_table(compression="zstd")``. Both
   run in fresh ``spawn`` children (so each ``VmHWM`` is its own) and alternate over the
   rounds; the medians are compared, as CSV MB/s. Then one more child runs the ingest's own
   write path (``write_part`` with the profile and the PII scan observing) over the first
   100 MB and times each stage on its own, to show where the time goes.
2. **Storage economy.** Re-ingesting the unchanged file must store nothing new, and appending
   1% new rows must store about 1% of the first version's bytes. Measured on disk (the store
   before and after) as well as from what the version reports.
3. **Profile speed.** ``DatasetProfile`` over 64k-row batches of an in-memory table, then
   ``summary()``, against pandas' ``describe(include="all")`` plus ``value_counts()`` of every
   column, on a DataFrame built once outside the timing.

The CSV is sales-like (12 columns: ids, a date, a timestamp with gaps, prices, low- and
high-cardinality text including an email per customer), generated with NumPy and Arrow in
chunks, written once to ``bench/.data/`` and reused.
"""

from __future__ import annotations

import gc
import json
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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.console import Console
from rich.markup import escape

from bench.artifacts import MB, _peak_rss, _rss_now, _ru_maxrss, read_through, schedule
from bench.workspaces import DATA_DIR, local_client, settings_for

__all__ = ["FULL", "QUICK", "DataParams", "DataResult", "run"]

PROJECT = "bench"
DATASET = f"{PROJECT}/sales"
GOAL_INGEST_RATIO = 0.7  # Passline's CSV MB/s at least 0.7x the floor's
GOAL_PROFILE_SPEEDUP = 3.0  # DatasetProfile at least 3x faster than the pandas baseline
APPEND_FRACTION = 0.01  # the appended rows, as a fraction of the first version's rows
GOAL_APPEND_MAX_PCT = 1.5  # appending 1% of the rows may store at most 1.5% of v1's bytes
BREAKDOWN_MB = 100  # CSV the stage breakdown reads (the whole file when smaller)
SALES_FORMAT = 1  # bump when the generator changes, so a cached file is not reused


@dataclass(frozen=True)
class DataParams:
    csv_mb: int
    rounds: int = 3
    memory_budget_mb: int = 256
    profile_rows: int = 1_000_000
    profile_rounds: int = 3
    profile_batch_rows: int = 65_536


FULL = DataParams(csv_mb=1000)
QUICK = DataParams(csv_mb=100, rounds=1, profile_rows=250_000, profile_rounds=1)

# What each timed operation is; the keys are also the JSON keys.
OPERATIONS = {
    "floor": "pyarrow read_csv + write_table zstd (floor)",
    "ingest": "Passline ingest (stream, Parquet, hash, profile, PII)",
}


# --- the sales CSV ---------------------------------------------------------------------

CHUNK_ROWS = 250_000
CUSTOMERS = 2_000_000
PRODUCTS = 50_000
DAY0 = 18_993  # 2022-01-01, in days since the epoch
FIRST_NAMES = (
    "anna bruno chloe david emma felix grace hugo ines jules karen liam maria noah olga "
    "paul quinn rosa sam tara ugo vera will xena yann zoe alice ben clara dan"
).split()
LAST_NAMES = (
    "smith martin garcia muller rossi novak silva kowalski jansen dubois moreau laurent "
    "fischer weber meyer wagner becker schulz hoffmann lopez gonzalez perez sanchez ramirez "
    "torres nguyen tran kim park lee"
).split()
DOMAINS = (
    "example.com mail.example.org shop.example.net corp.example.com inbox.example.fr "
    "post.example.de example.co.uk webmail.example.it"
).split()
CATEGORIES = (
    "grocery electronics clothing home garden toys sports beauty books music office pets "
    "automotive health jewelry shoes baby kitchen tools outdoor games video software crafts"
).split()
REGIONS = "north south east west central north-east south-west islands".split()
CHANNELS = ("web", "store", "app", "phone")
_LIST_PRICES = np.round(np.random.default_rng(7).lognormal(3.0, 0.9, PRODUCTS) + 0.5, 2)


def _zipf_weights(count: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1)
    return weights / weights.sum()


def _pick(values: list[str] | tuple[str, ...], rng: np.random.Generator, rows: int) -> pa.Array:
    """Low-cardinality text: a few values, the first ones far more frequent (Zipf-like)."""
    index = rng.choice(len(values), size=rows, p=_zipf_weights(len(values)))
    return pa.array(values).take(pa.array(index))


def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def sales_chunk(first_id: int, rows: int, seed: int) -> pa.Table:
    """``rows`` orders from ``first_id`` on, vectorised (no Python loop over rows)."""
    rng = np.random.default_rng(seed)
    days = DAY0 + rng.integers(0, 4 * 365, rows)
    shipped = days * 86_400 + rng.integers(3_600, 10 * 86_400, rows)
    customer = rng.integers(1, CUSTOMERS + 1, rows)
    product = rng.integers(0, PRODUCTS, rows)
    quantity = 1 + rng.poisson(1.2, rows)
    price = _LIST_PRICES[product]
    discount = rng.choice([0.0, 0.05, 0.1, 0.2], size=rows, p=[0.7, 0.1, 0.1, 0.1])
    email = pc.binary_join_element_wise(
        pa.array(FIRST_NAMES).take(pa.array(customer % len(FIRST_NAMES))),
        ".",
        pa.array(LAST_NAMES).take(pa.array(customer // len(FIRST_NAMES) % len(LAST_NAMES))),
        _text(customer),
        "@",
        pa.array(DOMAINS).take(pa.array(customer * 7 % len(DOMAINS))),
        "",
    )
    return pa.table(
        {
            "order_id": np.arange(first_id, first_id + rows, dtype=np.int64),
            "order_date": pa.array(days.astype(np.int32)).cast(pa.date32()),
            # 3% not shipped yet: empty fields in the CSV
            "shipped_at": pa.array(shipped, pa.timestamp("s"), mask=rng.random(rows) < 0.03),
            "customer_id": customer,
            "customer_email": email,
            "sku": pc.binary_join_element_wise("SKU-", pc.utf8_lpad(_text(product), 6, "0"), ""),
            "category": _pick(CATEGORIES, rng, rows),
            "region": _pick(REGIONS, rng, rows),
            "channel": _pick(CHANNELS, rng, rows),
            "quantity": quantity,
            "unit_price": price,
            "total": np.round(quantity * price * (1 - discount), 2),
        }
    )


@dataclass(frozen=True)
class SalesFiles:
    """The main CSV and the 1% of new rows to append, with their row counts."""

    main: Path
    extra: Path
    rows: int
    extra_rows: int
    columns: int

    @property
    def bytes(self) -> int:
        return self.main.stat().st_size


def sales_files(size_mb: int) -> SalesFiles:
    """The CSVs, generated once (a few seconds per 100 MB) and reused by later runs."""
    main = DATA_DIR / f"sales-v{SALES_FORMAT}-{size_mb}MB.csv"
    extra = main.with_name(main.stem + "-append.csv")
    meta = main.with_suffix(".json")
    if main.exists() and extra.exists() and meta.exists():
        return SalesFiles(main, extra, **json.loads(meta.read_text()))
    main.parent.mkdir(parents=True, exist_ok=True)
    first = sales_chunk(1, CHUNK_ROWS, seed=0)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(first, sink, _WRITE_OPTIONS)
    rows = round(size_mb * MB / (sink.getvalue().size / CHUNK_ROWS))
    extra_rows = round(rows * APPEND_FRACTION)
    _write_csv(main, first_id=1, rows=rows, seed=0)
    # New orders: ids after the main file's, other random draws, the same columns.
    _write_csv(extra, first_id=rows + 1, rows=extra_rows, seed=1_000_000)
    meta.write_text(
        json.dumps({"rows": rows, "extra_rows": extra_rows, "columns": first.num_columns})
    )
    return SalesFiles(main, extra, rows, extra_rows, first.num_columns)


# No quotes (no value holds a comma or a quote), as most exports write such data; Arrow
# would otherwise quote every text value ("needed" does too).
_WRITE_OPTIONS = pacsv.WriteOptions(quoting_style="none")


def _write_csv(path: Path, first_id: int, rows: int, seed: int) -> None:
    tmp = path.with_suffix(".tmp")
    writer: pacsv.CSVWriter | None = None
    try:
        for number, start in enumerate(range(0, rows, CHUNK_ROWS)):
            chunk = sales_chunk(first_id + start, min(CHUNK_ROWS, rows - start), seed + number)
            writer = writer or pacsv.CSVWriter(str(tmp), chunk.schema, write_options=_WRITE_OPTIONS)
            writer.write_table(chunk)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)


# --- what runs in the child process ----------------------------------------------------


def _prepare_floor(src: str, dst: str) -> Callable[[], dict[str, Any]]:
    def action() -> dict[str, Any]:
        start = time.perf_counter()
        table = pacsv.read_csv(src)
        read_s = time.perf_counter() - start
        pq.write_table(table, dst, compression="zstd")
        return {
            "rows": table.num_rows,
            "parquet_bytes": Path(dst).stat().st_size,
            "stages": {"read_csv": read_s, "write_table": time.perf_counter() - start - read_s},
        }

    return action


def _prepare_ingest(
    home: str, src: str, budget_mb: int, mode: str, column_types: dict[str, str]
) -> Callable[[], dict[str, Any]]:
    # Imported here: the floor's child never needs them (its peak is then its own).
    from passline.data.connectors import FileConnector
    from passline.services.ingest import IngestOptions
    from passline.services.workspace import Workspace
    from passline.settings import Settings

    workspace = Workspace.open(Settings(home=Path(home), memory_budget_mb=budget_mb))
    services = workspace.services(workspace.local_context("sdk"))
    connector = FileConnector(src, column_types=column_types, settings=workspace.settings)
    options = IngestOptions(mode=mode)  # type: ignore[arg-type]

    def action() -> dict[str, Any]:
        version = services.ingest.ingest(DATASET, connector, options)
        return {
            "version": version.id,
            "number": version.number,
            "rows": version.rows,
            "bytes": version.bytes,
            "new_bytes": version.new_bytes,
            "unchanged": version.unchanged,
            "batch_bytes": connector.batch_bytes,
            "pii_tags": {
                c: f["tags"] for c, f in version.pii.get("columns", {}).items() if f["tags"]
            },
        }

    return action


class _Timed:
    """An observer of ``write_part`` that adds the seconds its inner observer takes."""

    def __init__(self, inner: Any, stages: dict[str, float], stage: str) -> None:
        self.inner, self.stages, self.stage = inner, stages, stage

    def update(self, batch: pa.RecordBatch) -> None:
        start = time.perf_counter()
        self.inner.update(batch)
        self.stages[self.stage] += time.perf_counter() - start


def _prepare_breakdown(
    home: str, src: str, budget_mb: int, column_types: dict[str, str], max_rows: int
) -> Callable[[], dict[str, Any]]:
    """The ingest's own write path (``write_part`` with a profile and a PII scan observing),
    over the first ``max_rows`` rows, with each stage timed on its own."""
    from passline.data.connectors import FileConnector
    from passline.data.parts import write_part
    from passline.data.pii import PiiScanner
    from passline.data.profile import DatasetProfile
    from passline.services.workspace import Workspace
    from passline.settings import Settings

    workspace = Workspace.open(Settings(home=Path(home), memory_budget_mb=budget_mb))
    connector = FileConnector(src, column_types=column_types, settings=workspace.settings)
    stages = dict.fromkeys(("parse", "profile", "pii", "finish"), 0.0)
    observers: dict[str, Any] = {}

    def batches() -> Any:
        reader, rows = connector.batches(), 0
        while rows < max_rows:
            start = time.perf_counter()
            batch = next(reader, None)
            stages["parse"] += time.perf_counter() - start
            if batch is None:
                return
            rows += batch.num_rows
            yield batch

    def on_schema(schema: pa.Schema) -> list[Any]:
        observers["profile"] = DatasetProfile.for_schema(schema)
        observers["pii"] = PiiScanner()
        return [_Timed(observers[k], stages, k) for k in ("profile", "pii")]

    def action() -> dict[str, Any]:
        start = time.perf_counter()
        part, _ = write_part(batches(), workspace.blobs, on_schema=on_schema)
        total = time.perf_counter() - start
        start = time.perf_counter()
        json.dumps(observers["profile"].to_dict())  # what the ingest stores at the end
        observers["pii"].result()
        stages["finish"] = time.perf_counter() - start
        # Everything else in write_part: Parquet encoding, spool write, SHA-256, fsync.
        stages["parquet_hash_write"] = total - stages["parse"] - stages["profile"] - stages["pii"]
        return {"rows": part.rows, "parquet_bytes": part.bytes, "stages": stages}

    return action


_PREPARE: dict[str, Callable[..., Callable[[], dict[str, Any]]]] = {
    "floor": _prepare_floor,
    "ingest": _prepare_ingest,
    "breakdown": _prepare_breakdown,
}


def child_main(op: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Set up one operation, then time it; memory is read in this (fresh) process."""
    action = _PREPARE[op](**kwargs)
    baseline = _rss_now()
    start = time.perf_counter()
    returned = action()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "baseline_rss": baseline,
        "peak_rss": _peak_rss(),
        "ru_maxrss": _ru_maxrss(),
        **returned,
    }


def in_fresh_child(op: str, **kwargs: Any) -> dict[str, Any]:
    # spawn, not fork: a forked child would inherit the parent's pages and high-water mark.
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(child_main, op, kwargs).result()


# --- results ---------------------------------------------------------------------------


@dataclass
class OpResult:
    op: str
    samples: list[dict[str, Any]] = field(default_factory=list)

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
class EconomyStep:
    """One ingest into the kept workspace: what the version says and what the disk says."""

    step: str
    sample: dict[str, Any]
    stored_growth: int  # bytes the blob store grew by (Parquet part and profile JSON)


@dataclass
class ProfileResult:
    rows: int
    columns: int
    batch_rows: int
    kinds: dict[str, int]
    passline_s: list[float] = field(default_factory=list)
    pandas_s: list[float] = field(default_factory=list)
    order: list[list[str]] = field(default_factory=list)

    @property
    def speedup(self) -> float:
        return statistics.median(self.pandas_s) / statistics.median(self.passline_s)

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "passline_median_s": statistics.median(self.passline_s),
            "pandas_median_s": statistics.median(self.pandas_s),
            "speedup": self.speedup,
            "goal_met": self.speedup >= GOAL_PROFILE_SPEEDUP,
        }


@dataclass
class DataResult:
    params: DataParams
    files: SalesFiles
    warm_read_s: float
    ops: dict[str, OpResult] = field(default_factory=dict)
    order: list[list[str]] = field(default_factory=list)
    economy: list[EconomyStep] = field(default_factory=list)
    profile: ProfileResult | None = None
    column_types: dict[str, str] = field(default_factory=dict)  # declared to the ingest
    breakdown: dict[str, Any] | None = None  # stage seconds of one timed write_part
    workarounds: list[str] = field(default_factory=list)

    @property
    def csv_bytes(self) -> int:
        return self.files.bytes

    def figures(self, op: str) -> dict[str, Any]:
        """CSV MB/s, ratio to the floor and memory, for one operation."""
        result = self.ops[op]
        mb_per_s = self.csv_bytes / MB / result.median_s
        floor = self.csv_bytes / MB / self.ops["floor"].median_s
        growth = result.peak_rss - result.baseline_rss
        figures: dict[str, Any] = {
            "median_s": result.median_s,
            "mb_per_s": mb_per_s,
            "vs_floor": mb_per_s / floor,
            "parquet_mb": _parquet_bytes(result.samples[0]) / MB,
            "baseline_rss_mb": result.baseline_rss / MB,
            "peak_rss_mb": result.peak_rss / MB,
            "peak_minus_base_mb": growth / MB,
            "peak_minus_base_vs_csv": growth / self.csv_bytes,
        }
        if op == "ingest":
            figures["goal_speed_met"] = mb_per_s / floor >= GOAL_INGEST_RATIO
            figures["goal_memory_met"] = growth <= self.params.memory_budget_mb * 2**20
        return figures

    def economy_figures(self) -> dict[str, dict[str, Any]]:
        first = self.ops["ingest"].samples[0]
        out: dict[str, dict[str, Any]] = {}
        for step in self.economy:
            reported = step.sample["new_bytes"]
            entry = {
                "rows": step.sample["rows"],
                "seconds": step.sample["seconds"],
                "unchanged": step.sample["unchanged"],
                "reported_new_bytes": reported,
                "stored_growth_bytes": step.stored_growth,
                "reported_pct_of_v1": 100 * reported / first["bytes"],
                "stored_pct_of_v1": 100 * step.stored_growth / first["bytes"],
            }
            if step.step == "reingest":
                entry["goal_unchanged_met"] = bool(step.sample["unchanged"])
                entry["goal_nothing_stored_met"] = step.stored_growth == 0
                entry["goal_reported_zero_met"] = reported == 0
            else:
                entry["expected_rows"] = first["rows"] + self.files.extra_rows
                entry["goal_rows_met"] = step.sample["rows"] == entry["expected_rows"]
                entry["goal_stored_met"] = entry["stored_pct_of_v1"] <= GOAL_APPEND_MAX_PCT
                entry["goal_reported_met"] = entry["reported_pct_of_v1"] <= GOAL_APPEND_MAX_PCT
            out[step.step] = entry
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "params": asdict(self.params),
            "csv": {
                "path": self.files.main.name,
                "bytes": self.csv_bytes,
                "rows": self.files.rows,
                "columns": self.files.columns,
                "append_rows": self.files.extra_rows,
                "append_bytes": self.files.extra.stat().st_size,
            },
            "warm_read_s": self.warm_read_s,
            "column_types": self.column_types,
            "workarounds": self.workarounds,
            "goals": {
                "ingest_vs_floor_min": GOAL_INGEST_RATIO,
                "ingest_peak_minus_base_max_mb": self.params.memory_budget_mb * 2**20 / MB,
                "append_new_bytes_max_pct": GOAL_APPEND_MAX_PCT,
                "profile_speedup_min": GOAL_PROFILE_SPEEDUP,
            },
            "order": self.order,
            "ops": {op: {"figures": self.figures(op), **asdict(r)} for op, r in self.ops.items()},
            "economy": {
                "figures": self.economy_figures(),
                "steps": [asdict(s) for s in self.economy],
            },
            "breakdown": self.breakdown,
            "profile": self.profile.to_json() if self.profile else None,
            "page_cache_note": PAGE_CACHE_NOTE,
        }


def _parquet_bytes(sample: dict[str, Any]) -> int:
    return int(sample.get("parquet_bytes") or sample["bytes"])


PAGE_CACHE_NOTE = (
    "The page cache cannot be dropped here: the CSV is read once before timing and is "
    "probably served from memory, so the figures compare parsing, encoding, hashing, "
    "profiling and writing. The floor uses read_csv's default threads and does not fsync; "
    "the ingest parses serially (for line numbers) and fsyncs its part."
)


# --- ingest and storage economy --------------------------------------------------------


def stored_bytes(home: Path) -> int:
    """Bytes in a workspace's blob store (Parquet parts, profiles), from the disk."""
    root = Path(settings_for(home).resolved_artifact_root) / "sha256"
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def new_home(home: Path) -> Path:
    home.mkdir(parents=True)
    with local_client(settings_for(home)) as client:
        client.create_project(PROJECT, "benchmark scratch project")
    return home


def _ingest_args(result: DataResult, home: Path, src: str, mode: str) -> dict[str, Any]:
    return {
        "home": str(home),
        "src": src,
        "budget_mb": result.params.memory_budget_mb,
        "mode": mode,
        "column_types": result.column_types,
    }


def profile_takes_dates() -> bool:
    """Whether ``DatasetProfile`` accepts a date32 column (it raised on 2026-11-30)."""
    from passline.data.profile import DatasetProfile

    batch = pa.record_batch({"day": pa.array([0, None], pa.int32()).cast(pa.date32())})
    try:
        DatasetProfile.for_schema(batch.schema).update(batch)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return False
    return True


DATE_WORKAROUND = (
    "DatasetProfile fails on date32 columns (hll.hash_array casts them to int64, which Arrow "
    "refuses), so any CSV with a YYYY-MM-DD column fails to ingest; the ingest reads "
    "order_date as timestamp[s] instead (column_types). The floor infers date32."
)


def measure_ingest(result: DataResult, workdir: Path, console: Console) -> Path:
    """Floor and ingest in alternating order; returns the first ingest's workspace."""
    src = str(result.files.main)
    result.ops = {op: OpResult(op) for op in OPERATIONS}
    result.order = schedule(list(OPERATIONS), result.params.rounds)
    kept: Path | None = None
    for number, order in enumerate(result.order, start=1):
        console.log(f"data: round {number}/{len(result.order)}: {', '.join(order)}")
        for op in order:
            if op == "floor":
                dst = workdir / "floor.parquet"
                sample = in_fresh_child("floor", src=src, dst=str(dst))
                dst.unlink(missing_ok=True)
            else:
                home = new_home(workdir / f"ingest-{number}")
                sample = in_fresh_child("ingest", **_ingest_args(result, home, src, "replace"))
                sample["stored_bytes"] = stored_bytes(home)
                if kept is None:
                    kept = home
                else:
                    shutil.rmtree(home, ignore_errors=True)
            result.ops[op].samples.append(sample)
    assert kept is not None
    return kept


def measure_economy(result: DataResult, home: Path, console: Console) -> None:
    """Re-ingest the same file, then append 1% new rows, into the first round's workspace."""
    steps = [("reingest", result.files.main, "replace"), ("append", result.files.extra, "append")]
    for step, src, mode in steps:
        console.log(f"data: storage economy: {step} ({src.name}, mode {mode})")
        before = stored_bytes(home)
        sample = in_fresh_child("ingest", **_ingest_args(result, home, str(src), mode))
        result.economy.append(EconomyStep(step, sample, stored_bytes(home) - before))


def measure_breakdown(result: DataResult, workdir: Path, console: Console) -> None:
    """Where an ingest's time goes, on the first BREAKDOWN_MB of the CSV, in a fresh child."""
    files = result.files
    max_rows = min(files.rows, round(files.rows * BREAKDOWN_MB * MB / files.bytes))
    console.log(f"data: stage breakdown over the first {max_rows:,} rows")
    home = workdir / "breakdown"
    home.mkdir()
    result.breakdown = in_fresh_child(
        "breakdown",
        home=str(home),
        src=str(files.main),
        budget_mb=result.params.memory_budget_mb,
        column_types=result.column_types,
        max_rows=max_rows,
    )
    result.breakdown["csv_bytes"] = round(files.bytes * result.breakdown["rows"] / files.rows)


# --- profile speed ---------------------------------------------------------------------

PROFILE_KINDS = {  # column group -> how many columns, 25 in all
    "float": 8,
    "int": 7,
    "low_cardinality_text": 5,
    "high_cardinality_text": 3,
    "boolean": 1,
    "timestamp": 1,
}


def _hex_tokens(rng: np.random.Generator, rows: int, width: int = 16) -> pa.Array:
    """Random hex strings (all distinct in practice), built on one byte buffer."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[rng.integers(0, 16, rows * width)]
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(digits))


def profile_table(rows: int, seed: int = 42) -> pa.Table:
    """``rows`` x 25 columns: 15 numbers, 8 text (5 low, 3 high cardinality), bool, time."""
    rng = np.random.default_rng(seed)
    gaps = rng.random(rows) < 0.02  # 2% nulls in some columns
    columns: dict[str, Any] = {
        "f_normal": rng.normal(100, 15, rows),
        "f_lognormal": rng.lognormal(3, 1, rows),
        "f_uniform": rng.random(rows),
        "f_exponential": rng.exponential(2.0, rows),
        "f_price": np.round(rng.lognormal(3, 0.9, rows), 2),
        "f_ratio_nulls": pa.array(rng.beta(2, 5, rows), mask=gaps),
        "f_score": np.round(rng.normal(0, 1, rows), 3),
        "f_bimodal": np.where(
            rng.random(rows) < 0.5, rng.normal(-3, 1, rows), rng.normal(3, 1, rows)
        ),
        "i_id": rng.permutation(rows).astype(np.int64),
        "i_small": rng.integers(0, 10, rows),
        "i_poisson": rng.poisson(3, rows),
        "i_age": rng.integers(18, 90, rows),
        "i_year": rng.integers(1990, 2026, rows),
        "i_large": rng.integers(0, 10**12, rows),
        "i_count_nulls": pa.array(rng.poisson(20, rows), mask=gaps),
    }
    for name, count in (
        ("s_status", 3),
        ("s_country", 8),
        ("s_segment", 12),
        ("s_city", 50),
        ("s_store", 200),
    ):
        labels = [f"{name[2:]}_{i:03d}" for i in range(count)]
        columns[name] = _pick(labels, rng, rows)
    user = rng.integers(0, rows, rows)
    columns["s_user"] = pc.binary_join_element_wise("user-", _text(user), "")
    columns["s_email"] = pc.binary_join_element_wise("u", _text(user), "@example.com", "")
    columns["s_token"] = _hex_tokens(rng, rows)
    columns["b_flag"] = rng.random(rows) < 0.3
    seconds = 1_700_000_000 + rng.integers(0, 365 * 86_400, rows)
    columns["t_event"] = pa.array(seconds * 1_000_000, pa.timestamp("us"))
    return pa.table(columns)


def passline_profile(table: pa.Table, batch_rows: int) -> dict[str, Any]:
    from passline.data.profile import DatasetProfile

    profile = DatasetProfile.for_schema(table.schema)
    for batch in table.to_batches(max_chunksize=batch_rows):
        profile.update(batch)
    return profile.summary()


def pandas_profile(frame: Any) -> tuple[Any, dict[str, Any]]:
    """The familiar baseline: describe everything, then count every column's values."""
    return frame.describe(include="all"), {c: frame[c].value_counts() for c in frame.columns}


def measure_profile(params: DataParams, console: Console) -> ProfileResult:
    console.log(f"data: profile speed on {params.profile_rows:,} rows x 25 columns")
    table = profile_table(params.profile_rows)
    frame = table.to_pandas()  # once, outside the timing
    result = ProfileResult(
        rows=table.num_rows,
        columns=table.num_columns,
        batch_rows=params.profile_batch_rows,
        kinds=dict(PROFILE_KINDS),
    )
    actions = {
        "passline": (lambda: passline_profile(table, params.profile_batch_rows), result.passline_s),
        "pandas": (lambda: pandas_profile(frame), result.pandas_s),
    }
    result.order = schedule(list(actions), params.profile_rounds)
    for order in result.order:
        for name in order:
            action, seconds = actions[name]
            gc.collect()
            start = time.perf_counter()
            action()
            seconds.append(time.perf_counter() - start)
    return result


# --- the run ---------------------------------------------------------------------------


def run(params: DataParams, console: Console) -> DataResult:
    console.log(f"data: preparing a {params.csv_mb} MB sales CSV (cached in {DATA_DIR.name}/)")
    files = sales_files(params.csv_mb)
    workdir = DATA_DIR / f"data-{secrets.token_hex(3)}"
    workdir.mkdir(parents=True)
    try:
        result = DataResult(params, files, warm_read_s=read_through(files.main))
        if not profile_takes_dates():
            console.log(f"data: [yellow]workaround[/yellow]: {escape(DATE_WORKAROUND)}")
            result.column_types = {"order_date": "timestamp[s]"}
            result.workarounds.append(DATE_WORKAROUND)
        kept = measure_ingest(result, workdir, console)
        measure_economy(result, kept, console)
        measure_breakdown(result, workdir, console)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result.profile = measure_profile(params, console)
    return result
