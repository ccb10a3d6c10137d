"""The gateway (``passline serve``): models by alias or version, canary and shadow traffic,
hot swap, request ids, a prediction log, Prometheus metrics.

    POST /v1/models/{project}/{name}@{alias or version}/predict
    POST /v1/endpoints/{project}/{name}/predict
    POST /v1/labels
    GET  /metrics            (Prometheus text format)
    GET  /v1/health          (no token needed)

What a request is routed to is read from the database and cached for at most a second, so
an alias move reaches every worker and replica within a second; a version being replaced
keeps answering the requests already using it. Loaded models are cached per version id.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from passline.core.clock import utcnow
from passline.core.entities import ModelVersion
from passline.core.ids import new_id
from passline.errors import InvalidInput, NotFound, PasslineError, Unauthenticated
from passline.services.context import Actor, CallContext
from passline.services.identity import authenticate
from passline.services.model_loading import to_model_input
from passline.services.workspace import Services, Workspace
from passline.serving.batching import MicroBatcher
from passline.serving.inputs import parse_body
from passline.serving.log import PredictionLog, PredictionRecord
from passline.serving.metrics import GatewayMetrics

__all__ = ["Gateway", "create_gateway_app"]

RESOLVE_TTL_S = 1.0
MAX_BODY_BYTES = 16 * 1024 * 1024
UNHEALTHY_AFTER = 5


@dataclass(frozen=True)
class Route:
    endpoint_id: str
    project: str
    model: str
    primary: str  # version ids
    canary: str | None
    canary_percent: int
    shadow: str | None
    redact: tuple[str, ...]
    endpoint_ref: str = ""


@dataclass
class Loaded:
    version: ModelVersion
    model: Any
    batcher: MicroBatcher = field(init=False)

    def __post_init__(self) -> None:
        self.batcher = MicroBatcher(partial(_predict, self.model))


class Gateway:
    """Routing, loaded models and health; shared by the worker's requests (thread-safe)."""

    def __init__(self, workspace: Workspace, log: PredictionLog, metrics: GatewayMetrics) -> None:
        self.workspace = workspace
        self.log = log
        self.metrics = metrics
        self._routes: dict[str, tuple[float, Route]] = {}
        self._tokens: dict[str, tuple[float, Actor]] = {}
        self._models: OrderedDict[str, Loaded] = OrderedDict()
        self._failures: dict[str, int] = {}
        self._served: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._shadow_pool = ThreadPoolExecutor(2, thread_name_prefix="passline-shadow")
        self.system = workspace.services(workspace.local_context("system"))

    # -- auth ---------------------------------------------------------------------------

    def actor(self, token: str | None) -> Actor:
        """The caller, from a token checked at most a second ago (revocations apply within 1 s)."""
        if not token:
            raise Unauthenticated(
                "This route needs an API token.", hint="Send 'Authorization: Bearer <token>'."
            )
        cached = self._tokens.get(token)
        if cached and time.monotonic() - cached[0] < RESOLVE_TTL_S:
            return cached[1]
        actor = authenticate(self.workspace, token)
        self._tokens[token] = (time.monotonic(), actor)
        return actor

    def services(self, actor: Actor, client: str | None) -> Services:
        return self.workspace.services(CallContext(actor, "api", client))

    # -- routing --------------------------------------------------------------------------

    def route(self, svc: Services, target: str, by_endpoint: bool) -> Route:
        key = f"{svc.ctx.actor.user_id}|{'e' if by_endpoint else 'm'}|{target}"
        cached = self._routes.get(key)
        if cached and time.monotonic() - cached[0] < RESOLVE_TTL_S:
            return cached[1]
        route = self._endpoint_route(svc, target) if by_endpoint else self._model_route(svc, target)
        self._routes[key] = (time.monotonic(), route)
        return route

    def _endpoint_route(self, svc: Services, target: str) -> Route:
        from passline.services.endpoints import EndpointService

        endpoint = EndpointService(svc.workspace, svc.ctx).get(target)
        model = svc.registry.get_model(endpoint.model)
        primary = svc.registry.version(endpoint.model, endpoint.alias)
        canary = (
            svc.registry.version(endpoint.model, endpoint.canary_version)
            if endpoint.canary_version
            else None
        )
        shadow = (
            svc.registry.version(endpoint.model, endpoint.shadow_version)
            if endpoint.shadow_version
            else None
        )
        return Route(
            endpoint.id,
            model.project,
            endpoint.model,
            primary.id,
            canary.id if canary else None,
            endpoint.canary_percent,
            shadow.id if shadow else None,
            tuple(endpoint.redact),
            endpoint.ref,
        )

    def _model_route(self, svc: Services, target: str) -> Route:
        """``project/name@alias-or-version``: served through an implicit endpoint."""
        model, at, selector = target.rpartition("@")
        if not at or not model or not selector:
            raise InvalidInput(
                f"Address a model as project/name@alias or @version. Got {target!r}."
            )
        version = svc.registry.version(model, selector)
        project = version.model.split("/")[0]
        endpoint_id, ref = self._implicit_endpoint(project, version.model, selector)
        return Route(endpoint_id, project, version.model, version.id, None, 0, None, (), ref)

    def _implicit_endpoint(self, project: str, model: str, selector: str) -> tuple[str, str]:
        from passline.services.endpoints import EndpointService

        name = f"{model.split('/')[1]}-{selector}".lower().replace("_", "-")[:60]
        endpoints = EndpointService(self.workspace, self.system.ctx)
        try:
            found = endpoints.get(f"{project}/{name}")
        except NotFound:
            try:
                alias = selector if not selector.lstrip("v").isdigit() else "production"
                found = endpoints.create(project, name, model, alias)
            except PasslineError:
                found = endpoints.get(f"{project}/{name}")  # another worker made it first
        return found.id, found.ref

    # -- models --------------------------------------------------------------------------

    def loaded(self, route_model: str, version_id: str) -> Loaded:
        with self._lock:
            if version_id in self._models:
                self._models.move_to_end(version_id)
                return self._models[version_id]
            gate = self._loading.setdefault(version_id, threading.Lock())
        with gate:  # one load per version, however many requests ask at once
            with self._lock:
                if version_id in self._models:
                    return self._models[version_id]
            version = next(
                v for v in self.system.registry.versions(route_model) if v.id == version_id
            )
            loaded = Loaded(version, self.system.registry.load(route_model, version.version))
            with self._lock:
                self._models[version_id] = loaded
                while len(self._models) > 8:
                    self._models.popitem(last=False)
            return loaded

    def healthy(self, version_id: str) -> bool:
        return self._failures.get(version_id, 0) < UNHEALTHY_AFTER

    def health(self) -> dict[str, Any]:
        unhealthy = [v for v, n in self._failures.items() if n >= UNHEALTHY_AFTER]
        return {
            "status": "ok" if not unhealthy else "degraded",
            "loaded": list(self._models),
            "unhealthy_versions": unhealthy,
            "log_dropped": self.log.dropped,
        }

    # -- predicting ------------------------------------------------------------------------

    def answer(
        self,
        token: str | None,
        client: str | None,
        target: str,
        by_endpoint: bool,
        body: bytes,
        content_type: str,
        request_id: str,
    ) -> dict[str, Any]:
        """A whole prediction request, token to answer: the route runs it in one worker
        thread (one hop instead of one per step: each hop costs a thread hand-off)."""
        svc = self.services(self.actor(token), client)
        route = self.route(svc, target, by_endpoint)
        return self.predict(svc, route, body, content_type, request_id)

    def predict(
        self, svc: Services, route: Route, body: bytes, content_type: str, request_id: str
    ) -> dict[str, Any]:
        # The caller's right to the model was checked when the route was resolved (the
        # registry lookups run as the caller); loading and logging run as the gateway.
        role, version_id = self._pick(route)
        loaded = self.loaded(route.model, version_id)
        started = time.perf_counter()
        table, keys = parse_body(body, content_type, loaded.version.signature)
        outputs = self._run(loaded, table, route, role, request_id, started, keys)
        if route.shadow and self.healthy(route.shadow):
            self._shadow_pool.submit(self._shadow, route, table, request_id, keys)
        return {
            "request_id": request_id,
            "model": route.model,
            "version": loaded.version.version,
            "role": role,
            "predictions": outputs,
        }

    def _pick(self, route: Route) -> tuple[str, str]:
        if (
            route.canary
            and self.healthy(route.canary)
            and random.random() * 100 < route.canary_percent
        ):
            return "canary", route.canary
        return "primary", route.primary

    def _run(
        self,
        loaded: Loaded,
        table: Any,
        route: Route,
        role: str,
        request_id: str,
        started: float,
        keys: list[str] | None,
    ) -> list[Any]:
        record = PredictionRecord(
            request_id,
            utcnow(),
            route.endpoint_id,
            loaded.version.id,
            loaded.version.version,
            role,
            200,
            0.0,
            table,
            keys=keys,
        )
        try:
            record.outputs = loaded.batcher.predict(table)
        except Exception as exc:
            self._failures[loaded.version.id] = self._failures.get(loaded.version.id, 0) + 1
            record.status, record.error = 500, f"{type(exc).__name__}: {exc}"
            self._log(route, record, started)
            raise ModelFailed(request_id, exc) from exc
        self._failures[loaded.version.id] = 0
        self._log(route, record, started)
        if (loaded.version.id, route.endpoint_ref) not in self._served:
            self._served.add((loaded.version.id, route.endpoint_ref))
            self._shadow_pool.submit(self._link_served, loaded.version, route.endpoint_ref, role)
        return record.outputs

    def _link_served(self, version: ModelVersion, endpoint_ref: str, role: str) -> None:
        """The lineage edge version -> endpoint, once per pair: training data to traffic."""
        from passline.services.lineage import insert_ignore
        from passline.store.models import LineageEdgeRow

        try:
            with self.workspace.db.write() as session:
                insert_ignore(
                    session,
                    LineageEdgeRow.__table__,
                    [
                        {
                            "id": new_id("edg"),
                            "src_ref": version.ref,
                            "dst_ref": endpoint_ref,
                            "type": "served_by",
                            "actor": "gateway",
                            "created_at": utcnow(),
                            "attrs": {"role": role},
                        }
                    ],
                )
        except Exception:  # lineage must never fail a prediction
            logging.getLogger("passline.serving").exception("recording served_by failed")

    def _shadow(self, route: Route, table: Any, request_id: str, keys: list[str] | None) -> None:
        loaded = self.loaded(route.model, route.shadow or "")
        started = time.perf_counter()
        try:
            self._run(loaded, table, route, "shadow", request_id, started, keys)
        except ModelFailed:
            pass  # logged; a shadow never affects the answer

    def _log(self, route: Route, record: PredictionRecord, started: float) -> None:
        record.latency_ms = (time.perf_counter() - started) * 1000
        self.metrics.observe(
            route.model, record.version, record.role, record.status, record.latency_ms / 1000
        )
        self.log.record(record, route.redact)

    def close(self) -> None:
        self._shadow_pool.shutdown(wait=True)
        self.log.close()


class ModelFailed(Exception):
    def __init__(self, request_id: str, cause: Exception) -> None:
        super().__init__(str(cause))
        self.request_id = request_id
        self.cause = cause


def _predict(model: Any, table: Any) -> list[Any]:
    outputs = model.predict(to_model_input(table, model))
    values = outputs.tolist() if hasattr(outputs, "tolist") else list(outputs)
    return values


# --- the app -----------------------------------------------------------------------------------


def create_gateway_app(workspace: Workspace | None = None, flush_s: float = 1.0) -> FastAPI:
    """The gateway's ASGI app; the prediction log's writer starts and stops with it."""
    from contextlib import asynccontextmanager

    from passline.settings import Settings

    workspace = workspace or Workspace.open(Settings.load())
    metrics = GatewayMetrics()
    gateway = Gateway(workspace, PredictionLog(workspace, flush_s=flush_s), metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        gateway.log.start()
        yield
        gateway.close()

    app = FastAPI(
        title="Passline gateway", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.gateway = gateway
    _routes(app, gateway)
    return app


def _token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value else None


def _error(
    status: int, code: str, message: str, request_id: str | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        **({"request_id": request_id} if request_id else {}),
        **extra,
    }
    headers = {"X-Request-Id": request_id} if request_id else {}
    return JSONResponse(body, status_code=status, headers=headers)


def _routes(app: FastAPI, gateway: Gateway) -> None:
    async def predict(request: Request, target: str, by_endpoint: bool) -> Response:
        request_id = request.headers.get("x-request-id") or f"req_{uuid.uuid4().hex[:24]}"
        length = int(request.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            return _error(
                413,
                "payload_too_large",
                f"The body is {length:,} bytes; the limit is "
                f"{MAX_BODY_BYTES:,}. Send smaller batches.",
                request_id,
            )
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(
                413, "payload_too_large", f"The limit is {MAX_BODY_BYTES:,} bytes.", request_id
            )
        try:
            result = await run_in_threadpool(
                gateway.answer,
                _token(request),
                request.client.host if request.client else None,
                target,
                by_endpoint,
                body,
                request.headers.get("content-type", "application/json"),
                request_id,
            )
        except ModelFailed as failed:
            return _error(
                500,
                "model_error",
                f"The model raised {type(failed.cause).__name__}: {failed.cause}",
                request_id,
            )
        except PasslineError as exc:
            extra = {"field": exc.details["field"]} if "field" in exc.details else {}
            return _error(exc.http_status, exc.code, str(exc), request_id, **extra)
        return JSONResponse(result, headers={"X-Request-Id": request_id})

    # The two predict routes are plain Starlette routes: they read the body themselves, so
    # FastAPI's parameter analysis and validation would only add time to every request.
    async def predict_model(request: Request) -> Response:
        return await predict(request, request.path_params["target"], by_endpoint=False)

    async def predict_endpoint(request: Request) -> Response:
        params = request.path_params
        return await predict(request, f"{params['project']}/{params['name']}", by_endpoint=True)

    app.add_route("/v1/models/{target:path}/predict", predict_model, methods=["POST"])
    app.add_route("/v1/endpoints/{project}/{name}/predict", predict_endpoint, methods=["POST"])

    @app.post("/v1/labels")
    async def labels(request: Request) -> Response:
        try:
            actor = await run_in_threadpool(gateway.actor, _token(request))
            svc = gateway.services(actor, request.client.host if request.client else None)
            payload = await request.json()
            result = await run_in_threadpool(svc.monitoring.add_labels, payload.get("labels", []))
        except PasslineError as exc:
            return _error(exc.http_status, exc.code, str(exc))
        except ValueError:
            return _error(
                422, "invalid_input", 'Send {"labels": [{"request_id": ..., "label": ...}]}.'
            )
        return JSONResponse(result)

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        try:
            await run_in_threadpool(gateway.actor, _token(request))
        except PasslineError as exc:
            return _error(exc.http_status, exc.code, str(exc))
        return Response(gateway.metrics.render(), media_type=gateway.metrics.content_type)

    @app.get("/v1/health")
    async def health() -> dict[str, Any]:
        return gateway.health()
