"""The Python SDK: one ``Client`` with two transports, in-process and HTTP.

    >>> import passline
    >>> pl = passline.connect()                       # embedded, acts as the OS user
    >>> pl.create_project("retail", "Demand forecasting")
    >>> art = pl.put_artifact("retail", "sales.csv")
    >>> pl.lineage(art.ref, direction="up")

``connect("http://host:8765", token=...)`` returns the same client talking to a server; the
methods, return types and errors are the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter

from passline.core.entities import (
    Artifact,
    AuditEntry,
    AuditVerification,
    CreatedToken,
    LineageEdge,
    LineageGraph,
    LineageNode,
    Member,
    Project,
    TokenInfo,
    User,
)
from passline.sdk.backlog import BacklogAPI
from passline.sdk.datasets import DatasetsAPI, SourcesAPI
from passline.sdk.environments import EnvironmentsAPI
from passline.sdk.evaluation import EvaluationAPI
from passline.sdk.gates import GatesAPI, MaturityAPI
from passline.sdk.guard import GuardAPI
from passline.sdk.llm import LlmAPI, PromptsAPI, TracesAPI
from passline.sdk.operations import OPERATIONS
from passline.sdk.pipelines import PipelinesAPI
from passline.sdk.rag import GroupsAPI, RagAPI
from passline.sdk.redteam import RedteamAPI
from passline.sdk.serving import EndpointsAPI, MonitoringAPI
from passline.sdk.tracking import ActiveRun, ModelsAPI, RunsAPI
from passline.sdk.transports import HttpTransport, LocalTransport, Transport

__all__ = ["Client", "connect"]


def connect(url: str | None = None, token: str | None = None, **settings: Any) -> Client:
    """A client for ``url`` (or ``PASSLINE_URL``) over HTTP, else the local workspace.

    Args:
        url: server address such as ``http://127.0.0.1:8765``; embedded when empty.
        token: API token for the server (or ``PASSLINE_TOKEN``).
        **settings: overrides of :class:`passline.settings.Settings` for embedded mode.
    """
    url = url or os.environ.get("PASSLINE_URL")
    origin = settings.pop("origin", "sdk")
    if url:
        return Client(HttpTransport(url, token or os.environ.get("PASSLINE_TOKEN"), origin=origin))
    return Client(LocalTransport.open(origin=origin, **settings))


class Client:
    """Every Passline operation; see ``docs/sdk.md`` for examples."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self.datasets = DatasetsAPI(self)
        self.sources = SourcesAPI(self)
        self.runs = RunsAPI(self)
        self.models = ModelsAPI(self)
        self.endpoints = EndpointsAPI(self)
        self.monitoring = MonitoringAPI(self)
        self.groups = GroupsAPI(self)
        self.rag = RagAPI(self)
        self.guard = GuardAPI(self)
        self.llm = LlmAPI(self)
        self.prompts = PromptsAPI(self)
        self.traces = TracesAPI(self)
        self.evaluation = EvaluationAPI(self)
        self.redteam = RedteamAPI(self)
        self.gates = GatesAPI(self)
        self.environments = EnvironmentsAPI(self)
        self.pipelines = PipelinesAPI(self)
        self.maturity = MaturityAPI(self)
        self.backlog = BacklogAPI(self)

    def start_run(
        self,
        experiment: str,
        name: str | None = None,
        tags: dict[str, str] | None = None,
        inputs: list[str] | None = None,
        capture_code: bool = True,
    ) -> ActiveRun:
        """Open a run in ``project/experiment`` (created when missing); use it in ``with``."""
        return self.runs.start(experiment, name, tags, inputs, capture_code)

    @property
    def transport(self) -> Transport:
        return self._transport

    def _call(self, op: str, **params: Any) -> Any:
        result = self._transport.call(op, {k: v for k, v in params.items() if v is not None})
        returns = OPERATIONS[op].returns
        return TypeAdapter(returns).validate_python(result) if returns is not None else None

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # identity
    def whoami(self) -> User:
        return self._call("whoami")

    def create_user(
        self,
        name: str,
        display_name: str | None = None,
        kind: Literal["user", "service"] = "user",
        admin: bool = False,
    ) -> User:
        return self._call(
            "create_user", name=name, display_name=display_name, kind=kind, admin=admin
        )

    def set_user_disabled(self, name: str, disabled: bool = True) -> User:
        """Disable a user (their tokens stop working) or enable them again (admins)."""
        return self._call("set_user_disabled", name=name, disabled=disabled)

    def list_users(self) -> list[User]:
        return self._call("list_users")

    def create_token(
        self, name: str, user: str | None = None, ttl_days: int | None = None
    ) -> CreatedToken:
        """A new API token; its ``secret`` is returned now and never again."""
        return self._call("create_token", name=name, user=user, ttl_days=ttl_days)

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        return self._call("list_tokens", user=user)

    def revoke_token(self, token_id: str) -> TokenInfo:
        return self._call("revoke_token", token_id=token_id)

    # projects
    def create_project(self, name: str, description: str = "") -> Project:
        return self._call("create_project", name=name, description=description)

    def list_projects(self) -> list[Project]:
        return self._call("list_projects")

    def get_project(self, name: str) -> Project:
        return self._call("get_project", name=name)

    def project_members(self, name: str) -> list[Member]:
        return self._call("project_members", name=name)

    def add_member(self, project: str, user: str, role: str = "viewer") -> Member:
        return self._call("add_member", name=project, user=user, role=role)

    def remove_member(self, project: str, user: str) -> None:
        self._call("remove_member", name=project, user=user)

    # artifacts
    def put_artifact(
        self,
        project: str,
        path: str | Path,
        name: str | None = None,
        media_type: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Artifact:
        """Store a file, streamed; the same bytes are stored once.

        ``progress`` is called with the size of each chunk read, for progress bars.
        """
        source = Path(path)
        result = self._transport.put_file(
            project, source, name or source.name, media_type, progress
        )
        return Artifact.model_validate(result)

    def download_artifact(self, artifact_id: str, dest: str | Path) -> Path:
        """Write an artifact to ``dest`` after checking its SHA-256."""
        return self._transport.download(artifact_id, Path(dest))

    def list_artifacts(self, project: str) -> list[Artifact]:
        return self._call("list_artifacts", project=project)

    def get_artifact(self, artifact_id: str) -> Artifact:
        return self._call("get_artifact", artifact_id=artifact_id)

    def verify_artifacts(self) -> dict[str, Any]:
        return self._call("verify_artifacts")

    # lineage
    def register_node(self, ref: str, label: str, project: str) -> LineageNode:
        return self._call("register_node", ref=ref, label=label, project=project)

    def link(
        self, src: str, dst: str, type: str, attrs: dict[str, Any] | None = None
    ) -> LineageEdge:
        return self._call("link", src=src, dst=dst, type=type, attrs=attrs)

    def link_many(self, edges: list[dict[str, Any]]) -> list[LineageEdge]:
        return self._call("link_many", edges=edges)

    def lineage(
        self, ref: str, direction: Literal["up", "down", "both"] = "up", depth: int | None = None
    ) -> LineageGraph:
        return self._call("lineage", ref=ref, direction=direction, depth=depth)

    # audit
    def audit_log(
        self,
        actor: str | None = None,
        object: str | None = None,
        action: str | None = None,
        project: str | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        return self._call(
            "audit_log",
            actor=actor,
            object=object,
            action=action,
            project=project,
            before_seq=before_seq,
            limit=limit,
        )

    def verify_audit(self) -> AuditVerification:
        return self._call("verify_audit")
