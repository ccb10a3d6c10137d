"""The backlog under /api/v1/backlog: drafting stories from transcripts, their review
(accept, edit, reject), export to Jira CSV/JSON, import, the meeting summary and the
backlog analysis."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from passline.backlog.entities import Analysis, DraftBatch, MeetingSummary, Story
from passline.server.deps import api_services
from passline.services.workspace import Services

router = APIRouter(tags=["backlog"])


class NewDraft(BaseModel):
    project: str
    text: str | None = Field(default=None, description="the transcript or document as text")
    content_b64: str | None = Field(default=None, description="the file's bytes, base64 (docx)")
    name: str = Field(
        default="transcript.txt", description="file name; its extension picks the parser"
    )
    mode: str = Field(default="rules", description="rules | llm")
    model: str | None = Field(default=None, description="llm mode: the model (embedded by default)")
    accept_all: bool = Field(default=False, description="accept every draft (skips review)")


class SummaryRequest(BaseModel):
    text: str | None = None
    content_b64: str | None = None
    name: str = "transcript.txt"


class StoryEdit(BaseModel):
    fields: dict[str, Any] = Field(
        description="title, priority, points, description, acceptance_criteria, labels, issue_type"
    )


class ImportRequest(BaseModel):
    project: str
    content: str
    format: str | None = Field(default=None, description="jira-csv | jira-json | json | csv")
    name: str = "import"
    accept: bool = False


@router.post("/backlog/drafts", response_model=DraftBatch, status_code=201)
def draft(body: NewDraft, svc: Services = Depends(api_services)) -> DraftBatch:
    """Draft stories from a source; they wait for review as drafts."""
    return svc.backlog.draft(**body.model_dump())


@router.get("/backlog/batches", response_model=list[DraftBatch])
def batches(
    project: str, limit: int = 50, svc: Services = Depends(api_services)
) -> list[DraftBatch]:
    return svc.backlog.batches(project, limit)


@router.get("/backlog/batches/{batch_id}", response_model=DraftBatch)
def batch(batch_id: str, svc: Services = Depends(api_services)) -> DraftBatch:
    return svc.backlog.batch(batch_id)


@router.get("/backlog/stories", response_model=list[Story])
def stories(
    project: str,
    status: str | None = None,
    batch_id: str | None = None,
    svc: Services = Depends(api_services),
) -> list[Story]:
    return svc.backlog.stories(project, status, batch_id)


@router.get("/backlog/stories/{story_id}", response_model=Story)
def story(story_id: str, svc: Services = Depends(api_services)) -> Story:
    return svc.backlog.story(story_id)


@router.post("/backlog/stories/{story_id}/accept", response_model=Story)
def accept(story_id: str, svc: Services = Depends(api_services)) -> Story:
    return svc.backlog.accept(story_id)


@router.post("/backlog/stories/{story_id}/reject", response_model=Story)
def reject(story_id: str, svc: Services = Depends(api_services)) -> Story:
    return svc.backlog.reject(story_id)


@router.patch("/backlog/stories/{story_id}", response_model=Story)
def edit(story_id: str, body: StoryEdit, svc: Services = Depends(api_services)) -> Story:
    return svc.backlog.edit(story_id, body.fields)


class GateLink(BaseModel):
    gate: str = Field(description="the gate, project/name")
    criterion: int = Field(description="the criterion's number in the gate, from 1")
    remove: bool = False


@router.post("/backlog/stories/{story_id}/links", response_model=Story)
def link(story_id: str, body: GateLink, svc: Services = Depends(api_services)) -> Story:
    """Link a story to a gate criterion (or unlink it with ``remove``)."""
    return svc.backlog.link(story_id, body.gate, body.criterion, body.remove)


@router.get("/backlog/export")
def export(
    project: str,
    format: str = "jira-csv",
    batch_id: str | None = None,
    jira_project: str | None = None,
    svc: Services = Depends(api_services),
) -> dict[str, Any]:
    """The accepted stories as ``{"format", "count", "content"}``."""
    return svc.backlog.export(project, format, batch_id, jira_project)


@router.post("/backlog/import", response_model=DraftBatch, status_code=201)
def import_(body: ImportRequest, svc: Services = Depends(api_services)) -> DraftBatch:
    return svc.backlog.import_stories(**body.model_dump())


@router.get("/backlog/analysis", response_model=Analysis)
def analysis(
    project: str, threshold: float = 0.85, svc: Services = Depends(api_services)
) -> Analysis:
    return svc.backlog.analyse(project, threshold)


@router.post("/backlog/summary", response_model=MeetingSummary)
def summary(body: SummaryRequest, svc: Services = Depends(api_services)) -> MeetingSummary:
    return svc.backlog.summary(**body.model_dump())
