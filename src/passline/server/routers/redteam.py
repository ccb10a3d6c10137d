"""Red teaming under /api/v1/redteam: the probe library, runs (started in the background and
followed by polling), attempts with their transcripts, and findings that become evaluation
cases."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

import passline.redteam  # noqa: F401  (registers the attack_resisted scorer in this process)
from passline.evaluation.entities import SuiteVersion
from passline.redteam.entities import Attempt, ProbeInfo, RedteamRun
from passline.server.deps import api_services
from passline.services.workspace import Services

router = APIRouter(tags=["redteam"])


class NewRun(BaseModel):
    target: str | dict[str, Any] = Field(
        description='"rag:hr/handbook", "prompt:hr/answer@2", "model:default", '
        '"endpoint:shop/bot", "openai:http://host/v1" or a mapping with "type"'
    )
    target_options: dict[str, Any] = Field(default_factory=dict)
    categories: list[str] | None = None
    project: str | None = None
    limit: int = 3
    seed: int = 0
    concurrency: int = 2
    secrets: list[str] | None = Field(
        default=None, description="values that must not reach an answer (stored as digests)"
    )
    allowed_hosts: list[str] | None = None
    paraphrase: bool = False
    anchor: str | None = Field(
        default=None, description="an on-topic question put before direct attacks"
    )
    name: str = ""


class ToCase(BaseModel):
    suite: str = Field(description="project/name of the evaluation suite (created if missing)")
    case_id: str | None = None


@router.get("/redteam/probes", response_model=list[ProbeInfo])
def probes(
    categories: list[str] | None = Query(None), svc: Services = Depends(api_services)
) -> list[ProbeInfo]:
    return svc.redteam.probes(categories)


@router.post("/redteam/runs", response_model=RedteamRun, status_code=202)
def start_run(body: NewRun, svc: Services = Depends(api_services)) -> RedteamRun:
    """Start a run in the background; follow it with ``GET /redteam/runs/{run_id}``."""
    params = body.model_dump()
    return svc.redteam.run(params.pop("target"), params.pop("categories"), **params, wait=False)


@router.get("/redteam/runs", response_model=list[RedteamRun])
def runs(
    project: str | None = None, limit: int = 50, svc: Services = Depends(api_services)
) -> list[RedteamRun]:
    return svc.redteam.runs(project, limit)


@router.get("/redteam/runs/{run_id}", response_model=RedteamRun)
def get_run(run_id: str, results: bool = True, svc: Services = Depends(api_services)) -> RedteamRun:
    return svc.redteam.get_run(run_id, results)


@router.get("/redteam/attempts/{attempt_id}", response_model=Attempt)
def attempt(attempt_id: str, svc: Services = Depends(api_services)) -> Attempt:
    return svc.redteam.attempt(attempt_id)


@router.post("/redteam/attempts/{attempt_id}/case", response_model=SuiteVersion, status_code=201)
def to_case(attempt_id: str, body: ToCase, svc: Services = Depends(api_services)) -> SuiteVersion:
    """The successful attack as a case of an evaluation suite (a new suite version)."""
    return svc.redteam.to_case(attempt_id, body.suite, body.case_id)
