"""What permission-aware retrieval returns on every surface: groups, collections, documents
with their ACLs, passages, answers with citations, and who saw which document."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from passline.core.entities import Entity
from passline.errors import InvalidInput

__all__ = [
    "Acl",
    "Answer",
    "Audience",
    "Collection",
    "Document",
    "Group",
    "IndexReport",
    "IndexedFile",
    "Passage",
    "Retrieval",
    "Retrieved",
    "Source",
    "Viewer",
    "split_collection",
]


def split_collection(collection: str) -> tuple[str, str]:
    """``project/name`` as (project, name)."""
    project, _, name = str(collection).partition("/")
    if not project or not name or "/" in name:
        raise InvalidInput(f"Name the collection as project/name. Got {collection!r} instead.")
    return project, name


class Acl(Entity):
    """Who may read a document: named users, members of groups, and project members
    holding at least one of ``roles`` in the collection's project."""

    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.users or self.groups or self.roles)

    def describe(self) -> str:
        parts = [f"{k}: {', '.join(v)}" for k, v in self.model_dump().items() if v]
        return "; ".join(parts) or "nobody"


class Group(Entity):
    id: str
    name: str
    description: str = ""
    members: list[str] = Field(default_factory=list)
    created_at: datetime


class Collection(Entity):
    id: str
    project: str
    name: str
    description: str = ""
    embedding_model: str
    dimensions: int
    chunk_tokens: int
    documents: int = 0
    chunks: int = 0
    created_by: str
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.name}"


class Document(Entity):
    id: str
    collection: str  # project/name
    path: str
    title: str
    digest: str
    artifact_id: str | None = None
    acl: Acl
    chunks: int
    characters: int
    created_by: str
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"document:{self.id}"


class IndexedFile(Entity):
    path: str
    document_id: str
    title: str
    status: Literal["added", "updated", "unchanged", "acl_changed"]
    chunks: int
    acl: Acl


class IndexReport(Entity):
    collection: str
    files: list[IndexedFile]
    parse_s: float = 0.0
    embed_s: float = 0.0
    store_s: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)


class Passage(Entity):
    """A chunk the asking user may read, ranked by cosine similarity to the question."""

    rank: int
    score: float
    document_id: str
    path: str
    title: str
    chunk: int
    start: int  # character offsets in the document's extracted text
    end: int
    text: str


class Retrieved(Entity):
    """The passages a retrieval returned, and the trace that recorded it."""

    collection: str
    user: str
    question: str
    trace_id: str
    passages: list[Passage] = Field(default_factory=list)


class Source(Entity):
    """A document behind a numbered citation ``[n]`` of an answer."""

    number: int
    document_id: str
    path: str
    title: str
    cited: bool  # the answer's text refers to it


class Answer(Entity):
    text: str
    collection: str
    user: str
    question: str
    sources: list[Source] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    trace_id: str
    refused: bool = False  # no passage the user may read answered the question
    blocked: bool = False  # a guard stopped the question or the answer
    model: str | None = None
    usage: dict[str, Any] = Field(default_factory=dict)
    cost_usd: float = 0.0
    guard: list[dict[str, Any]] = Field(default_factory=list)
    # figures the model wrote that no source holds: removed with their sentences
    ungrounded: list[str] = Field(default_factory=list)


class Retrieval(Entity):
    """One document shown to one user in one trace."""

    trace_id: str
    document_id: str
    path: str
    title: str
    collection: str
    user: str
    rank: int
    score: float
    at: datetime
    question: str | None = None  # the trace's redacted input, when the trace was saved


class Viewer(Entity):
    user: str
    times: int
    first_at: datetime
    last_at: datetime


class Audience(Entity):
    """Who was shown a document ("who has seen the salary file?")."""

    document: Document
    users: list[Viewer]
    retrievals: list[Retrieval]
