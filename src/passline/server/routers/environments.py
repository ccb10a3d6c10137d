"""Environments and releases under /api/v1: a project's promotion path, releases along it
(refusals included, with their reasons) and one-call rollbacks with measured durations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from passline.core.environments import Environment, Release
from passline.server.deps import api_services
from passline.services.workspace import Services

router = APIRouter(tags=["environments"])


class EnvironmentChange(BaseModel):
    """Unset fields are kept; ``settings`` are merged (a ``null`` value removes a key)."""

    position: int | None = Field(None, description="place in the path, 0 first")
    description: str | None = None
    settings: dict[str, Any] | None = None
    endpoints: list[str] | None = None
    gates: list[str] | None = Field(None, description="gates a release must pass")
    require_approval: bool | None = None


class NewRelease(BaseModel):
    subject: str = Field(description='"project/model" or "prompt:project/name"')
    version: int | str
    to: str = Field(description="the environment")
    reason: str = ""


class Rollback(BaseModel):
    reason: str = ""


@router.get("/projects/{project}/environments", response_model=list[Environment])
def list_environments(project: str, svc: Services = Depends(api_services)) -> list[Environment]:
    """The project's environments in path order; dev, staging, production on first use."""
    return svc.environments.list(project)


@router.get("/projects/{project}/environments/{name}", response_model=Environment)
def get(project: str, name: str, svc: Services = Depends(api_services)) -> Environment:
    return svc.environments.get(project, name)


@router.put("/projects/{project}/environments/{name}", response_model=Environment)
def configure(
    project: str, name: str, body: EnvironmentChange, svc: Services = Depends(api_services)
) -> Environment:
    """Create or update an environment (project admins)."""
    return svc.environments.configure(project, name, **body.model_dump(exclude_none=True))


@router.delete("/projects/{project}/environments/{name}", status_code=204)
def delete(project: str, name: str, svc: Services = Depends(api_services)) -> Response:
    svc.environments.delete(project, name)
    return Response(status_code=204)


@router.post("/releases", response_model=Release, status_code=201)
def release(body: NewRelease, svc: Services = Depends(api_services)) -> Release:
    """Release a version into an environment; a refusal answers 403 or 409 and is recorded
    (its id under ``details.release``)."""
    return svc.environments.release(body.subject, body.version, body.to, body.reason)


@router.get("/projects/{project}/releases", response_model=list[Release])
def releases(
    project: str,
    environment: str | None = None,
    subject: str | None = None,
    limit: int = 50,
    svc: Services = Depends(api_services),
) -> list[Release]:
    return svc.environments.releases(project, environment, limit, subject)


@router.get("/releases/{release_id}", response_model=Release)
def get_release(release_id: str, svc: Services = Depends(api_services)) -> Release:
    return svc.environments.get_release(release_id)


@router.post("/releases/{release_id}/rollback", response_model=Release, status_code=201)
def rollback(release_id: str, body: Rollback, svc: Services = Depends(api_services)) -> Release:
    """Undo a live release at once; the answer is the rollback's record, with its duration."""
    return svc.environments.rollback(release_id, body.reason)
