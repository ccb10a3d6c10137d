"""Drift: Passline's ``drift_report`` against Evidently's ``DataDriftPreset`` on the same data.

A reference and a current frame (1M rows x 25 columns: 20 numeric, 5 categorical; 100k with
``--quick``) are generated once with seeded NumPy and written as Parquet under
``bench/.data/``; every side reads the same two files. Each measurement is a fresh process
(``bench/drift_child.py``), so its memory figures are its own:

- Evidently 0.7: ``Report([DataDriftPreset()]).run(current, reference)`` on pandas frames from
  ``pd.read_parquet``, in ``bench/.venv-peers`` (never imported into Passline's venv);
- Passline (a) exact: ``drift_report(ref_table, cur_table)`` on Arrow tables from
  ``pq.read_table``;
- Passline (b) from profiles: the reference's profile built once and stored as JSON (as an
  ingest stores it; its build is reported apart), then per run: read it, profile the current
  file in a stream (``FileConnector``, as ``drift_of_file`` does), ``drift_report``;
- Passline (c) workspace: both files ingested as dataset versions (reported apart), then
  ``services.drift.compare("bench/reference@v1", "bench/current@v1")``.

Time: the run, without imports or loading the files (the load is reported apart); Passline's
paths are the median of ``rounds`` runs in their process, Evidently's its single run (it
takes minutes). Memory: the child's ``VmHWM`` minus its own baseline after imports. The
statistics of the columns where both tools chose the same test are compared one by one.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table

from bench.report import megabytes, ratio, verdict
from bench.workspaces import DATA_DIR

__all__ = ["FULL", "QUICK", "DriftParams", "DriftResult", "drift_tables", "run", "run_benchmark"]

CHILD = Path(__file__).with_name("drift_child.py")
MB = 2**20
GOAL_SPEEDUP = 10.0  # Evidently's run seconds over Passline's, each path
GOAL_MEMORY_SHARE = 1 / 3  # Passline's peak - baseline at most a third of Evidently's
EQUAL_TOLERANCE = 1e-9  # the same statistic from both tools may differ by this much
DATA_FORMAT = 1  # bump when the generator changes, so cached files are not reused
ROW_GROUP_ROWS = 131_072
_CHILD_TIMEOUT_S = 3600


@dataclass(frozen=True)
class DriftParams:
    rows: int  # per side
    rounds: int = 3  # Passline runs per path (Evidently runs once)
    evidently_rounds: int = 1
    workspace: bool = True  # path (c): ingest both files, then drift.compare
    seed: int = 20261130


FULL = DriftParams(rows=1_000_000)
QUICK = DriftParams(rows=100_000)

# --- the data ----------------------------------------------------------------------------------

# 20 numeric columns: (distribution, current's mean shift in reference SDs, 1% nulls). Ten do
# not move; three move by less than Evidently's 0.1 threshold; the integer columns are
# Poisson(30) counts (about 50 distinct values, so still "numeric" for both tools).
NUMERIC = {
    "n00": ("normal", 0.0, False),
    "n01": ("lognormal", 0.3, False),
    "n02": ("uniform", 0.0, False),
    "n03": ("exponential", 0.05, True),
    "n04": ("gamma", 0.0, False),
    "n05": ("integer", 0.15, False),
    "n06": ("normal", 0.0, False),
    "n07": ("lognormal", 0.5, False),
    "n08": ("uniform", 0.0, True),
    "n09": ("exponential", 0.08, False),
    "n10": ("gamma", 0.0, False),
    "n11": ("integer", 1.0, False),
    "n12": ("normal", 0.0, False),
    "n13": ("lognormal", 0.12, False),
    "n14": ("uniform", 0.0, False),
    "n15": ("exponential", 0.02, False),
    "n16": ("gamma", 0.0, False),
    "n17": ("integer", 0.25, False),
    "n18": ("normal", 0.0, False),
    "n19": ("lognormal", 0.6, False),
}
# 5 categorical columns: (distinct values, current's shares shifted, 1% nulls). Shares are
# Zipf-like; a shifted column's current share of each value is half its own, half the
# previous value's. c4 has more values than a profile batch keeps exactly (200).
CATEGORICAL = {
    "c0": (2, False, False),
    "c1": (4, True, False),
    "c2": (12, False, True),
    "c3": (50, True, False),
    "c4": (300, True, False),
}
NULL_SHARE = 0.01


@dataclass(frozen=True)
class DriftFiles:
    reference: Path
    current: Path
    rows: int

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": str(self.reference.relative_to(DATA_DIR.parent.parent)),
            "current": str(self.current.relative_to(DATA_DIR.parent.parent)),
            "rows": self.rows,
            "reference_bytes": self.reference.stat().st_size,
            "current_bytes": self.current.stat().st_size,
            "row_group_rows": ROW_GROUP_ROWS,
        }


def drift_files(params: DriftParams, console: Console) -> DriftFiles:
    """The two Parquet files, generated once per size and seed, then reused."""
    folder = DATA_DIR / f"drift-{params.rows}-s{params.seed}-f{DATA_FORMAT}"
    files = DriftFiles(folder / "reference.parquet", folder / "current.parquet", params.rows)
    if files.reference.exists() and files.current.exists():
        return files
    console.log(f"drift: generating {params.rows:,} rows x 25 columns per side in {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    for side, path in ((0, files.reference), (1, files.current)):
        partial = path.with_suffix(".partial")
        table = drift_table(params.rows, params.seed, current=bool(side))
        pq.write_table(table, partial, row_group_size=ROW_GROUP_ROWS)
        partial.rename(path)
    return files


def drift_table(rows: int, seed: int, current: bool) -> pa.Table:
    """One side's frame; each column has its own seeded stream, so sides and sizes agree."""
    columns: dict[str, pa.Array] = {}
    for number, (name, (kind, shift, nulls)) in enumerate(NUMERIC.items()):
        rng = np.random.default_rng([seed, int(current), number])
        columns[name] = _with_nulls(
            _numbers(kind, shift if current else 0.0, rng, rows), nulls, rng
        )
    for number, (name, (distinct, shifted, nulls)) in enumerate(CATEGORICAL.items()):
        rng = np.random.default_rng([seed, int(current), 100 + number])
        shares = _shares(distinct, shift=current and shifted)
        values = _labels(name, distinct, rng.choice(distinct, rows, p=shares))
        columns[name] = _with_nulls(values, nulls, rng)
    return pa.table(columns)


def _numbers(kind: str, shift: float, rng: np.random.Generator, rows: int) -> pa.Array:
    if kind == "integer":
        return pa.array(rng.poisson(30 + shift * math.sqrt(30), rows).astype(np.int64))
    draw = {
        "normal": lambda: rng.normal(0.0, 1.0, rows),
        "lognormal": lambda: rng.lognormal(0.0, 0.75, rows),
        "uniform": lambda: rng.uniform(0.0, 1.0, rows),
        "exponential": lambda: rng.exponential(1.0, rows),
        "gamma": lambda: rng.gamma(2.0, 1.0, rows),
    }[kind]
    sd = {"normal": 1.0, "lognormal": math.sqrt((math.exp(0.5625) - 1) * math.exp(0.5625))}
    sd |= {"uniform": math.sqrt(1 / 12), "exponential": 1.0, "gamma": math.sqrt(2.0)}
    return pa.array(100.0 + 10.0 * (draw() + shift * sd[kind]))


def _shares(distinct: int, shift: bool) -> np.ndarray:
    """Zipf-like shares (1 / rank); shifted: half its own share, half the previous value's."""
    weights = 1.0 / np.arange(1, distinct + 1)
    weights = weights / weights.sum()
    return (weights + np.roll(weights, 1)) / 2 if shift else weights


def _labels(name: str, distinct: int, codes: np.ndarray) -> pa.Array:
    labels = pa.array([f"{name}_{i}" for i in range(distinct)])
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), labels).cast(
        pa.string()
    )


def _with_nulls(values: pa.Array, nulls: bool, rng: np.random.Generator) -> pa.Array:
    if not nulls:
        return values
    mask = rng.random(len(values)) < NULL_SHARE
    return pa.array(values.to_numpy(zero_copy_only=False), mask=mask, type=values.type)


# --- the children --------------------------------------------------------------------------


def run_child(python: Path | str, op: str, log: Path, **args: Any) -> dict[str, Any]:
    """One op of ``drift_child.py`` in a fresh process of ``python``; its JSON answer.

    ``-P``: the script's folder (``bench/``, whose modules have generic names such as
    ``data`` and ``report``) is not put on ``sys.path``.
    """
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    command = [str(python), "-P", str(CHILD), op, json.dumps(args)]
    with log.open("ab") as err:
        done = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=err, env=env, timeout=_CHILD_TIMEOUT_S
        )
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"drift child {op} failed ({done.returncode}): {_tail(log)}")
    return dict(json.loads(lines[-1]))


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


# --- results -------------------------------------------------------------------------------

PATHS = {  # key -> row label, in table order (the caption says what each runs)
    "evidently": "Evidently DataDriftPreset",
    "passline_exact": "Passline (a) exact, tables",
    "passline_profiles": "Passline (b) stored profiles",
    "passline_workspace": "Passline (c) workspace compare",
}
PASSLINE_PATHS = [k for k in PATHS if k != "evidently"]


@dataclass
class DriftResult:
    params: DriftParams
    files: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference_profile: dict[str, Any] | None = None
    workspace_ingest: dict[str, Any] | None = None
    versions: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def figures(self, path: str) -> dict[str, Any] | None:
        sample = self.paths.get(path)
        if sample is None:
            return None
        memory = sample["memory"]
        run_s, load_s = statistics.median(sample["run_s"]), sample["load_s"]
        out: dict[str, Any] = {
            "load_s": load_s,
            "run_s": run_s,
            "first_run_s": sample["run_s"][0],
            "runs": len(sample["run_s"]),
            "imports_s": sample["imports_s"],
            "baseline_mb": memory["baseline_bytes"] / MB,
            "peak_mb": memory["peak_bytes"] / MB,
            "peak_minus_baseline_mb": (memory["peak_bytes"] - memory["baseline_bytes"]) / MB,
            "run_only_mb": (memory["run_peak_bytes"] - memory["rss_before_run_bytes"]) / MB,
            "peak_reset": memory["peak_reset"],
        }
        theirs = self.paths.get("evidently")
        if path != "evidently" and theirs is not None:
            ev = self.figures("evidently")
            assert ev is not None
            out["speedup"] = ev["run_s"] / run_s
            out["speedup_with_load"] = (ev["run_s"] + ev["load_s"]) / (run_s + load_s)
            out["memory_share"] = out["peak_minus_baseline_mb"] / ev["peak_minus_baseline_mb"]
            out["run_only_share"] = _over(out["run_only_mb"], ev["run_only_mb"])
            out["goal_speed_met"] = out["speedup"] >= GOAL_SPEEDUP
            out["goal_memory_met"] = out["memory_share"] <= GOAL_MEMORY_SHARE
        return out

    def comparison(self) -> dict[str, Any]:
        return compare_statistics(self.paths)

    def to_json(self) -> dict[str, Any]:
        return {
            "params": asdict(self.params),
            "goals": {
                "speedup_min": GOAL_SPEEDUP,
                "memory_share_max": GOAL_MEMORY_SHARE,
                "equal_statistics_tolerance": EQUAL_TOLERANCE,
            },
            "data": {
                "files": self.files,
                "numeric": {k: list(v) for k, v in NUMERIC.items()},
                "categorical": {k: list(v) for k, v in CATEGORICAL.items()},
                "null_share": NULL_SHARE,
            },
            "versions": self.versions,
            "figures": {p: self.figures(p) for p in PATHS if p in self.paths},
            "reference_profile": self.reference_profile,
            "workspace_ingest": self.workspace_ingest,
            "statistics": self.comparison(),
            "paths": self.paths,
            "skipped": self.skipped,
            "notes": self.notes,
        }


def _over(a: float, b: float) -> float | None:
    return a / b if b else None


def compare_statistics(paths: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Column by column: Passline exact against Evidently where both chose the same test,
    and the sketch paths against exact. Evidently's Jensen-Shannon is in natural-log units
    (SciPy's default base), Passline's in bits: ``JS_e = JS_2 * sqrt(ln 2)``."""
    exact = paths.get("passline_exact", {}).get("columns", {})
    theirs = paths.get("evidently", {}).get("columns", {})
    rows = []
    for name, ours in exact.items():
        peer = theirs.get(name)
        row: dict[str, Any] = {"column": name, "kind": _kind(name), "test": ours["test"]}
        row |= {"statistic": ours["statistic"], "drifted": ours["drifted"]}
        for path in ("passline_profiles", "passline_workspace"):
            sketch = paths.get(path, {}).get("columns", {}).get(name)
            if sketch is not None and sketch["test"] == ours["test"]:
                row[f"{path}_statistic"] = sketch["statistic"]
                row[f"{path}_diff"] = abs(sketch["statistic"] - ours["statistic"])
                row[f"{path}_drifted"] = sketch["drifted"]
        if peer is not None:
            natural = _natural_units(ours["test"], ours["statistic"])
            row |= {
                "evidently_test": peer["test"],
                "same_test": peer["test"] == ours["test"],
                "evidently_statistic": peer["statistic"],
                "evidently_drifted": _evidently_drifted(peer),
                "abs_diff": abs(ours["statistic"] - peer["statistic"]),
                "abs_diff_same_units": abs(natural - peer["statistic"]),
            }
        rows.append(row)
    return {"columns": rows, "by_test": _by_test(rows)}


def _kind(name: str) -> str:
    return "numeric" if name in NUMERIC else "categorical"


def _natural_units(test: str, statistic: float) -> float:
    return statistic * math.sqrt(math.log(2)) if test == "jensenshannon" else statistic


def _evidently_drifted(peer: dict[str, Any]) -> bool:
    if peer["test"] in ("ks", "chi2", "ztest"):
        return bool(peer["statistic"] < peer["threshold"])
    return bool(peer["statistic"] >= peer["threshold"])


def _by_test(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for test in sorted({r["test"] for r in rows}):
        mine = [r for r in rows if r["test"] == test]
        same = [r for r in mine if r.get("same_test")]
        summary: dict[str, Any] = {"columns": len(mine), "same_test_as_evidently": len(same)}
        if same:
            summary["max_abs_diff"] = max(r["abs_diff"] for r in same)
            summary["max_abs_diff_same_units"] = max(r["abs_diff_same_units"] for r in same)
            summary["equal"] = summary["max_abs_diff"] <= EQUAL_TOLERANCE
            summary["equal_same_units"] = summary["max_abs_diff_same_units"] <= EQUAL_TOLERANCE
            summary["verdicts_differ"] = [
                r["column"] for r in same if r["drifted"] != r["evidently_drifted"]
            ]
        for path in ("passline_profiles", "passline_workspace"):
            diffs = [r[f"{path}_diff"] for r in mine if f"{path}_diff" in r]
            if diffs:
                summary[f"{path}_max_abs_diff_vs_exact"] = max(diffs)
                summary[f"{path}_verdicts_differ_from_exact"] = [
                    r["column"]
                    for r in mine
                    if r.get(f"{path}_drifted", r["drifted"]) != r["drifted"]
                ]
        out[test] = summary
    return out


# --- the benchmark -------------------------------------------------------------------------


def run_benchmark(quick: bool, console: Console) -> tuple[Group, dict[str, Any]]:
    """The ``python -m bench`` entry: tables and JSON payload of a full or quick run."""
    result = run(QUICK if quick else FULL, console)
    return drift_tables(result), result.to_json()


def run(params: DriftParams, console: Console) -> DriftResult:
    import passline

    result = DriftResult(params, versions={"passline": passline.__version__})
    files = drift_files(params, console)
    result.files = files.to_json()
    workdir = DATA_DIR / f"drift-run-{secrets.token_hex(3)}"
    workdir.mkdir(parents=True)
    log = workdir / "children.log"
    try:
        measure_passline(params, files, workdir, result, console)
        measure_evidently(params, files, log, result, console)
    except Exception:
        console.log(f"drift: a child failed; its stderr: {escape(_tail(log))}")
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result.versions["pyarrow"] = pa.__version__
    result.notes += _notes(result)
    return result


def measure_passline(
    params: DriftParams, files: DriftFiles, workdir: Path, result: DriftResult, console: Console
) -> None:
    log = workdir / "children.log"
    ref, cur = str(files.reference), str(files.current)
    console.log(f"drift: Passline (a) exact, {params.rounds} runs (+1 under cProfile)")
    result.paths["passline_exact"] = run_child(
        sys.executable,
        "passline_exact",
        log,
        reference=ref,
        current=cur,
        rounds=params.rounds,
        profile=True,
    )
    console.log("drift: Passline (b) building the reference profile once, then the runs")
    stored = workdir / "reference-profile.json"
    result.reference_profile = run_child(
        sys.executable, "reference_profile", log, reference=ref, out=str(stored)
    )
    result.paths["passline_profiles"] = run_child(
        sys.executable,
        "passline_profiles",
        log,
        reference_json=str(stored),
        current=cur,
        rounds=params.rounds,
    )
    if not params.workspace:
        result.skipped["passline_workspace"] = "not asked for (DriftParams.workspace)"
        return
    console.log("drift: Passline (c) ingesting both files into a scratch workspace")
    home = workdir / "workspace"
    result.workspace_ingest = run_child(
        sys.executable, "workspace_ingest", log, home=str(home), reference=ref, current=cur
    )
    result.paths["passline_workspace"] = run_child(
        sys.executable, "workspace_compare", log, home=str(home), rounds=params.rounds
    )


def measure_evidently(
    params: DriftParams, files: DriftFiles, log: Path, result: DriftResult, console: Console
) -> None:
    from bench.registry import PEERS_PYTHON, ensure_peers_venv

    try:
        ensure_peers_venv(console)
    except (OSError, subprocess.CalledProcessError) as exc:
        reason = f"the peers' environment could not be made: {exc}"
        console.log(f"drift: Evidently skipped ({reason})")
        result.skipped["evidently"] = reason
        return
    console.log(
        f"drift: Evidently DataDriftPreset, {params.evidently_rounds} run(s) (minutes at 1M rows)"
    )
    answer = run_child(
        PEERS_PYTHON,
        "evidently",
        log,
        reference=str(files.reference),
        current=str(files.current),
        numeric=list(NUMERIC),
        categorical=list(CATEGORICAL),
        rounds=params.evidently_rounds,
    )
    result.paths["evidently"] = answer
    result.versions.update(answer.get("versions", {}))


def _notes(result: DriftResult) -> list[str]:
    notes = [
        "Time excludes imports and loading the files (load_s, reported apart); Passline's "
        f"figure is the median of {result.params.rounds} runs, Evidently's its "
        f"{result.params.evidently_rounds} run(s).",
        "Memory: VmHWM of each fresh child minus its VmHWM after imports (baseline); the "
        "goal compares peak - baseline, which includes the data each side holds in memory.",
        "Evidently's Jensen-Shannon distance uses SciPy's default natural logarithm; "
        "Passline's uses base 2 (docs/monitoring.md), so its value is 1/sqrt(ln 2) = 1.201x "
        "Evidently's on the same counts.",
    ]
    if not all(p["memory"]["peak_reset"] for p in result.paths.values()):
        notes.append("VmHWM could not be reset in some child: its run-only MB includes the load.")
    return notes


# --- tables --------------------------------------------------------------------------------


def drift_tables(result: DriftResult) -> Group:
    parts: list[Table | str] = [_speed_table(result), _statistics_table(result)]
    parts.append(_by_test_table(result))
    if result.skipped:
        skipped = "; ".join(f"{k}: {why}" for k, why in result.skipped.items())
        parts.append(f"[yellow]Skipped[/yellow] {escape(skipped)}")
    figures = [result.figures(p) for p in PASSLINE_PATHS]
    missed = any(f and f.get("goal_speed_met") is False for f in figures)
    profile = result.paths.get("passline_exact", {}).get("profile")
    if missed and profile:
        parts.append(_profile_table(profile))
    return Group(*parts)


def _speed_table(result: DriftResult) -> Table:
    params = result.params
    table = Table(
        title=f"Drift: reference vs current, {params.rows:,} rows x 25 columns (20 numeric, "
        "5 categorical) each, same Parquet files",
        caption=_speed_caption(result),
    )
    headers = ["path", "load s", "run s", "x faster", f">= {GOAL_SPEEDUP:g}x"]
    headers += ["x faster incl. load", "baseline MB", "peak MB", "peak - base MB"]
    headers += ["share of Evidently's", "<= 1/3", "run-only MB", "run-only share"]
    for name in headers:
        table.add_column(name, justify="left" if name == "path" else "right")
    for path, label in PATHS.items():
        fig = result.figures(path)
        if fig is None:
            table.add_row(label, *["-"] * (len(headers) - 1))
            continue
        share = fig.get("memory_share")
        table.add_row(
            label,
            f"{fig['load_s']:.2f}" if fig["load_s"] else "-",
            f"{fig['run_s']:.2f}",
            ratio(fig.get("speedup")),
            verdict(fig.get("goal_speed_met")),
            ratio(fig.get("speedup_with_load")),
            megabytes(fig["baseline_mb"]),
            megabytes(fig["peak_mb"]),
            megabytes(fig["peak_minus_baseline_mb"]),
            "-" if share is None else f"{share:.2f}",
            verdict(fig.get("goal_memory_met")),
            megabytes(fig["run_only_mb"]),
            "-" if fig.get("run_only_share") is None else f"{fig['run_only_share']:.2f}",
        )
    return table


def _speed_caption(result: DriftResult) -> str:
    parts = []
    built = result.reference_profile
    if built:
        memory = built["memory"]
        growth = (memory["peak_bytes"] - memory["baseline_bytes"]) / MB
        parts.append(
            f"(b)'s reference profile, built once from the file in a stream as an ingest "
            f"does: {built['seconds']:.2f} s, {built['json_bytes'] / MB:.2f} MB of JSON, "
            f"peak - base {growth:,.0f} MB."
        )
    if result.workspace_ingest:
        seconds = sum(result.workspace_ingest["ingest_s"].values())
        parts.append(f"(c)'s two ingests (not timed as the run): {seconds:.1f} s.")
    ev = result.paths.get("evidently")
    if ev:
        parts.append(
            f"Imports: Evidently {ev['imports_s']:.1f} s, Passline "
            f"{result.paths['passline_exact']['imports_s']:.1f} s (not timed)."
        )
    parts.append(
        "(a): drift_report on Arrow tables from pq.read_table. (b): per run, read the stored "
        "reference profile, profile the current file in a stream (FileConnector), "
        "drift_report. (c): services.drift.compare of two ingested versions (their stored "
        "profiles). Evidently: Datasets + Report.run (charts included) on frames from "
        "pd.read_parquet. Run s: Passline the median of its runs, Evidently its run. Memory: "
        "the child's VmHWM; baseline = after imports; run-only = the run's peak above its "
        "RSS after loading."
    )
    return " ".join(parts)


def _statistics_table(result: DriftResult) -> Table:
    table = Table(
        title="Statistics, column by column: Passline (a) exact vs Evidently, and the sketch "
        "paths (b) and (c) vs exact",
        caption="JS: Jensen-Shannon distance; Passline's in bits, Evidently's in nats "
        "(SciPy's default); 'same units' converts Passline's with x sqrt(ln 2).",
    )
    headers = ["column", "test (P / E)", "Passline exact", "Evidently", "|diff|"]
    headers += ["|diff| same units", "drifted P / E", "(b) profiles", "(c) workspace"]
    for name in headers:
        table.add_column(name, justify="left" if name in ("column", "test (P / E)") else "right")
    for row in result.comparison()["columns"]:
        tests = f"{row['test']} / {row.get('evidently_test', '-')}"
        table.add_row(
            row["column"],
            tests,
            _num(row["statistic"]),
            _num(row.get("evidently_statistic")),
            _sci(row.get("abs_diff")),
            _sci(row.get("abs_diff_same_units")),
            _yes(row["drifted"]) + " / " + _yes(row.get("evidently_drifted")),
            _num(row.get("passline_profiles_statistic")),
            _num(row.get("passline_workspace_statistic")),
        )
    return table


def _by_test_table(result: DriftResult) -> Table:
    table = Table(
        title="Equal statistics where the tests are the same "
        f"(max |Passline exact - Evidently|, tolerance {EQUAL_TOLERANCE:g})",
        caption="Sketch columns: max |sketch - exact| of paths (b) and (c), and the columns "
        "whose verdict differs from exact's (docs/monitoring.md gives the expected sketch "
        "error). Tests are the same when both tools chose the same statistic for the column.",
    )
    headers = ["test", "columns", "same test", "max |diff|", "equal", "max |diff| same units"]
    headers += ["equal (same units)", "verdicts differ", "(b) vs exact", "(c) vs exact"]
    headers += ["(b), (c) verdicts differ from exact"]
    for name in headers:
        table.add_column(name, justify="left" if name in ("test", "verdicts differ") else "right")
    for test, s in result.comparison()["by_test"].items():
        table.add_row(
            test,
            str(s["columns"]),
            str(s["same_test_as_evidently"]),
            _sci(s.get("max_abs_diff")),
            verdict(s.get("equal")),
            _sci(s.get("max_abs_diff_same_units")),
            verdict(s.get("equal_same_units")),
            ", ".join(s.get("verdicts_differ", [])) or "none",
            _num(s.get("passline_profiles_max_abs_diff_vs_exact")),
            _num(s.get("passline_workspace_max_abs_diff_vs_exact")),
            _differ(s, "passline_profiles") + " / " + _differ(s, "passline_workspace"),
        )
    return table


def _profile_table(profile: dict[str, Any]) -> Table:
    table = Table(
        title=f"Profile of Passline (a) exact, one drift_report ({profile['seconds']:.2f} s "
        "under cProfile)"
    )
    for name in ("view", "function", "calls", "own s", "cumulative s"):
        table.add_column(name, justify="left" if name in ("view", "function") else "right")
    for row in profile["rows"]:
        table.add_row(
            row["view"],
            escape(row["function"]),
            f"{row['calls']:,}",
            f"{row['own_s']:.3f}",
            f"{row['cumulative_s']:.3f}",
        )
    return table


def _differ(summary: dict[str, Any], path: str) -> str:
    columns = summary.get(f"{path}_verdicts_differ_from_exact")
    return "-" if columns is None else ", ".join(columns) or "none"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _sci(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")
