"""The app factory: ``create_app(settings)`` serves the REST API and the web UI."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

import passline
from passline.server.deps import api_services
from passline.server.errors import install_error_handlers
from passline.server.routers import (
    artifacts,
    audit,
    backlog,
    datasets,
    environments,
    evaluation,
    gates,
    guard,
    identity,
    lineage,
    llm,
    pipelines,
    projects,
    rag,
    redteam,
    registry,
    serving,
    tracking,
)
from passline.services.workspace import Services, Workspace
from passline.settings import Settings

__all__ = ["create_app"]

TEMPLATES = Path(__file__).parent / "templates"


def create_app(settings: Settings | None = None, workspace: Workspace | None = None) -> FastAPI:
    """Build the ASGI app on a workspace (opened, and migrated, from ``settings`` if absent)."""
    workspace = workspace or Workspace.open(settings or Settings.load())
    app = FastAPI(
        title="Passline",
        version=passline.__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.workspace = workspace
    app.state.templates = Jinja2Templates(directory=str(TEMPLATES))
    install_error_handlers(app)
    app.include_router(_api_router(), prefix="/api/v1")
    app.include_router(_docs_router())
    from passline.server.mlflow import router as mlflow_router  # MLflow clients: docs/mlflow.md

    app.include_router(mlflow_router)
    app.include_router(llm.openai_router)  # OTLP /v1/traces and /v1/chat/completions

    from passline.server.ui import router as ui_router
    from passline.server.ui_envs import router as ui_envs_router
    from passline.server.ui_eval import router as ui_eval_router
    from passline.server.ui_llm import router as ui_llm_router
    from passline.server.ui_pipelines import router as ui_pipelines_router
    from passline.server.ui_pm import router as ui_pm_router

    app.include_router(ui_router)
    app.include_router(ui_llm_router)
    app.include_router(ui_eval_router)
    app.include_router(ui_pm_router)
    app.include_router(ui_envs_router)
    app.include_router(ui_pipelines_router)
    return app


def _api_router() -> APIRouter:
    api = APIRouter()
    api.add_api_route("/health", _health, methods=["GET"], tags=["health"], summary="Health")
    for module in (
        identity,
        projects,
        artifacts,
        lineage,
        audit,
        datasets,
        tracking,
        registry,
        serving,
        rag,
        guard,
        llm,
        evaluation,
        redteam,
        backlog,
        gates,
        environments,
        pipelines,
    ):
        api.include_router(module.router)
    api.include_router(datasets.sources_router)
    return api


def _health() -> dict[str, str]:
    """Liveness: the only route that needs no token."""
    return {"status": "ok", "version": passline.__version__}


def _docs_router() -> APIRouter:
    # The OpenAPI schema and its viewer need a token too (a UI session cookie will do).
    docs = APIRouter(include_in_schema=False)

    @docs.get("/openapi.json")
    def openapi(request: Request, _svc: Services = Depends(api_services)) -> JSONResponse:
        return JSONResponse(request.app.openapi())

    @docs.get("/docs")
    def swagger(_svc: Services = Depends(api_services)) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Passline API")

    return docs
