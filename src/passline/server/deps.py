"""Per-request plumbing: who is calling (token), from where, and their bound services."""

from __future__ import annotations

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from passline.services.context import CallContext, Origin
from passline.services.identity import authenticate
from passline.services.workspace import Services, Workspace

__all__ = ["COOKIE", "services_for", "workspace_of"]

COOKIE = "passline_token"


def workspace_of(request: Request) -> Workspace:
    return request.app.state.workspace  # type: ignore[no-any-return]


def _presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get(COOKIE)


def services_for(request: Request, origin: Origin) -> Services:
    workspace = workspace_of(request)
    actor = authenticate(workspace, _presented_token(request))
    request.state.user = actor.name
    client = request.client.host if request.client else None
    return workspace.services(CallContext(actor, origin, client))


_bearer = HTTPBearer(auto_error=False, description="An API token: passline tokens create")


def api_services(
    request: Request,
    _documented: HTTPAuthorizationCredentials | None = Security(_bearer),
) -> Services:
    """FastAPI dependency for /api routes: a valid bearer token or UI session cookie.

    ``_documented`` only declares the bearer scheme in the OpenAPI schema; the token is read
    (and checked) by :func:`services_for`, which also accepts the UI's cookie.
    """
    claimed = request.headers.get("x-passline-origin")
    return services_for(request, claimed if claimed in ("cli", "sdk") else "api")


def ui_services(request: Request) -> Services:
    return services_for(request, "ui")
