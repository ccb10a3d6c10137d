"""Groups, collections, documents with ACLs, retrieval and answers under a user's rights,
and who was shown which document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from passline.core.rag import (
    Answer,
    Audience,
    Collection,
    Document,
    Group,
    IndexReport,
    Retrieval,
    Retrieved,
)
from passline.server.deps import api_services
from passline.services.workspace import Services

router = APIRouter(tags=["retrieval"])


class NewGroup(BaseModel):
    name: str
    description: str = ""


class NewCollection(BaseModel):
    project: str
    name: str
    description: str = ""
    chunk_tokens: int = 150


class NewDocuments(BaseModel):
    documents: list[dict[str, str]] = Field(
        description='[{"path": "salaries/2026.pdf", "content": "<base64>"}]'
    )
    acl: dict[str, Any] | None = Field(
        default=None, description='for paths no rule matches: {"groups": ["hr"]}'
    )
    rules: dict[str, Any] | None = Field(
        default=None, description='path glob -> ACL, first match wins: {"salaries/*": {...}}'
    )


class Question(BaseModel):
    question: str
    as_user: str | None = None
    model: str | None = None
    k: int = 4


@router.get("/groups", response_model=list[Group])
def groups(svc: Services = Depends(api_services)) -> list[Group]:
    return svc.groups.list()


@router.post("/groups", response_model=Group, status_code=201)
def create_group(body: NewGroup, svc: Services = Depends(api_services)) -> Group:
    return svc.groups.create(body.name, body.description)


@router.get("/groups/{name}", response_model=Group)
def group(name: str, svc: Services = Depends(api_services)) -> Group:
    return svc.groups.get(name)


@router.put("/groups/{group}/members/{user}", response_model=Group)
def add_group_member(group: str, user: str, svc: Services = Depends(api_services)) -> Group:
    return svc.groups.add_member(group, user)


@router.delete("/groups/{group}/members/{user}", response_model=Group)
def remove_group_member(group: str, user: str, svc: Services = Depends(api_services)) -> Group:
    return svc.groups.remove_member(group, user)


@router.get("/collections", response_model=list[Collection])
def collections(
    project: str | None = None, svc: Services = Depends(api_services)
) -> list[Collection]:
    return svc.rag.collections(project)


@router.post("/collections", response_model=Collection, status_code=201)
def create_collection(body: NewCollection, svc: Services = Depends(api_services)) -> Collection:
    return svc.rag.create_collection(**body.model_dump())


@router.get("/collections/{project}/{name}", response_model=Collection)
def collection(project: str, name: str, svc: Services = Depends(api_services)) -> Collection:
    return svc.rag.collection(f"{project}/{name}")


@router.get("/collections/{project}/{name}/documents", response_model=list[Document])
def documents(project: str, name: str, svc: Services = Depends(api_services)) -> list[Document]:
    return svc.rag.documents(f"{project}/{name}")


@router.post("/collections/{project}/{name}/documents", response_model=IndexReport)
def add_documents(
    project: str, name: str, body: NewDocuments, svc: Services = Depends(api_services)
) -> IndexReport:
    return svc.rag.add_documents(f"{project}/{name}", body.documents, body.acl, body.rules)


@router.post("/collections/{project}/{name}/retrieve", response_model=Retrieved)
def retrieve(
    project: str, name: str, body: Question, svc: Services = Depends(api_services)
) -> Retrieved:
    return svc.rag.retrieve(f"{project}/{name}", body.question, body.as_user, body.k)


@router.post("/collections/{project}/{name}/ask", response_model=Answer)
def ask(project: str, name: str, body: Question, svc: Services = Depends(api_services)) -> Answer:
    return svc.rag.ask(f"{project}/{name}", body.question, body.as_user, body.model, body.k)


# /audience first: {document:path} would also match it
@router.get("/documents/{document:path}/audience", response_model=Audience)
def who_saw(document: str, svc: Services = Depends(api_services)) -> Audience:
    return svc.rag.who_saw(document)


@router.get("/documents/{document:path}", response_model=Document)
def document(document: str, svc: Services = Depends(api_services)) -> Document:
    return svc.rag.document(document)


@router.get("/retrievals", response_model=list[Retrieval])
def asked_by(
    user: str | None = None, limit: int = 200, svc: Services = Depends(api_services)
) -> list[Retrieval]:
    return svc.rag.asked_by(user, limit)
