"""Experiments and runs (Passline's own API; the MLflow-compatible one is server/mlflow)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from passline.core.entities import Experiment, MetricPoint, Run, RunPage
from passline.server.deps import api_services, workspace_of
from passline.services.workspace import Services

router = APIRouter(tags=["experiments and runs"])

_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class NewExperiment(BaseModel):
    project: str
    name: str
    description: str = ""


class NewRun(BaseModel):
    experiment_id: str
    name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    entry_point: str | None = None
    code: dict[str, Any] = Field(default_factory=dict)
    environment: dict[str, Any] = Field(default_factory=dict)
    start_time: int | None = None


class RunEnd(BaseModel):
    status: str = "FINISHED"
    end_time: int | None = None


class Params(BaseModel):
    params: dict[str, Any]


class Metrics(BaseModel):
    metrics: list[dict[str, Any]]


class Tags(BaseModel):
    tags: dict[str, Any]


class Input(BaseModel):
    dataset: str
    context: str = "training"


class Search(BaseModel):
    project: str | None = None
    experiments: list[str] | None = None
    filter: str | None = None
    order_by: list[str] | None = None
    max_results: int = 100
    page_token: str | None = None


class Compare(BaseModel):
    run_ids: list[str]


@router.get("/experiments", response_model=list[Experiment])
def experiments(
    project: str | None = None, svc: Services = Depends(api_services)
) -> list[Experiment]:
    return svc.tracking.experiments(project)


@router.post("/experiments", response_model=Experiment, status_code=201)
def create_experiment(body: NewExperiment, svc: Services = Depends(api_services)) -> Experiment:
    return svc.tracking.create_experiment(body.project, body.name, body.description)


@router.post("/experiments:ensure", response_model=Experiment)
def ensure_experiment(body: NewExperiment, svc: Services = Depends(api_services)) -> Experiment:
    """The experiment, created when missing (what ``set_experiment`` does)."""
    return svc.tracking.ensure_experiment(body.project, body.name)


@router.get("/experiments/{experiment_id}", response_model=Experiment)
def get_experiment(experiment_id: str, svc: Services = Depends(api_services)) -> Experiment:
    return svc.tracking.get_experiment(experiment_id)


@router.post("/runs", response_model=Run, status_code=201)
def start_run(body: NewRun, svc: Services = Depends(api_services)) -> Run:
    return svc.tracking.start_run(**body.model_dump())


@router.post("/runs:search", response_model=RunPage)
def search_runs(body: Search, svc: Services = Depends(api_services)) -> RunPage:
    """Runs matching an MLflow-style filter (``metrics.auc > 0.8 and params.model = 'gbm'``)."""
    return svc.tracking.search_runs(**body.model_dump())


@router.post("/runs:compare")
def compare_runs(body: Compare, svc: Services = Depends(api_services)) -> dict[str, Any]:
    return svc.tracking.compare(body.run_ids)


@router.get("/runs/{run_id}", response_model=Run)
def get_run(run_id: str, svc: Services = Depends(api_services)) -> Run:
    return svc.tracking.get_run(run_id)


@router.patch("/runs/{run_id}", response_model=Run)
def end_run(run_id: str, body: RunEnd, svc: Services = Depends(api_services)) -> Run:
    return svc.tracking.end_run(run_id, body.status, body.end_time)


@router.post("/runs/{run_id}/params", status_code=204)
def log_params(run_id: str, body: Params, svc: Services = Depends(api_services)) -> None:
    svc.tracking.log_params(run_id, body.params)


@router.post("/runs/{run_id}/metrics", status_code=204)
def log_metrics(run_id: str, body: Metrics, svc: Services = Depends(api_services)) -> None:
    svc.tracking.log_metrics(run_id, body.metrics)


@router.get("/runs/{run_id}/metrics/{key}", response_model=list[MetricPoint])
def metric_history(
    run_id: str, key: str, svc: Services = Depends(api_services)
) -> list[MetricPoint]:
    return svc.tracking.metric_history(run_id, key)


@router.post("/runs/{run_id}/tags", status_code=204)
def set_tags(run_id: str, body: Tags, svc: Services = Depends(api_services)) -> None:
    svc.tracking.set_tags(run_id, body.tags)


@router.post("/runs/{run_id}/inputs", response_model=Run)
def log_input(run_id: str, body: Input, svc: Services = Depends(api_services)) -> Run:
    return svc.tracking.log_input(run_id, body.dataset, body.context)


@router.get("/runs/{run_id}/artifacts")
def list_artifacts(
    run_id: str, prefix: str = "", svc: Services = Depends(api_services)
) -> list[dict[str, Any]]:
    return svc.tracking.list_artifacts(run_id, prefix)


@router.put("/runs/{run_id}/artifacts/{path:path}", status_code=201, openapi_extra=_RAW_BODY)
async def log_artifact(
    run_id: str, path: str, request: Request, svc: Services = Depends(api_services)
) -> dict[str, Any]:
    """Store the request body as the run's artifact at ``path`` (streamed)."""
    import tempfile

    spool = workspace_of(request).settings.home / "uploads"
    spool.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=spool) as buffer:
        async for chunk in request.stream():
            buffer.write(chunk)
        buffer.seek(0)
        return await run_in_threadpool(svc.tracking.log_artifact, run_id, path, buffer)


@router.get("/runs/{run_id}/artifacts/{path:path}")
def artifact_content(
    run_id: str, path: str, svc: Services = Depends(api_services)
) -> StreamingResponse:
    item = svc.tracking.artifact(run_id, path)
    artifact = svc.artifacts.get_verified(item["artifact_id"], full=False)
    return StreamingResponse(
        svc.workspace.blobs.iter_verified(artifact.digest),
        media_type="application/octet-stream",
        headers={"Content-Length": str(artifact.size), "X-Passline-Digest": artifact.digest},
    )
