"""One place that turns errors into HTTP answers: JSON for the API, a page for the UI."""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from passline.errors import PasslineError, Unauthenticated

__all__ = ["install_error_handlers"]

log = logging.getLogger("passline.server")


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith(("/api/", "/v1/")) or path == "/openapi.json")


def _render(request: Request, status: int, body: dict[str, object]) -> Response:
    if _wants_html(request):
        templates = request.app.state.templates
        # The caller is known when the error came after authentication (403, 404...).
        context = {"error": body, "status": status, "user": getattr(request.state, "user", None)}
        return templates.TemplateResponse(request, "error.html", context, status_code=status)
    return JSONResponse(body, status_code=status)


async def _passline_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PasslineError)  # registered for this type only
    if isinstance(exc, Unauthenticated) and _wants_html(request):
        query = request.url.query
        target = request.url.path + (f"?{query}" if query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
    response = _render(request, exc.http_status, exc.to_dict())
    if isinstance(exc, Unauthenticated):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body')}: {err.get('msg')}"
        for err in exc.errors()
    ]
    body = {
        "code": "invalid_input",
        "message": "The request is not valid: " + "; ".join(problems),
        "hint": "See the API reference at /docs.",
    }
    return _render(request, 422, body)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = "not_found" if exc.status_code == 404 else "error"
    return _render(request, exc.status_code, {"code": code, "message": str(exc.detail)})


async def _unexpected(request: Request, exc: Exception) -> Response:
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", incident, request.method, request.url.path)
    body = {
        "code": "error",
        "message": f"Passline hit an internal error (incident {incident}).",
        "hint": "The server log has the details under this incident id.",
    }
    return _render(request, 500, body)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PasslineError, _passline_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
