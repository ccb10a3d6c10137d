"""Every operation the SDK offers: which service method runs it, which REST route serves it.

One table drives both transports, so the in-process and HTTP clients cannot drift apart:
the embedded transport calls ``services.<service>.<method>``; the HTTP transport sends the
route below. ``tests/test_sdk_parity.py`` runs one scenario through both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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

__all__ = ["OPERATIONS", "Operation"]


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    http_method: str
    path: str  # placeholders are filled from the call's arguments
    returns: Any = None


OPERATIONS: dict[str, Operation] = {
    "whoami": Operation("identity", "whoami", "GET", "/me", User),
    "create_user": Operation("identity", "create_user", "POST", "/users", User),
    "list_users": Operation("identity", "list_users", "GET", "/users", list[User]),
    "set_user_disabled": Operation(
        "identity", "set_disabled", "PUT", "/users/{name}/disabled", User
    ),
    "create_token": Operation("identity", "create_token", "POST", "/tokens", CreatedToken),
    "list_tokens": Operation("identity", "list_tokens", "GET", "/tokens", list[TokenInfo]),
    "revoke_token": Operation(
        "identity", "revoke_token", "DELETE", "/tokens/{token_id}", TokenInfo
    ),
    "create_project": Operation("projects", "create", "POST", "/projects", Project),
    "list_projects": Operation("projects", "list", "GET", "/projects", list[Project]),
    "get_project": Operation("projects", "get", "GET", "/projects/{name}", Project),
    "project_members": Operation(
        "projects", "members", "GET", "/projects/{name}/members", list[Member]
    ),
    "add_member": Operation(
        "projects", "add_member", "PUT", "/projects/{name}/members/{user}", Member
    ),
    "remove_member": Operation(
        "projects", "remove_member", "DELETE", "/projects/{name}/members/{user}"
    ),
    "list_artifacts": Operation(
        "artifacts", "list", "GET", "/projects/{project}/artifacts", list[Artifact]
    ),
    "get_artifact": Operation("artifacts", "get", "GET", "/artifacts/{artifact_id}", Artifact),
    "verify_artifacts": Operation(
        "artifacts", "verify", "POST", "/artifacts/verify", dict[str, Any]
    ),
    "register_node": Operation("lineage", "register", "POST", "/lineage/nodes", LineageNode),
    "link": Operation("lineage", "link", "POST", "/lineage/edges", LineageEdge),
    "link_many": Operation(
        "lineage", "link_many", "POST", "/lineage/edges:batch", list[LineageEdge]
    ),
    "lineage": Operation("lineage", "graph", "GET", "/lineage/graph", LineageGraph),
    "audit_log": Operation("audit", "log", "GET", "/audit", list[AuditEntry]),
    "verify_audit": Operation("audit", "verify", "POST", "/audit/verify", AuditVerification),
}
