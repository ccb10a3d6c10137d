"""Passline entities as MLflow's protobuf JSON (``mlflow/protos/service.proto``,
``model_registry.proto``): int64 fields as JSON numbers, enums by name, NaN and infinities
as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (the MLflow client accepts both
forms of each)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from passline.core.entities import Experiment, ModelVersion, RegisteredModel, Run
from passline.server.mlflow import logged_model_store
from passline.server.mlflow.logged_model_store import LoggedModel
from passline.server.mlflow.scope import display_name

__all__ = [
    "artifact_root",
    "experiment_json",
    "file_info",
    "logged_model_json",
    "metric_json",
    "model_version_json",
    "pairs",
    "registered_model_json",
    "run_info",
    "run_json",
]

PROJECT_TAG = "passline.project"
_MODEL_ID = re.compile(r"/models/(m-[^/]+)$")


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def pairs(values: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": k, "value": str(v)} for k, v in values.items()]


def artifact_root(run_id: str) -> str:
    """Served by this server's ``/api/2.0/mlflow-artifacts`` proxy."""
    return f"mlflow-artifacts:/runs/{run_id}"


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    created = ms(experiment.created_at)
    return {
        "experiment_id": experiment.id,
        "name": display_name(experiment),
        "artifact_location": f"mlflow-artifacts:/experiments/{experiment.id}",
        "lifecycle_stage": "active",
        "creation_time": created,
        "last_update_time": created,
        "tags": pairs({PROJECT_TAG: experiment.project}),
    }


def run_info(run: Run) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": run.experiment_id,
        "user_id": run.user,
        "status": run.status,
        "start_time": run.start_time,
        "artifact_uri": artifact_root(run.id),
        "lifecycle_stage": "active",
    }
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def metric_json(
    key: str, value: float | str, step: int, timestamp: int, run_id: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "value": value, "timestamp": timestamp, "step": step}
    if run_id:
        out["run_id"] = run_id
    return out


def run_json(run: Run) -> dict[str, Any]:
    """A run. Passline keeps each metric's latest value without its step and time, so the
    latest values carry step 0 and the run's last time (the history has the real ones)."""
    at = run.end_time or run.start_time
    tags = {k: v for k, v in run.tags.items() if not logged_model_store.is_internal(k)}
    outputs = [{"model_id": m.model_id, "step": m.step} for m in logged_model_store.in_run(run)]
    return {
        "info": run_info(run),
        "data": {
            "metrics": [metric_json(k, v, 0, at) for k, v in run.metrics.items()],
            "params": pairs(run.params),
            "tags": pairs(tags),
        },
        "inputs": {"dataset_inputs": [_dataset_input(i) for i in run.inputs]},
        "outputs": {"model_outputs": outputs},
    }


def _dataset_input(link: dict[str, Any]) -> dict[str, Any]:
    """A Passline dataset version the run used, as an MLflow dataset input."""
    return {
        "tags": pairs({"mlflow.data.context": link.get("context", "training")}),
        "dataset": {
            "name": link["dataset"],
            "digest": link["version"],
            "source_type": "passline",
            "source": link["label"],
        },
    }


def logged_model_json(model: LoggedModel) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": model.model_id,
        "experiment_id": model.experiment_id,
        "name": model.name,
        "creation_timestamp_ms": model.created,
        "last_updated_timestamp_ms": model.updated,
        "artifact_uri": f"{artifact_root(model.run_id)}/{model.artifact_path}",
        "status": model.status,
        "source_run_id": model.run_id,
        "tags": pairs(model.tags),
    }
    if model.model_type:
        info["model_type"] = model.model_type
    if model.status_message:
        info["status_message"] = model.status_message
    return {"info": info, "data": {"params": pairs(model.params), "metrics": []}}


def model_version_json(version: ModelVersion) -> dict[str, Any]:
    created = ms(version.created_at)
    out: dict[str, Any] = {
        "name": version.model.rpartition("/")[2],
        "version": str(version.version),
        "creation_timestamp": created,
        "last_updated_timestamp": created,
        "user_id": version.author,
        "current_stage": "None",
        "description": version.description,
        "source": version.source,
        "status": "READY",
        "aliases": version.aliases,
        "tags": pairs({PROJECT_TAG: version.model.partition("/")[0]}),
    }
    if version.run_id:
        out["run_id"] = version.run_id
    if found := _MODEL_ID.search(version.source):
        out["model_id"] = found.group(1)
    return out


def registered_model_json(
    model: RegisteredModel, latest: ModelVersion | None = None
) -> dict[str, Any]:
    created = ms(model.created_at)
    return {
        "name": model.name,
        "creation_timestamp": created,
        "last_updated_timestamp": ms(latest.created_at) if latest else created,
        "user_id": model.owner,
        "description": model.description,
        "latest_versions": [model_version_json(latest)] if latest else [],
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
        "tags": pairs({PROJECT_TAG: model.project}),
    }


def file_info(path: str, is_dir: bool, size: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"path": path, "is_dir": is_dir}
    if size is not None and not is_dir:
        out["file_size"] = size
    return out
