"""The model registry: models, versions, aliases, approvals, policies, cards."""

from __future__ import annotations

import tempfile
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from passline.core.entities import AliasMove, ModelVersion, RegisteredModel, ReleasePolicy
from passline.server.deps import api_services, workspace_of
from passline.services.workspace import Services

router = APIRouter(tags=["model registry"])

_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class NewModel(BaseModel):
    project: str
    name: str
    description: str = ""
    intended_use: dict[str, Any] = Field(default_factory=dict)


class ModelChanges(BaseModel):
    description: str | None = None
    intended_use: dict[str, Any] | None = None


class NewVersion(BaseModel):
    source: str
    format: str | None = None
    description: str = ""
    signature: dict[str, Any] | None = None


class Approval(BaseModel):
    comment: str = ""
    alias: str | None = None


class AliasChange(BaseModel):
    version: int | str
    reason: str = ""


class Reason(BaseModel):
    reason: str = ""


class Optimize(BaseModel):
    to: str = "onnx"
    quantize: str | None = None
    dataset: str | None = None


class Policy(BaseModel):
    require_approval: bool = True
    checks: list[dict[str, Any]] = Field(default_factory=list)


def _model(project: str, name: str) -> str:
    return name if project == "-" else f"{project}/{name}"


@router.get("/models", response_model=list[RegisteredModel])
def models(
    project: str | None = None, svc: Services = Depends(api_services)
) -> list[RegisteredModel]:
    return svc.registry.models(project)


@router.post("/models", response_model=RegisteredModel, status_code=201)
def create_model(body: NewModel, svc: Services = Depends(api_services)) -> RegisteredModel:
    return svc.registry.create_model(body.project, body.name, body.description, body.intended_use)


@router.get("/models/{project}/{name}", response_model=RegisteredModel)
def get_model(project: str, name: str, svc: Services = Depends(api_services)) -> RegisteredModel:
    return svc.registry.get_model(_model(project, name))


@router.patch("/models/{project}/{name}", response_model=RegisteredModel)
def update_model(
    project: str, name: str, body: ModelChanges, svc: Services = Depends(api_services)
) -> RegisteredModel:
    return svc.registry.update_model(_model(project, name), body.description, body.intended_use)


@router.get("/models/{project}/{name}/versions", response_model=list[ModelVersion])
def versions(project: str, name: str, svc: Services = Depends(api_services)) -> list[ModelVersion]:
    return svc.registry.versions(_model(project, name))


@router.post("/models/{project}/{name}/versions", response_model=ModelVersion, status_code=201)
def register(
    project: str, name: str, body: NewVersion, svc: Services = Depends(api_services)
) -> ModelVersion:
    """A version from a run's artifact: ``{"source": "runs:/RUN_ID/model"}``."""
    return svc.registry.register(
        _model(project, name), body.source, body.format, body.description, body.signature
    )


@router.put(
    "/models/{project}/{name}/versions:upload",
    response_model=ModelVersion,
    status_code=201,
    openapi_extra=_RAW_BODY,
)
async def register_file(
    project: str,
    name: str,
    filename: str,
    request: Request,
    format: str | None = None,
    description: str = "",
    svc: Services = Depends(api_services),
) -> ModelVersion:
    """A version from a file in the request body (no run)."""
    spool = workspace_of(request).settings.home / "uploads"
    spool.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=spool) as buffer:
        async for chunk in request.stream():
            buffer.write(chunk)
        buffer.seek(0)
        return await run_in_threadpool(
            svc.registry.register_file, name, project, buffer, filename, format, description
        )


@router.get("/models/{project}/{name}/versions/{version}", response_model=ModelVersion)
def version(
    project: str, name: str, version: str, svc: Services = Depends(api_services)
) -> ModelVersion:
    """A version by number (``3``, ``v3``) or alias (``production``)."""
    return svc.registry.version(_model(project, name), version)


@router.get("/models/{project}/{name}/versions/{version}/files/{path:path}")
def version_file(
    project: str, name: str, version: str, path: str, svc: Services = Depends(api_services)
) -> StreamingResponse:
    target = svc.registry.version(_model(project, name), version)
    item = next((f for f in target.files if f["path"] == path), None)
    if item is None:
        from passline.errors import NotFound

        raise NotFound(f"{target.label} has no file {path!r}.")
    artifact = svc.artifacts.get_verified(item["artifact_id"], full=False)
    return StreamingResponse(
        svc.workspace.blobs.iter_verified(artifact.digest),
        media_type="application/octet-stream",
        headers={"Content-Length": str(artifact.size), "X-Passline-Digest": artifact.digest},
    )


@router.post("/models/{project}/{name}/versions/{version}/approve", response_model=ModelVersion)
def approve(
    project: str, name: str, version: str, body: Approval, svc: Services = Depends(api_services)
) -> ModelVersion:
    return svc.registry.approve(_model(project, name), version, body.comment, body.alias)


@router.get("/models/{project}/{name}/evaluate")
def evaluate(
    project: str,
    name: str,
    version: str,
    alias: str = "production",
    svc: Services = Depends(api_services),
) -> dict[str, Any]:
    """What the alias's release policy demands of a version, and what is missing."""
    return svc.registry.evaluate(_model(project, name), version, alias)


@router.put("/models/{project}/{name}/aliases/{alias}", response_model=AliasMove)
def set_alias(
    project: str, name: str, alias: str, body: AliasChange, svc: Services = Depends(api_services)
) -> AliasMove:
    return svc.registry.set_alias(_model(project, name), alias, body.version, body.reason)


@router.post("/models/{project}/{name}/aliases/{alias}:promote", response_model=AliasMove)
def promote(
    project: str, name: str, alias: str, body: AliasChange, svc: Services = Depends(api_services)
) -> AliasMove:
    return svc.registry.promote(_model(project, name), body.version, alias, body.reason)


@router.post("/models/{project}/{name}/aliases/{alias}:rollback", response_model=AliasMove)
def rollback(
    project: str, name: str, alias: str, body: Reason, svc: Services = Depends(api_services)
) -> AliasMove:
    return svc.registry.rollback(_model(project, name), alias, body.reason)


@router.delete("/models/{project}/{name}/aliases/{alias}", response_model=AliasMove)
def delete_alias(
    project: str, name: str, alias: str, svc: Services = Depends(api_services)
) -> AliasMove:
    return svc.registry.delete_alias(_model(project, name), alias)


@router.get("/models/{project}/{name}/history", response_model=list[AliasMove])
def history(
    project: str, name: str, alias: str | None = None, svc: Services = Depends(api_services)
) -> list[AliasMove]:
    return svc.registry.history(_model(project, name), alias)


@router.get("/models/{project}/{name}/card")
def card(
    project: str, name: str, version: str | None = None, svc: Services = Depends(api_services)
) -> dict[str, str]:
    return svc.registry.card(_model(project, name), version)


@router.get("/models/{project}/{name}/card.md", response_class=PlainTextResponse)
def card_markdown(
    project: str, name: str, version: str | None = None, svc: Services = Depends(api_services)
) -> str:
    return svc.registry.card(_model(project, name), version)["markdown"]


@router.get("/projects/{project}/policies", response_model=list[ReleasePolicy])
def policies(project: str, svc: Services = Depends(api_services)) -> list[ReleasePolicy]:
    return svc.registry.policies(project)


@router.put("/projects/{project}/policies/{alias}", response_model=ReleasePolicy)
def set_policy(
    project: str, alias: str, body: Policy, svc: Services = Depends(api_services)
) -> ReleasePolicy:
    return svc.registry.set_policy(project, alias, body.require_approval, body.checks)


@router.post("/models/{project}/{name}/versions/{version}:optimize")
def optimize(
    project: str, name: str, version: str, body: Optimize, svc: Services = Depends(api_services)
) -> dict[str, Any]:
    """Convert to ONNX (optionally int8), measure against the original, register the result."""
    return svc.optimizer.optimize(
        _model(project, name), version, body.to, body.quantize, body.dataset
    )
