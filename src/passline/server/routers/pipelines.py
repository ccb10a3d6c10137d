"""Pipelines under /api/v1: recorded pipelines, their runs with step status and cache hits,
queued runs (the server's scheduler runs them) and triggers."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from passline.core.pipelines import PipelineInfo, PipelineRun, PipelineTrigger
from passline.server.deps import api_services
from passline.services.workspace import Services

router = APIRouter(tags=["pipelines"])


class RunRequest(BaseModel):
    params: dict[str, Any] = Field(default_factory=dict)
    executor: Literal["local", "ray", "inline"] = "local"


class NewTrigger(BaseModel):
    kind: Literal["schedule", "dataset", "alert"]
    target: str = Field(description="a cron expression, project/dataset or project/monitor")
    params: dict[str, Any] = Field(default_factory=dict)
    executor: Literal["local", "ray", "inline"] = "local"


@router.get("/projects/{project}/pipelines", response_model=list[PipelineInfo])
def list_pipelines(project: str, svc: Services = Depends(api_services)) -> list[PipelineInfo]:
    return svc.pipelines.list(project)


@router.get("/pipelines/{project}/{name}", response_model=PipelineInfo)
def get_pipeline(project: str, name: str, svc: Services = Depends(api_services)) -> PipelineInfo:
    return svc.pipelines.get(f"{project}/{name}")


@router.post("/pipelines/{project}/{name}/runs", response_model=PipelineRun, status_code=202)
def enqueue(
    project: str, name: str, body: RunRequest, svc: Services = Depends(api_services)
) -> PipelineRun:
    return svc.pipelines.enqueue(f"{project}/{name}", body.params, body.executor)


@router.get("/pipeline-runs", response_model=list[PipelineRun])
def runs(
    ref: str, limit: int = 50, status: str | None = None, svc: Services = Depends(api_services)
) -> list[PipelineRun]:
    return svc.pipelines.runs(ref, limit, status)


@router.get("/pipeline-runs/{run_id}", response_model=PipelineRun)
def get_run(run_id: str, svc: Services = Depends(api_services)) -> PipelineRun:
    return svc.pipelines.run(run_id)


@router.post(
    "/pipelines/{project}/{name}/triggers", response_model=PipelineTrigger, status_code=201
)
def add_trigger(
    project: str, name: str, body: NewTrigger, svc: Services = Depends(api_services)
) -> PipelineTrigger:
    return svc.pipelines.add_trigger(
        f"{project}/{name}", body.kind, body.target, body.params, body.executor
    )


@router.get("/projects/{project}/pipeline-triggers", response_model=list[PipelineTrigger])
def triggers(project: str, svc: Services = Depends(api_services)) -> list[PipelineTrigger]:
    return svc.pipelines.triggers(project)


@router.delete("/pipeline-triggers/{trigger_id}", status_code=204)
def remove_trigger(trigger_id: str, svc: Services = Depends(api_services)) -> Response:
    svc.pipelines.remove_trigger(trigger_id)
    return Response(status_code=204)
