"""Guard policies per app, checks, PII scans and the events guards recorded."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from passline.server.deps import api_services
from passline.services.guards import GuardCheck, GuardEventInfo, GuardPolicyInfo, PiiScan
from passline.services.workspace import Services

router = APIRouter(tags=["guardrails"])


class PolicyBody(BaseModel):
    policy: dict[str, Any] | str = Field(
        description='the policy (docs/guardrails.md), as JSON or YAML text: {"input": [...]}'
    )


class ScanBody(BaseModel):
    texts: str | list[str]
    entities: list[str] | None = None


class CheckBody(BaseModel):
    project: str
    app: str
    stage: str = Field(description="input | output")
    text: str
    user: str | None = None
    trace_id: str | None = None
    prompt: str | None = Field(default=None, description="for output checks: the input")


@router.put("/projects/{project}/guard-policies/{app}", response_model=GuardPolicyInfo)
def set_policy(
    project: str, app: str, body: PolicyBody, svc: Services = Depends(api_services)
) -> GuardPolicyInfo:
    return svc.guards.set_policy(project, app, body.policy)


@router.get("/projects/{project}/guard-policies/{app}", response_model=GuardPolicyInfo)
def get_policy(project: str, app: str, svc: Services = Depends(api_services)) -> GuardPolicyInfo:
    return svc.guards.get_policy(project, app)


@router.post("/guard/scan", response_model=PiiScan)
def scan(body: ScanBody, svc: Services = Depends(api_services)) -> PiiScan:
    return svc.guards.scan(body.texts, body.entities)


@router.post("/guard/check", response_model=GuardCheck)
def check(body: CheckBody, svc: Services = Depends(api_services)) -> GuardCheck:
    return svc.guards.check(**body.model_dump())


@router.get("/guard/events", response_model=list[GuardEventInfo])
def events(
    project: str,
    app: str | None = None,
    action: str | None = None,
    since: str | None = None,
    limit: int = 100,
    trace_id: str | None = None,
    svc: Services = Depends(api_services),
) -> list[GuardEventInfo]:
    return svc.guards.events(project, app, action, since, limit, trace_id)
