"""The pipelines part of ``passline demo``: the retail retraining pipeline.

It runs once: every step runs, a forecast version is registered and released to dev, and
the staging gate refuses it (its MAE on the last eight weeks, the shifted ones, is over the
bound). It runs again: every step cached, nothing registered. Then new weeks of sales
arrive, the drift monitor on the forecast endpoint raises an alert, the alert queues a
run, and the queued run retrains on the new data, within the bound this time, and releases
the new version to dev and to staging through the same gate. Run it yourself on Ray with
``passline pipeline run passline.demo_pipeline:retail_retrain --executor ray``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from passline.demo_models import DEMAND_FEATURES, demand_pipeline
from passline.errors import Conflict, PasslineError
from passline.pipelines import Dataset, Metrics, Model, Pipeline, step
from passline.services.workspace import Services, Workspace

__all__ = ["pipeline_demo", "retail_retrain"]

PROJECT = "retail-demand"
FORECAST = "retail-demand/forecast"
STAGING_GATE = [
    {"type": "training_data_recorded"},
    {"type": "metric", "name": "mae", "op": "<=", "threshold": 45.0},
]


@step
def prepare(sales: Dataset) -> Dataset:
    """The model's columns and the target, without rows that have no units."""
    import pyarrow.compute as pc

    kept = sales.filter(pc.is_valid(sales["units"]))
    return kept.select([*DEMAND_FEATURES, "units"])


@step(retries=1, timeout_s=600)
def train(prepare: Dataset, holdout_weeks: int = 8) -> Model:
    frame = prepare.to_pandas()
    fit = frame[frame["week"] <= frame["week"].max() - holdout_weeks]
    return demand_pipeline().fit(fit[DEMAND_FEATURES], fit["units"])


@step
def evaluate(train: Model, prepare: Dataset, holdout_weeks: int = 8) -> Metrics:
    frame = prepare.to_pandas()
    held = frame[frame["week"] > frame["week"].max() - holdout_weeks]
    errors = abs(train.predict(held[DEMAND_FEATURES]) - held["units"])
    return {"mae": float(errors.mean()), "holdout_rows": len(held)}


retail_retrain = Pipeline(
    "retail-retrain",
    project=PROJECT,
    steps=[prepare, train, evaluate],
    inputs={"sales": f"{PROJECT}/sales"},
    register={"train": f"{PROJECT}/demand-forecast"},
    release_to=["dev", "staging"],
    description="Weekly demand forecast: prepare, train, evaluate on the last 8 weeks.",
    source="passline.demo_pipeline:retail_retrain",
)


def pipeline_demo(workspace: Workspace, admin: Services, home: Path) -> list[str]:
    """Run, rerun, then retrain on a drift alert; summary lines."""
    from passline.demo_models import _as
    from passline.pipelines.runner import run_pipeline

    alice = _as(workspace, "alice")
    _staging_gate(admin)
    first = run_pipeline(alice, retail_retrain)
    second = run_pipeline(alice, retail_retrain)
    lines = [_line("pipeline", first), _line("rerun", second)]
    return lines + _retrain_on_alert(workspace, alice, home)


def _staging_gate(admin: Services) -> None:
    admin.gates.create(PROJECT, "staging", STAGING_GATE, "what staging needs", True)
    admin.environments.configure(PROJECT, "staging", gates=["staging"])


def _retrain_on_alert(workspace: Workspace, alice: Services, home: Path) -> list[str]:
    from passline.pipelines.worker import run_queued

    _new_weeks(alice, home / "demo" / "erp.db")
    _ensure_trigger(alice)
    try:
        alice.monitors.add(
            FORECAST,
            "forecast-drift",
            "drift_share",
            0.3,
            window="24h",
            min_rows=50,
            schedule="0 * * * *",
        )
    except Conflict:
        pass
    outcome = alice.monitors.run(f"{PROJECT}/forecast-drift")
    if outcome["status"] != "alert":
        return [f"drift:     {FORECAST} drift share {outcome['value']}: no alert, no retraining"]
    ran = run_queued(workspace)
    runs = alice.pipelines.runs(f"{PROJECT}/retail-retrain", limit=1)
    lines = [f"drift:     {outcome['alert']['message']}: alert queued {len(ran)} retraining run"]
    return lines + [_line("retrain", alice.pipelines.run(runs[0].id))] if runs else lines


def _ensure_trigger(alice: Services) -> None:
    ref = f"{PROJECT}/retail-retrain"
    if not any(t.kind == "alert" for t in alice.pipelines.triggers(PROJECT)):
        alice.pipelines.add_trigger(ref, "alert", f"{PROJECT}/forecast-drift")


def _new_weeks(alice: Services, erp: Path) -> None:
    """Weeks 61-64 land in the ERP and are appended as a new version of the sales."""
    from passline.data.connectors.sql import SqlConnector
    from passline.demo_data import sales
    from passline.services.ingest import IngestOptions

    table = sales(range(61, 65), seed=13, shifted=True)
    with sqlite3.connect(erp) as db:
        db.execute("DELETE FROM sales WHERE week > 60")
        rows = zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True)
        db.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    query = "SELECT * FROM sales WHERE week > 60 ORDER BY week, store_id, sku"
    alice.ingest.ingest(
        f"{PROJECT}/sales", SqlConnector(f"sqlite:///{erp}", query), IngestOptions(mode="append")
    )


def _line(label: str, run: object) -> str:
    try:
        steps = run.steps  # type: ignore[attr-defined]
        cached = sum(s.status == "cached" for s in steps)
        outputs = run.outputs  # type: ignore[attr-defined]
        models = outputs.get("models", [])
        model = f"v{models[0]['version']}" + ("" if models[0].get("new") else " (unchanged)")
        releases = ", ".join(f"{r['to']} {r['status']}" for r in outputs.get("releases", []))
        mae = outputs.get("metrics", {}).get("mae")
        return (
            f"{label + ':':<10} {run.pipeline} {run.status} in {run.duration_ms:.0f} ms, "  # type: ignore[attr-defined]
            f"{cached}/{len(steps)} steps cached, model {model}, MAE {mae:.1f}; {releases}"
        )
    except (PasslineError, KeyError, IndexError, TypeError) as exc:
        return f"{label}: {exc}"
