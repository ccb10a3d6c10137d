"""MLflow tracking routes: experiments, runs, params, metrics, tags, search and history.

Thin handlers: read the request (:class:`Message`), call ``svc.tracking``, convert. Where
experiments live is decided in :mod:`scope`; how a Passline run looks to MLflow, in
:mod:`convert`.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Depends

from passline.errors import NotFound
from passline.server.deps import api_services
from passline.server.mlflow import convert, filters, logged_model_store
from passline.server.mlflow.artifacts import list_run
from passline.server.mlflow.errors import MlflowRoute, creating, invalid
from passline.server.mlflow.message import Message, read_message
from passline.server.mlflow.paging import page, with_token
from passline.server.mlflow.scope import ensure_project, resolve_experiment, split_name
from passline.services.tracking import now_ms
from passline.services.workspace import Services

__all__ = ["router"]

router = APIRouter(route_class=MlflowRoute)

RUN_STATUSES = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
VIEW_TYPES = {1: "ACTIVE_ONLY", 2: "DELETED_ONLY", 3: "ALL"}
#: MLflow's own limits for one runs/log-batch request.
BATCH_LIMITS = {"metrics": 1000, "params": 100, "tags": 100}
BATCH_TOTAL = 1000

Auth = Depends(api_services)
Body = Depends(read_message)


# -- experiments ---------------------------------------------------------------------------


@router.post("/experiments/create")
def create_experiment(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    name = msg.require("name")
    if msg.text("artifact_location"):
        raise invalid("Passline stores artifacts itself: 'artifact_location' is not supported.")
    tags = msg.pairs("tags")
    description = tags.pop("mlflow.note.content", "")
    if tags:
        raise invalid(f"Passline experiments have no tags; got {sorted(tags)}.")
    project, experiment = split_name(name)
    with creating(f"Experiment {name!r} already exists"):
        try:
            created = svc.tracking.create_experiment(project, experiment, description)
        except NotFound:  # the project itself is new
            ensure_project(svc, project)
            created = svc.tracking.create_experiment(project, experiment, description)
    return {"experiment_id": created.id}


@router.get("/experiments/get")
def get_experiment(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    experiment = resolve_experiment(svc, msg.require("experiment_id"))
    return {"experiment": convert.experiment_json(experiment)}


@router.get("/experiments/get-by-name")
def get_experiment_by_name(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    project, name = split_name(msg.require("experiment_name"))
    return {"experiment": convert.experiment_json(svc.tracking.experiment_by_name(project, name))}


@router.api_route("/experiments/search", methods=["GET", "POST"])
def search_experiments(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    if msg.enum("view_type", VIEW_TYPES, "ACTIVE_ONLY") == "DELETED_ONLY":
        return {"experiments": []}  # Passline does not delete experiments
    clauses = filters.parse(msg.text("filter"), {"name", "experiment_id"})
    found = [
        convert.experiment_json(e)
        for e in sorted(svc.tracking.experiments(), key=lambda e: e.created_at, reverse=True)
    ]
    found = [e for e in found if filters.matches(clauses, lambda f, e=e: e.get(f))]
    chosen, token = page(found, msg.integer("max_results"), msg.text("page_token"))
    return with_token({"experiments": chosen}, token)


# -- runs ----------------------------------------------------------------------------------


def _check_tags(tags: dict[str, str]) -> dict[str, str]:
    reserved = [k for k in tags if logged_model_store.is_internal(k)]
    if reserved:
        raise invalid(f"Tags starting with {logged_model_store.PREFIX!r} are reserved: {reserved}.")
    return tags


@router.post("/runs/create")
def create_run(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    experiment = resolve_experiment(svc, msg.text("experiment_id") or "0")
    tags = _check_tags(msg.pairs("tags"))
    commit = tags.get("mlflow.source.git.commit")
    run = svc.tracking.start_run(
        experiment.id,
        name=msg.text("run_name") or tags.get("mlflow.runName"),
        tags=tags,
        entry_point=tags.get("mlflow.source.name"),
        code={"commit": commit} if commit else None,
        start_time=msg.integer("start_time"),
    )
    return {"run": convert.run_json(run)}


@router.get("/runs/get")
def get_run(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    return {"run": convert.run_json(svc.tracking.get_run(msg.run_id()))}


@router.post("/runs/update")
def update_run(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    run_id, status, end = msg.run_id(), msg.enum("status", RUN_STATUSES), msg.integer("end_time")
    run = svc.tracking.get_run(run_id)
    if (name := msg.text("run_name")) and name != run.name:
        svc.tracking.rename_run(run_id, name)
    if status and (status != run.status or end not in (None, run.end_time)):  # not a rename
        svc.tracking.end_run(run_id, status, end)
    return {"run_info": convert.run_info(svc.tracking.get_run(run_id))}


@router.post("/runs/delete")
def delete_run(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    svc.tracking.delete_run(msg.run_id())
    return {}


@router.post("/runs/log-parameter")
def log_param(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    svc.tracking.log_params(msg.run_id(), {msg.require("key"): msg.text("value", "")})
    return {}


@router.post("/runs/set-tag")
def set_tag(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    tags = _check_tags({msg.require("key"): msg.text("value", "") or ""})
    svc.tracking.set_tags(msg.run_id(), tags)
    return {}


@router.post("/runs/delete-tag")
def delete_tag(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    key = msg.require("key")
    _check_tags({key: ""})
    svc.tracking.delete_tag(msg.run_id(), key)
    return {}


@router.post("/runs/log-metric")
def log_metric(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    _log_points(svc, msg.run_id(), [msg.fields])
    return {}


@router.post("/runs/log-batch")
def log_batch(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    run_id = msg.run_id()
    sizes = {kind: len(msg.objects(kind)) for kind in BATCH_LIMITS}
    for kind, limit in BATCH_LIMITS.items():
        if sizes[kind] > limit:
            raise invalid(
                f"A batch logging request can contain at most {limit} {kind}. Got "
                f"{sizes[kind]} {kind}. Split them across several requests."
            )
    if sum(sizes.values()) > BATCH_TOTAL:
        raise invalid(
            f"A batch logging request can contain at most {BATCH_TOTAL} metrics, params and "
            f"tags in total. Got {sum(sizes.values())}."
        )
    params = msg.pairs("params")
    if len(params) != sizes["params"]:
        raise invalid("The batch names the same parameter twice.")
    svc.tracking.log_params(run_id, params)
    svc.tracking.set_tags(run_id, _check_tags(msg.pairs("tags")))
    _log_points(svc, run_id, msg.objects("metrics"))
    return {}


def _log_points(svc: Services, run_id: str, items: list[dict[str, Any]]) -> None:
    points = [_point(item) for item in items]
    linked = {p["key"] for p, item in zip(points, items, strict=True) if item.get("model_id")}
    if linked:  # a logged model re-sends the run's points to link them: keep one copy
        seen = {
            (m.key, m.step, m.timestamp, _same(m.value))
            for key in linked
            for m in svc.tracking.metric_history(run_id, key)
        }
        points = [p for p in points if _signature(p) not in seen]
    svc.tracking.log_metrics(run_id, points)


def _point(item: dict[str, Any]) -> dict[str, Any]:
    metric = Message(item)
    if item.get("value") is None:
        raise invalid(
            f"Missing value for required parameter 'value' of metric {item.get('key')!r}."
        )
    return {
        "key": metric.require("key"),
        "value": item["value"],
        "step": metric.integer("step", 0),
        "timestamp": metric.integer("timestamp") or now_ms(),
    }


def _same(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "nan" if math.isnan(number) else repr(number)


def _signature(point: dict[str, Any]) -> tuple[str, int, int, str]:
    return point["key"], point["step"], point["timestamp"], _same(point["value"])


@router.post("/runs/search")
def search_runs(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    view = msg.enum("run_view_type", VIEW_TYPES, "ACTIVE_ONLY")
    if view == "DELETED_ONLY":
        raise invalid("Passline cannot list deleted runs alone; use ACTIVE_ONLY or ALL.")
    experiments = [resolve_experiment(svc, e).id for e in msg.texts("experiment_ids")]
    result = svc.tracking.search_runs(
        experiments=experiments or None,
        filter=msg.text("filter"),
        order_by=msg.texts("order_by") or None,
        max_results=msg.integer("max_results", 1000) or 0,
        page_token=msg.text("page_token"),
        include_deleted=view == "ALL",
    )
    runs = [convert.run_json(r) for r in result.runs]
    return with_token({"runs": runs}, result.next_page_token)


@router.post("/runs/outputs")
def log_outputs(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    """Link logged models to the run as outputs (``mlflow.sklearn.log_model`` does)."""
    run_id = msg.run_id()
    for item in msg.objects("models"):
        output = Message(item)
        model, _ = logged_model_store.load(svc, output.require("model_id"))
        if model.run_id != run_id:
            raise invalid(
                f"Logged model {model.model_id} belongs to run {model.run_id}; Passline links "
                "a logged model to the run that holds its files only."
            )
        model.step = output.integer("step", 0) or 0
        model.save(svc)
    return {}


@router.get("/metrics/get-history")
def metric_history(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    run_id = msg.run_id()
    points = [
        convert.metric_json(m.key, m.value, m.step, m.timestamp, run_id)
        for m in svc.tracking.metric_history(run_id, msg.require("metric_key"))
    ]
    if msg.integer("max_results") is None and not msg.text("page_token"):
        return {"metrics": points}
    chosen, token = page(points, msg.integer("max_results"), msg.text("page_token"), 25_000)
    return with_token({"metrics": chosen}, token)


@router.get("/artifacts/list")
def list_artifacts(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:

    run_id = msg.run_id()
    folder = (msg.text("path") or "").strip("/")
    files = [
        {**f, "path": f"{folder}/{f['path']}" if folder else f["path"]}
        for f in list_run(svc, run_id, folder)
    ]
    return {"root_uri": convert.artifact_root(run_id), "files": files}
