"""Evaluation under /api/v1: suites and their versions, runs (started in the background and
followed by polling), comparisons, run labels, findings that become cases, and online
evaluation of a project's traces. ``{name}`` of a suite may carry a version: ``qa@3``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from passline.evaluation.entities import (
    Comparison,
    EvalRun,
    OnlineConfig,
    OnlinePoint,
    OnlineReport,
    Suite,
    SuiteVersion,
)
from passline.server.deps import api_services
from passline.services.workspace import Services

router = APIRouter(tags=["evaluation"])


class NewSuite(BaseModel):
    suite: str = Field(description="project/name")
    cases: list[dict[str, Any]]
    scorers: list[dict[str, Any] | str] = Field(default_factory=list)
    description: str = ""


class NewCases(BaseModel):
    cases: list[dict[str, Any]]
    description: str = ""


class CaseFromTrace(BaseModel):
    trace_id: str
    expected: Any = None
    refuse: bool | None = None
    case_id: str | None = None
    reference_facts: list[str] | None = None
    tags: list[str] | None = None
    scorers: list[str] | None = None


class NewRun(BaseModel):
    suite: str = Field(description="project/name or project/name@N")
    target: str | dict[str, Any] = Field(
        description='"prompt:hr/answer@2", "rag:hr/handbook", "endpoint:shop/scorer", '
        '"openai:http://host/v1" or a mapping with "type"'
    )
    target_options: dict[str, Any] = Field(default_factory=dict)
    scorers: list[dict[str, Any] | str] = Field(default_factory=list)
    concurrency: int = 4
    check: str | None = None
    name: str = ""


class Compare(BaseModel):
    baseline: str
    candidate: str
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0


class OnlineRequest(BaseModel):
    sample: int = 50
    app: str | None = None
    threshold: float = 0.5
    since_hours: float = 24.0
    seed: int | None = None


class OnlineSchedule(BaseModel):
    schedule: str = "*/15 * * * *"
    sample: int = 50
    app: str | None = None
    threshold: float = 0.5
    enabled: bool = True


@router.get("/eval/scorers", response_model=dict[str, str])
def scorers(svc: Services = Depends(api_services)) -> dict[str, str]:
    return svc.evaluation.scorers()


@router.get("/eval/suites", response_model=list[Suite])
def suites(project: str | None = None, svc: Services = Depends(api_services)) -> list[Suite]:
    return svc.evaluation.suites(project)


@router.post("/eval/suites", response_model=SuiteVersion, status_code=201)
def create_suite(body: NewSuite, svc: Services = Depends(api_services)) -> SuiteVersion:
    """A suite version (the same content returns the version that holds it)."""
    return svc.evaluation.create_suite(body.suite, body.cases, body.scorers, body.description)


@router.get("/eval/suites/{project}/{name}", response_model=SuiteVersion)
def suite(project: str, name: str, svc: Services = Depends(api_services)) -> SuiteVersion:
    return svc.evaluation.suite(f"{project}/{name}")


@router.get("/eval/suites/{project}/{name}/versions", response_model=list[SuiteVersion])
def suite_versions(
    project: str, name: str, svc: Services = Depends(api_services)
) -> list[SuiteVersion]:
    return svc.evaluation.suite_versions(f"{project}/{name}")


@router.post("/eval/suites/{project}/{name}/cases", response_model=SuiteVersion, status_code=201)
def add_cases(
    project: str, name: str, body: NewCases, svc: Services = Depends(api_services)
) -> SuiteVersion:
    return svc.evaluation.add_cases(f"{project}/{name}", body.cases, body.description)


@router.post(
    "/eval/suites/{project}/{name}/cases:from-trace", response_model=SuiteVersion, status_code=201
)
def case_from_trace(
    project: str, name: str, body: CaseFromTrace, svc: Services = Depends(api_services)
) -> SuiteVersion:
    return svc.evaluation.case_from_trace(suite=f"{project}/{name}", **body.model_dump())


@router.post("/eval/runs", response_model=EvalRun, status_code=202)
def start_run(body: NewRun, svc: Services = Depends(api_services)) -> EvalRun:
    """Start a run in the background; follow it with ``GET /eval/runs/{run_id}``."""
    return svc.evaluation.run(**body.model_dump(), wait=False)


@router.get("/eval/runs", response_model=list[EvalRun])
def runs(
    project: str | None = None,
    suite: str | None = None,
    limit: int = 50,
    svc: Services = Depends(api_services),
) -> list[EvalRun]:
    return svc.evaluation.runs(project, suite, limit)


@router.get("/eval/runs/{run_id}", response_model=EvalRun)
def get_run(run_id: str, results: bool = True, svc: Services = Depends(api_services)) -> EvalRun:
    return svc.evaluation.get_run(run_id, results)


@router.put("/eval/runs/{run_id}/labels/{label}", response_model=EvalRun)
def label_run(run_id: str, label: str, svc: Services = Depends(api_services)) -> EvalRun:
    return svc.evaluation.label_run(run_id, label)


@router.post("/eval/compare", response_model=Comparison)
def compare(body: Compare, svc: Services = Depends(api_services)) -> Comparison:
    return svc.evaluation.compare(**body.model_dump())


@router.post("/projects/{project}/eval/online", response_model=OnlineReport)
def online_evaluate(
    project: str, body: OnlineRequest, svc: Services = Depends(api_services)
) -> OnlineReport:
    return svc.evaluation.online_evaluate(project, **body.model_dump())


@router.get("/projects/{project}/eval/online", response_model=list[OnlinePoint])
def hallucination_rate(
    project: str,
    bucket: str = "day",
    since_hours: float = 24.0 * 30,
    prompt: str | None = None,
    svc: Services = Depends(api_services),
) -> list[OnlinePoint]:
    return svc.evaluation.hallucination_rate(project, bucket, since_hours, prompt)


@router.put("/projects/{project}/eval/online/schedule", response_model=OnlineConfig)
def schedule_online(
    project: str, body: OnlineSchedule, svc: Services = Depends(api_services)
) -> OnlineConfig:
    return svc.evaluation.schedule_online(project, **body.model_dump())
