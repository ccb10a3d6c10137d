"""Endpoints, labels, monitoring dashboards, monitors and alerts (the gateway itself is a
separate app: ``passline serve``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from passline.server.deps import api_services
from passline.services.endpoints import Endpoint
from passline.services.monitors import Alert, Monitor
from passline.services.workspace import Services

router = APIRouter(tags=["serving and monitoring"])


class NewEndpoint(BaseModel):
    project: str
    name: str
    model: str
    alias: str = "production"
    redact: list[str] = Field(default_factory=list)


class EndpointChanges(BaseModel):
    alias: str | None = None
    canary_version: int | None = None
    canary_percent: int | None = None
    shadow_version: int | None = None
    clear_canary: bool = False
    clear_shadow: bool = False
    redact: list[str] | None = None


class Labels(BaseModel):
    labels: list[dict[str, Any]]
    source: str = "api"


class DatasetLabels(BaseModel):
    dataset: str
    key: str
    label: str
    window: str = "30d"


class NewMonitor(BaseModel):
    endpoint: str
    name: str
    metric: str
    threshold: float
    window: str = "15m"
    role: str = "primary"
    min_rows: int = 20
    schedule: str = "* * * * *"
    action: str = "notify"
    webhook_url: str | None = None


@router.get("/endpoints", response_model=list[Endpoint])
def endpoints(project: str | None = None, svc: Services = Depends(api_services)) -> list[Endpoint]:
    return svc.endpoints.list(project)


@router.post("/endpoints", response_model=Endpoint, status_code=201)
def create_endpoint(body: NewEndpoint, svc: Services = Depends(api_services)) -> Endpoint:
    return svc.endpoints.create(body.project, body.name, body.model, body.alias, body.redact)


@router.get("/endpoints/{project}/{name}", response_model=Endpoint)
def endpoint(project: str, name: str, svc: Services = Depends(api_services)) -> Endpoint:
    return svc.endpoints.get(f"{project}/{name}")


@router.patch("/endpoints/{project}/{name}", response_model=Endpoint)
def configure_endpoint(
    project: str, name: str, body: EndpointChanges, svc: Services = Depends(api_services)
) -> Endpoint:
    """Alias, canary version and share, shadow version, redacted inputs."""
    return svc.endpoints.configure(f"{project}/{name}", **body.model_dump())


@router.get("/endpoints/{project}/{name}/dashboard")
def dashboard(
    project: str, name: str, window: str = "1h", svc: Services = Depends(api_services)
) -> dict[str, Any]:
    """Per minute and version: requests, error rate, p50/p95/p99 latency."""
    return svc.monitoring.dashboard(f"{project}/{name}", window)


@router.get("/endpoints/{project}/{name}/predictions")
def predictions(
    project: str, name: str, window: str = "24h", svc: Services = Depends(api_services)
) -> dict[str, Any]:
    """The distribution of the predictions in the window."""
    return svc.monitoring.predictions(f"{project}/{name}", window)


@router.get("/endpoints/{project}/{name}/performance")
def performance(
    project: str,
    name: str,
    window: str = "7d",
    segment: str | None = None,
    start: str | None = None,
    end: str | None = None,
    svc: Services = Depends(api_services),
) -> dict[str, Any]:
    """Realised metrics from labels, per version and segment, with disparity ratios;
    ``start``/``end`` (ISO 8601) pick a span instead of the last ``window``."""
    return svc.monitoring.realised(f"{project}/{name}", window, segment, start=start, end=end)


@router.post("/labels")
def add_labels(body: Labels, svc: Services = Depends(api_services)) -> dict[str, Any]:
    """Ground truth by request id (the gateway's ``POST /v1/labels`` takes the same body)."""
    return svc.monitoring.add_labels(body.labels, body.source)


@router.post("/endpoints/{project}/{name}/labels:join")
def labels_from_dataset(
    project: str, name: str, body: DatasetLabels, svc: Services = Depends(api_services)
) -> dict[str, Any]:
    """Ground truth from a dataset version joined to the predictions' keys."""
    return svc.monitoring.labels_from_dataset(
        f"{project}/{name}", body.dataset, body.key, body.label, body.window
    )


class DriftRequest(BaseModel):
    reference: str
    current: str
    columns: list[str] | None = None
    tests: dict[str, Any] | None = None
    drift_share: float = 0.5


@router.post("/drift")
def drift(body: DriftRequest, svc: Services = Depends(api_services)) -> dict[str, Any]:
    """Two dataset versions compared column by column from their stored profiles."""
    return svc.drift.compare(
        body.reference, body.current, body.columns, body.tests, body.drift_share
    )


@router.get("/endpoints/{project}/{name}/drift")
def endpoint_drift(
    project: str,
    name: str,
    window: str = "24h",
    role: str = "primary",
    reference: str | None = None,
    svc: Services = Depends(api_services),
) -> dict[str, Any]:
    """The endpoint's inputs and predictions over ``window`` against its training data."""
    return svc.drift.endpoint_drift(f"{project}/{name}", window, role, reference)


@router.get("/monitors", response_model=list[Monitor])
def monitors(project: str | None = None, svc: Services = Depends(api_services)) -> list[Monitor]:
    return svc.monitors.list(project)


@router.post("/monitors", response_model=Monitor, status_code=201)
def add_monitor(body: NewMonitor, svc: Services = Depends(api_services)) -> Monitor:
    return svc.monitors.add(**body.model_dump())


@router.post("/monitors/{project}/{name}:run")
def run_monitor(project: str, name: str, svc: Services = Depends(api_services)) -> dict[str, Any]:
    """Check the monitor now; alerts and rollbacks happen as on its schedule."""
    return svc.monitors.run(f"{project}/{name}")


@router.get("/alerts", response_model=list[Alert])
def alerts(
    project: str | None = None, limit: int = 100, svc: Services = Depends(api_services)
) -> list[Alert]:
    return svc.monitors.alerts(project, limit)
