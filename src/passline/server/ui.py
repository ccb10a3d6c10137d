"""Web UI: server-rendered pages (Jinja2), no JavaScript build step.

Pages call the same services as the API, with the caller taken from the session cookie
that ``/login`` sets from a token. The cookie is HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from passline.errors import Unauthenticated
from passline.server.deps import COOKIE, ui_services, workspace_of
from passline.services.identity import authenticate
from passline.services.workspace import Services

router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str, svc: Services | None, **context: Any) -> HTMLResponse:
    user = svc.ctx.actor.name if svc else None
    return request.app.state.templates.TemplateResponse(
        request, template, {"user": user, **context}
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _page(request, "login.html", None, next=next, error=None)


@router.post("/login")
def login(request: Request, token: str = Form(...), next: str = Form("/")) -> Response:
    try:
        authenticate(workspace_of(request), token)
    except Unauthenticated as exc:
        page = _page(request, "login.html", None, next=next, error=str(exc))
        page.status_code = 401
        return page
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def index(request: Request, svc: Services = Depends(ui_services)) -> HTMLResponse:
    return _page(request, "projects.html", svc, projects=svc.projects.list())
