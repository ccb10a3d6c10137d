"""Pipelines: the cost of a cached step, and batch scoring locally against Ray.

1. A 20-step chain (each step passes a 1,000-row table on) runs once, then re-runs with
   nothing changed: every step is a cache hit. Reported: milliseconds per step of the
   re-run (the whole overhead: the cache lookup, the step record, the run record, the
   lineage and the tracking run), on SQLite and on PostgreSQL when
   ``PASSLINE_BENCH_POSTGRES_URL`` is set.
2. Batch scoring of a 10M-row dataset version (1M in a quick run; four numeric features, a
   50-tree HistGradientBoostingRegressor) with a registered model: rows/s and peak memory
   (driver, and the largest worker) on the local executor (2 processes) and on a local Ray
   instance with 2 CPUs, each in a fresh process so peaks do not mix; one plain
   ``model.predict`` over the whole table in one process is the baseline.

There is no peer tool for the cached re-run in this machine's registries that runs
offline without a server of its own, so its figure stands alone; Ray is the peer of the
local executor in the scoring run (ratio local / Ray).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table

__all__ = ["run", "run_benchmark"]

CHAIN = 20
RERUNS = 5


def _chain_source(steps: int) -> str:
    lines = [
        "import pyarrow as pa",
        "from passline.pipelines import Dataset, Pipeline, step",
        "",
        "@step",
        "def s0() -> Dataset:",
        "    return pa.table({'x': list(range(1000))})",
    ]
    for i in range(1, steps):
        lines += ["", "@step", f"def s{i}(s{i - 1}: Dataset) -> Dataset:", f"    return s{i - 1}"]
    names = ", ".join(f"s{i}" for i in range(steps))
    lines += ["", f"CHAIN = Pipeline('chain', project='bench', steps=[{names}])"]
    return "\n".join(lines) + "\n"


def _workspace(home: Path, database_url: str | None) -> Any:
    from passline.services.workspace import Workspace
    from passline.settings import Settings

    workspace = Workspace.open(Settings(home=home, database_url=database_url))
    services = workspace.services(workspace.local_context("sdk"))
    services.projects.create("bench")
    return workspace, services


def cached_rerun(folder: Path, database_url: str | None) -> dict[str, Any]:
    from passline.pipelines.loader import load_pipeline
    from passline.pipelines.runner import run_pipeline

    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "chain.py"
    source.write_text(_chain_source(CHAIN))
    workspace, services = _workspace(folder / "home", database_url)
    pipeline = load_pipeline(f"{source}:CHAIN")
    started = time.perf_counter()
    first = run_pipeline(services, pipeline)
    cold_s = time.perf_counter() - started
    assert first.status == "succeeded", first.error
    timings = []
    for _ in range(RERUNS):
        started = time.perf_counter()
        again = run_pipeline(services, pipeline)
        timings.append(time.perf_counter() - started)
        assert again.cache_hits == CHAIN, again.steps
    workspace.close()
    best, median = min(timings), sorted(timings)[len(timings) // 2]
    return {
        "steps": CHAIN,
        "first_run_s": round(cold_s, 2),
        "first_status": first.status,
        "rerun_median_s": round(median, 4),
        "rerun_ms_per_step_median": round(median * 1000 / CHAIN, 2),
        "rerun_ms_per_step_best": round(best * 1000 / CHAIN, 2),
    }


# -- batch scoring --------------------------------------------------------------------------


def _prepare_scoring(home: Path, rows: int) -> None:
    import io
    import pickle

    import numpy as np
    import pyarrow as pa
    from sklearn.ensemble import HistGradientBoostingRegressor

    from passline.data.connectors.memory import TableConnector

    workspace, services = _workspace(home, None)
    rng = np.random.default_rng(0)
    features = {f"f{i}": rng.normal(size=rows) for i in range(4)}
    target = features["f0"] * 3 + np.sin(features["f1"]) + rng.normal(scale=0.1, size=rows)
    table = pa.table({**features, "y": target})
    services.ingest.ingest("bench/big", TableConnector(table, batch_rows=1_000_000))
    sample = table.slice(0, 200_000).to_pandas()
    model = HistGradientBoostingRegressor(max_iter=50, random_state=0)
    model.fit(sample[[f"f{i}" for i in range(4)]], sample["y"])
    tracking = services.tracking
    run = tracking.start_run(tracking.ensure_experiment("bench", "scoring").id)
    tracking.log_input(run.id, "bench/big")
    tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(pickle.dumps(model)))
    tracking.end_run(run.id)
    services.registry.register("bench/scorer", f"runs:/{run.id}/model")
    workspace.close()


def _score_child(home: str, mode: str) -> dict[str, Any]:
    """One scoring mode in this (fresh) process: its figures as JSON on stdout."""
    from passline.pipelines.batch import _peak_mb, score_dataset
    from passline.services.workspace import Workspace
    from passline.settings import Settings

    workspace = Workspace.open(Settings(home=Path(home), ray_num_cpus=2, pipeline_workers=2))
    services = workspace.services(workspace.local_context("sdk"))
    if mode == "in-process":
        model = services.registry.load("bench/scorer", 1)
        started = time.perf_counter()
        frame = services.datasets.read("bench/big").select([f"f{i}" for i in range(4)])
        model.predict(frame.to_pandas())
        seconds = time.perf_counter() - started
        peak = _peak_mb()
        return {
            "rows": frame.num_rows,
            "seconds": round(seconds, 3),
            "rows_per_s": round(frame.num_rows / seconds),
            "peak_rss_mb": {"driver": round(peak, 1), "worker": 0.0},
        }
    if mode == "ray":
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    result = score_dataset(
        services, "bench/big", "bench/scorer@1", executor=mode, chunk_rows=500_000
    )
    result.pop("scores", None)
    return result


def batch_scoring(folder: Path, rows: int, console: Console) -> dict[str, Any]:
    home = folder / "scoring"
    with console.status(f"pipelines: ingesting {rows:,} rows and training the scorer"):
        _prepare_scoring(home, rows)
    figures = {}
    for mode in ("in-process", "local", "ray"):
        with console.status(f"pipelines: batch scoring {rows:,} rows ({mode})"):
            done = subprocess.run(
                [sys.executable, "-m", "bench.pipelines", "child", str(home), mode],
                capture_output=True,
                text=True,
                timeout=1800,
                check=False,
                cwd=Path(__file__).parent.parent,
            )
        if done.returncode != 0:
            figures[mode] = {"error": done.stderr[-2000:]}
            continue
        figures[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    return {"rows": rows, "modes": figures}


def run(quick: bool, console: Console) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="passline-bench-pipelines-") as tmp:
        folder = Path(tmp)
        reruns = {"sqlite": cached_rerun(folder / "sqlite", None)}
        postgres = os.environ.get("PASSLINE_BENCH_POSTGRES_URL")
        if postgres:
            from bench.metadata import fresh_postgres_database

            with fresh_postgres_database(postgres) as url:
                reruns["postgres"] = cached_rerun(folder / "postgres", url)
        scoring = batch_scoring(folder, 1_000_000 if quick else 10_000_000, console)
    local, ray = scoring["modes"].get("local", {}), scoring["modes"].get("ray", {})
    ratio = None
    if local.get("rows_per_s") and ray.get("rows_per_s"):
        ratio = round(local["rows_per_s"] / ray["rows_per_s"], 2)
    return {"cached_rerun": reruns, "batch_scoring": scoring, "local_over_ray": ratio}


def tables(result: dict[str, Any]) -> Group:
    rerun = Table(title=f"Pipelines: a {CHAIN}-step re-run with nothing changed (all cached)")
    for column in ("metadata", "first run s", "re-run s (median)", "ms/step (median)", "best"):
        rerun.add_column(column, justify="right")
    for backend, figures in result["cached_rerun"].items():
        rerun.add_row(
            backend,
            str(figures["first_run_s"]),
            str(figures["rerun_median_s"]),
            str(figures["rerun_ms_per_step_median"]),
            str(figures["rerun_ms_per_step_best"]),
        )
    scoring = result["batch_scoring"]
    score = Table(
        title=f"Batch scoring {scoring['rows']:,} rows (HistGradientBoosting, 4 features)"
    )
    for column in ("executor", "seconds", "rows/s", "driver peak MB", "worker peak MB"):
        score.add_column(column, justify="right")
    for mode, figures in scoring["modes"].items():
        if "error" in figures:
            score.add_row(mode, "error", figures["error"][-60:], "", "")
            continue
        peak = figures["peak_rss_mb"]
        score.add_row(
            mode,
            str(figures["seconds"]),
            f"{figures['rows_per_s']:,}",
            str(peak["driver"]),
            str(peak["worker"]),
        )
    score.caption = f"local / Ray rows/s: {result['local_over_ray']}"
    return Group(rerun, score)


def run_benchmark(quick: bool, console: Console) -> tuple[Group, dict[str, Any]]:
    result = run(quick, console)
    return tables(result), result


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "child":
        print(json.dumps(_score_child(sys.argv[2], sys.argv[3]), default=str))
    else:
        out = Console()
        group, _ = run_benchmark(quick=True, console=out)
        out.print(group)
