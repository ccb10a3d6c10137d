"""Release gates and the maturity scorecard under /api/v1: gates of a project, their checks
with per-criterion evidence, the criterion types, the AI acceptance criteria, the scorecard
(JSON, or Markdown and HTML with ``format``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from passline.gates.entities import Gate, GateEvaluation
from passline.server.deps import api_services
from passline.services.workspace import Services

router = APIRouter(tags=["gates"])


class NewGate(BaseModel):
    name: str
    criteria: list[dict[str, Any]] = Field(description="mappings with a 'type' and its params")
    description: str = ""
    replace: bool = False


class CheckFor(BaseModel):
    target: str = Field(description='"project/model@3" or "prompt:project/name@2"')


@router.get("/gates/types")
def types(svc: Services = Depends(api_services)) -> list[dict[str, Any]]:
    return svc.gates.types()


@router.get("/gates/acceptance-criteria")
def acceptance(genai: bool = False, svc: Services = Depends(api_services)) -> dict[str, Any]:
    return svc.gates.acceptance(genai)


@router.post("/projects/{project}/gates", response_model=Gate, status_code=201)
def create(project: str, body: NewGate, svc: Services = Depends(api_services)) -> Gate:
    return svc.gates.create(project, body.name, body.criteria, body.description, body.replace)


@router.get("/projects/{project}/gates", response_model=list[Gate])
def list_gates(project: str, svc: Services = Depends(api_services)) -> list[Gate]:
    return svc.gates.list(project)


@router.get("/projects/{project}/gates/{name}", response_model=Gate)
def get(project: str, name: str, svc: Services = Depends(api_services)) -> Gate:
    return svc.gates.get(project, name)


@router.post("/projects/{project}/gates/{name}/check", response_model=GateEvaluation)
def check(
    project: str, name: str, body: CheckFor, svc: Services = Depends(api_services)
) -> GateEvaluation:
    """Check the gate now; the evaluation is stored and audited, passed or not."""
    return svc.gates.check(project, name, body.target)


@router.get("/projects/{project}/gates/{name}/evaluations", response_model=list[GateEvaluation])
def evaluations(
    project: str, name: str, limit: int = 20, svc: Services = Depends(api_services)
) -> list[GateEvaluation]:
    return svc.gates.evaluations(project, name, limit)


@router.get("/audit-pack")
def audit_pack(target: str, svc: Services = Depends(api_services)) -> dict[str, Any]:
    """The audit pack of a model or prompt version as JSON (the CLI adds HTML and digest)."""
    return svc.gates.audit_pack(target)


@router.get("/maturity", response_model=None)
def maturity(
    project: str | None = None,
    format: Literal["json", "md", "html"] = "json",
    svc: Services = Depends(api_services),
) -> Any:
    """The scorecard; ``format=md`` or ``html`` for the rendered report."""
    from passline.services.maturity import render_html, render_markdown

    card = svc.maturity.scorecard(project)
    if format == "md":
        return Response(render_markdown(card), media_type="text/markdown")
    if format == "html":
        return Response(render_html(card), media_type="text/html")
    return card


@router.get("/projects/{project}/map", response_model=None)
def block_map(
    project: str,
    format: Literal["json", "md", "svg"] = "json",
    svc: Services = Depends(api_services),
) -> Any:
    """The five-block map of a project; ``format=md`` or ``svg`` for the rendered map."""
    from passline.services.block_map import render_markdown, render_svg

    found = svc.maturity.block_map(project)
    if format == "md":
        return Response(render_markdown(found), media_type="text/markdown")
    if format == "svg":
        return Response(render_svg(found), media_type="image/svg+xml")
    return found
