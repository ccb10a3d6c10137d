"""The objects every surface returns: the SDK (both transports), the API and the CLI.

They are frozen pydantic models so that the HTTP transport can rebuild exactly what the
embedded one returns, and so that ``--json`` output is the API's JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Artifact",
    "AuditEntry",
    "AuditVerification",
    "CreatedToken",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "Member",
    "Project",
    "TokenInfo",
    "User",
]


class Entity(BaseModel):
    model_config = ConfigDict(frozen=True)


class User(Entity):
    id: str
    name: str
    display_name: str
    kind: Literal["user", "service"]
    is_admin: bool
    created_at: datetime
    disabled: bool = False


class Project(Entity):
    id: str
    name: str
    description: str
    created_at: datetime
    created_by: str


class Member(Entity):
    project: str
    user: str
    role: str


class TokenInfo(Entity):
    id: str
    user: str
    name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def state(self) -> str:
        from passline.core.clock import as_utc, utcnow

        if self.revoked_at:
            return "revoked"
        return "expired" if as_utc(self.expires_at) <= utcnow() else "active"


class CreatedToken(Entity):
    """A new token; ``secret`` is shown once and never stored."""

    info: TokenInfo
    secret: str


class Artifact(Entity):
    id: str
    project: str
    name: str
    digest: str
    size: int
    media_type: str
    created_at: datetime
    created_by: str

    @property
    def ref(self) -> str:
        return f"artifact:{self.id}"


class LineageNode(Entity):
    ref: str
    kind: str
    label: str
    project: str | None = None
    depth: int = 0


class LineageEdge(Entity):
    id: str
    src: str
    dst: str
    type: str
    actor: str
    created_at: datetime
    attrs: dict[str, Any] = {}


class LineageGraph(Entity):
    root: str
    direction: Literal["up", "down", "both"]
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    hidden: int = 0  # nodes left out because the caller may not view their project


class AuditEntry(Entity):
    seq: int
    at: str
    actor: str
    action: str
    object: str
    project: str | None
    origin: str
    client: str | None
    changes: dict[str, Any]
    prev_hash: str
    hash: str


class AuditVerification(Entity):
    ok: bool
    checked: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: Literal["edited", "inserted", "deleted", "truncated"] | None = None
    message: str


class Dataset(Entity):
    id: str
    project: str
    name: str
    description: str
    owner: str
    sensitivity: str
    sensitivity_reason: str | None = None
    tags: list[str] = []
    column_tags: dict[str, list[str]] = {}
    key_columns: list[str] = []
    expectations: str | None = None
    latest_version: str | None = None
    latest_number: int | None = None
    latest_rows: int | None = None
    latest_at: datetime | None = None
    created_at: datetime
    created_by: str

    @property
    def ref(self) -> str:
        return f"dataset:{self.project}/{self.name}"


class DatasetVersion(Entity):
    id: str
    dataset: str  # project/name
    number: int
    status: Literal["ok", "quarantined"]
    mode: Literal["replace", "append"]
    rows: int
    bytes: int
    new_bytes: int
    columns: list[dict[str, Any]]  # name, type, nullable
    source: dict[str, Any]
    parent: str | None = None
    actor: str
    created_at: datetime
    profile_digest: str
    quality: list[dict[str, Any]] = []
    pii: dict[str, Any] = {}
    bad_rows: dict[str, Any] = {}
    cursor: dict[str, Any] = {}
    encrypted: bool = False
    is_latest: bool = False
    unchanged: bool = False  # an ingest found this exact content already stored

    @property
    def ref(self) -> str:
        return f"dataset_version:{self.id}"

    @property
    def label(self) -> str:
        return f"{self.dataset}@v{self.number}"


class DatasetGrant(Entity):
    dataset: str
    user: str
    granted_by: str
    granted_at: datetime
    reason: str


class Source(Entity):
    id: str
    project: str
    name: str
    kind: str
    config: dict[str, Any]
    dataset: str
    mode: str
    options: dict[str, Any] = {}
    schedule: str | None = None
    created_by: str
    created_at: datetime
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    last_status: str | None = None
    last_message: str | None = None
    last_version: str | None = None


#: A metric value as JSON carries it: NaN and infinities as strings, as MLflow does.
MetricValue = float | Literal["NaN", "Infinity", "-Infinity"]


class Experiment(Entity):
    id: str
    project: str
    name: str
    description: str = ""
    created_at: datetime
    created_by: str


class MetricPoint(Entity):
    key: str
    value: MetricValue
    step: int
    timestamp: int


class Run(Entity):
    id: str
    experiment: str
    experiment_id: str
    project: str
    name: str
    status: Literal["RUNNING", "FINISHED", "FAILED", "KILLED"]
    start_time: int
    end_time: int | None = None
    user: str
    entry_point: str | None = None
    params: dict[str, str] = {}
    metrics: dict[str, MetricValue] = {}
    tags: dict[str, str] = {}
    inputs: list[dict[str, Any]] = []
    artifacts: list[dict[str, Any]] = []
    code: dict[str, Any] = {}
    environment: dict[str, Any] = {}

    @property
    def ref(self) -> str:
        return f"run:{self.id}"


class RunPage(Entity):
    runs: list[Run]
    next_page_token: str | None = None


class RegisteredModel(Entity):
    id: str
    project: str
    name: str
    description: str = ""
    owner: str
    intended_use: dict[str, Any] = {}
    created_at: datetime
    aliases: dict[str, int] = {}
    latest_version: int | None = None

    @property
    def ref(self) -> str:
        return f"model:{self.project}/{self.name}"


class ModelVersion(Entity):
    id: str
    model: str  # project/name
    version: int
    run_id: str | None = None
    source: str
    format: str
    files: list[dict[str, Any]] = []
    signature: dict[str, Any] = {}
    metrics: dict[str, MetricValue] = {}
    dataset_versions: list[str] = []
    description: str = ""
    author: str
    created_at: datetime
    aliases: list[str] = []
    approvals: list[dict[str, Any]] = []

    @property
    def ref(self) -> str:
        return f"model_version:{self.id}"

    @property
    def label(self) -> str:
        return f"{self.model}/v{self.version}"


class AliasMove(Entity):
    id: str
    model: str
    alias: str
    from_version: int | None = None
    to_version: int | None = None
    actor: str
    at: datetime
    reason: str = ""
    kind: str
    evidence: dict[str, Any] = {}
    duration_ms: float | None = None


class ReleasePolicy(Entity):
    project: str
    alias: str
    require_approval: bool = True
    checks: list[dict[str, Any]] = []
    updated_by: str
    updated_at: datetime
