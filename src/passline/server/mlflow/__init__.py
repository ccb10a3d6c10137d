"""The MLflow REST API subset the official ``mlflow`` client (3.x) uses, on Passline's services.

A team points ``MLFLOW_TRACKING_URI`` at Passline and ``MLFLOW_TRACKING_TOKEN`` at a
Passline token; what it logs becomes ordinary Passline experiments, runs, artifacts and
registered models, with lineage. Routes (``docs/mlflow.md`` has the full table):

    /api/2.0/mlflow/...            tracking.py, registry.py, logged_models.py
    /ajax-api/2.0/mlflow/...       the same (the MLflow UI's prefix)
    /api/2.0/mlflow-artifacts/...  artifacts.py (the artifact proxy)
    /api/3.0/mlflow/server-info    what the client probes before artifact transfers

Every route needs the token and answers errors in MLflow's shape (``errors.py``); any other
path under ``/api/2.0``, ``/api/3.0`` or ``/ajax-api`` answers 404 ENDPOINT_NOT_FOUND.
The routes stay out of Passline's OpenAPI schema: they are MLflow's API, not Passline's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from passline.server.deps import api_services
from passline.server.mlflow import artifacts, logged_models, registry, tracking
from passline.server.mlflow.errors import MlflowError, MlflowRoute
from passline.services.workspace import Services

__all__ = ["router"]

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _server_info(_svc: Services = Depends(api_services)) -> dict[str, Any]:
    return {
        "store_type": "passline",
        "workspaces_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
    }


def _unknown(request: Request, rest: str, _svc: Services = Depends(api_services)) -> None:
    raise MlflowError(
        "ENDPOINT_NOT_FOUND",
        f"Passline does not implement {request.method} {request.url.path} of the MLflow API; "
        "docs/mlflow.md lists the supported calls.",
    )


def _build() -> APIRouter:
    root = APIRouter(route_class=MlflowRoute, include_in_schema=False)
    for base in ("/api/2.0", "/ajax-api/2.0"):
        for module in (tracking, registry, logged_models):
            root.include_router(module.router, prefix=f"{base}/mlflow", include_in_schema=False)
        root.include_router(
            artifacts.router, prefix=f"{base}/mlflow-artifacts", include_in_schema=False
        )
    root.add_api_route("/api/3.0/mlflow/server-info", _server_info, methods=["GET"])
    for base in ("/api/2.0", "/api/3.0", "/ajax-api"):
        root.add_api_route(f"{base}/{{rest:path}}", _unknown, methods=METHODS)
    return root


router = _build()
