"""An ordinary MLflow 3 training script, run by the real ``mlflow`` client against Passline.

Run in its own virtual environment (tests/.venv-mlflow) with MLFLOW_TRACKING_URI and
MLFLOW_TRACKING_TOKEN set; it writes one JSON object (what it saw) as its last line.
Nothing here knows about Passline: that is the point.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

import mlflow
from mlflow import MlflowClient


def train() -> tuple[LogisticRegression, np.ndarray]:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(200, 4))
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0).astype(int)
    return LogisticRegression(C=1.0).fit(features, labels), features


def log_run(client: MlflowClient) -> tuple[str, np.ndarray]:
    model, features = train()
    with mlflow.start_run(run_name="lr-baseline") as run:
        run_id = run.info.run_id
        mlflow.log_params({"C": 1.0, "penalty": "l2"})
        mlflow.log_param("solver", "lbfgs")
        for step, loss in enumerate([0.9, 0.5, float("nan")]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_metrics({"auc": 0.91, "f1": 0.8})
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric("precision", 0.7, now, 0), Metric("precision", 0.75, now, 1)],
            params=[Param("features", "4")],
            tags=[RunTag("team", "risk")],
        )
        mlflow.set_tag("stage", "baseline")
        with tempfile.TemporaryDirectory() as folder:
            notes = Path(folder, "notes.txt")
            notes.write_text("trained on synthetic data\n")
            mlflow.log_artifact(str(notes))
            mlflow.log_artifact(str(notes), artifact_path="docs")
        mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    return run_id, features


def unsupported(client: MlflowClient, experiment_id: str) -> dict[str, object]:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    token = os.environ["MLFLOW_TRACKING_TOKEN"]
    raw = requests.get(f"{uri}/api/2.0/mlflow/nope", headers={"Authorization": f"Bearer {token}"})
    try:
        client.set_experiment_tag(experiment_id, "owner", "risk-team")
        client_error = None
    except MlflowException as exc:
        client_error = exc.error_code
    return {"status": raw.status_code, "body": raw.json(), "client_error": client_error}


def main() -> None:
    client = MlflowClient()
    experiment = mlflow.set_experiment("fraud/baseline")
    run_id, features = log_run(client)
    run = client.get_run(run_id)
    found = mlflow.search_runs(
        experiment_names=["fraud/baseline"],
        filter_string="metrics.auc > 0.9 and params.penalty = 'l2'",
    )
    version = mlflow.register_model(f"runs:/{run_id}/model", "scorer")
    client.set_registered_model_alias("scorer", "champion", version.version)
    loaded = mlflow.pyfunc.load_model("models:/scorer@champion")
    (model_id,) = [o.model_id for o in run.outputs.model_outputs]
    by_id = mlflow.pyfunc.load_model(f"models:/{model_id}")  # the logged model itself
    history = client.get_metric_history(run_id, "loss")
    result = {
        "experiment_id": experiment.experiment_id,
        "experiment_name": experiment.name,
        "run_id": run_id,
        "run_status": run.info.status,
        "params": run.data.params,
        "metrics": {k: str(v) for k, v in run.data.metrics.items()},
        "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
        "model_outputs": [model_id],
        "artifacts": sorted(a.path for a in client.list_artifacts(run_id)),
        "loss_history": [[m.step, str(m.value)] for m in history],
        "search": found[["run_id", "metrics.auc", "params.penalty"]].to_string(index=False),
        "search_ids": list(found["run_id"]),
        "version": version.version,
        "version_source": version.source,
        "predictions": [int(p) for p in loaded.predict(features[:5])],
        "predictions_by_id": [int(p) for p in by_id.predict(features[:5])],
        "expected": [int(p) for p in (features[:5, 0] + 0.5 * features[:5, 1] > 0)],
        "unsupported": unsupported(client, experiment.experiment_id),
    }
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
