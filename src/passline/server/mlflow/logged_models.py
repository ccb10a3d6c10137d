"""MLflow 3 logged-model routes (``mlflow.<flavor>.log_model(name=...)``): create, get,
finalize, search, tags and params. Storage: :mod:`logged_model_store`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from passline.core.entities import Run
from passline.server.deps import api_services
from passline.server.mlflow import convert, filters
from passline.server.mlflow.errors import MlflowRoute, invalid
from passline.server.mlflow.logged_model_store import (
    INDEX,
    STATUSES,
    LoggedModel,
    in_run,
    load,
    new_model_id,
)
from passline.server.mlflow.message import Message, read_message
from passline.server.mlflow.paging import page, with_token
from passline.server.mlflow.scope import resolve_experiment
from passline.services.tracking import now_ms
from passline.services.workspace import Services

__all__ = ["router"]

router = APIRouter(route_class=MlflowRoute)
Auth = Depends(api_services)
Body = Depends(read_message)
FIELDS = {"name", "model_id", "source_run_id", "status", "model_type", "tags.*", "params.*"}
ORDERS = {"creation_timestamp": "created", "last_updated_timestamp": "updated", "name": "name"}


def _holder(svc: Services, msg: Message, name: str) -> Run:
    """The run whose artifacts hold the model: its source run, or a new one of its own."""
    if run_id := msg.text("source_run_id"):
        return svc.tracking.get_run(run_id)
    experiment = resolve_experiment(svc, msg.text("experiment_id") or "0")
    run = svc.tracking.start_run(experiment.id, name=f"logged model {name}")
    return svc.tracking.end_run(run.id, "FINISHED")


@router.post("/logged-models")
def create_logged_model(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    name = msg.text("name") or "model"
    run = _holder(svc, msg, name)
    given = msg.text("experiment_id")
    now = now_ms()
    model = LoggedModel(
        model_id=new_model_id(run.id),
        run_id=run.id,
        experiment_id=resolve_experiment(svc, given).id if given else run.experiment_id,
        name=name,
        model_type=msg.text("model_type", "") or "",
        created=now,
        updated=now,
        params=msg.pairs("params"),
        tags=msg.pairs("tags"),
    )
    model.save(svc, run)
    return {"model": convert.logged_model_json(model)}


@router.get("/logged-models/{model_id}")
def get_logged_model(model_id: str, svc: Services = Auth) -> dict[str, Any]:
    return {"model": convert.logged_model_json(load(svc, model_id)[0])}


@router.patch("/logged-models/{model_id}")
def finalize_logged_model(
    model_id: str, svc: Services = Auth, msg: Message = Body
) -> dict[str, Any]:
    model, _ = load(svc, model_id)
    model.status = msg.enum("status", STATUSES) or model.status
    model.updated = now_ms()
    model.save(svc)
    return {"model": convert.logged_model_json(model)}


@router.patch("/logged-models/{model_id}/tags")
def set_logged_model_tags(
    model_id: str, svc: Services = Auth, msg: Message = Body
) -> dict[str, Any]:
    model, _ = load(svc, model_id)
    model.tags.update(msg.pairs("tags"))
    model.updated = now_ms()
    model.save(svc)
    return {"model": convert.logged_model_json(model)}


@router.delete("/logged-models/{model_id}/tags/{key:path}")
def delete_logged_model_tag(model_id: str, key: str, svc: Services = Auth) -> dict[str, Any]:
    model, _ = load(svc, model_id)
    model.tags.pop(key, None)
    model.updated = now_ms()
    model.save(svc)
    return {}


@router.post("/logged-models/{model_id}/params")
def log_logged_model_params(
    model_id: str, svc: Services = Auth, msg: Message = Body
) -> dict[str, Any]:
    model, _ = load(svc, model_id)
    given = msg.pairs("params")
    changed = sorted(k for k, v in given.items() if model.params.get(k, v) != v)
    if changed:
        raise invalid(f"Parameters {changed} of logged model {model_id} cannot change.")
    model.params.update(given)
    model.updated = now_ms()
    model.save(svc)
    return {}


def _models(svc: Services, experiment_ids: list[str]) -> list[LoggedModel]:
    """Every logged model of these experiments the caller may view (all when empty)."""
    wanted = {resolve_experiment(svc, e).id for e in experiment_ids}
    found: list[LoggedModel] = []
    token = None
    while True:
        result = svc.tracking.search_runs(
            experiments=sorted(wanted) or None,
            filter=f"tags.`{INDEX}` != ''",
            max_results=1000,
            page_token=token,
        )
        found += [m for run in result.runs for m in in_run(run)]
        token = result.next_page_token
        if not token:
            return [m for m in found if not wanted or m.experiment_id in wanted]


def _lookup(model: LoggedModel, field: str) -> str | None:
    kind, _, key = field.partition(".")
    if kind in ("tags", "params") and key:
        return (model.tags if kind == "tags" else model.params).get(key)
    if field == "source_run_id":
        return model.run_id
    if field == "status":
        return model.status.removeprefix("LOGGED_MODEL_")
    return str(getattr(model, field))


def _sorted(models: list[LoggedModel], order_by: list[dict[str, Any]]) -> list[LoggedModel]:
    models = sorted(models, key=lambda m: (m.created, m.model_id), reverse=True)
    for order in reversed(order_by):
        field = ORDERS.get(str(order.get("field_name")))
        if field is None:
            raise invalid(
                f"Cannot order logged models by {order.get('field_name')!r}; use one of "
                f"{', '.join(ORDERS)}."
            )
        descending = order.get("ascending") is False
        models.sort(key=lambda m, f=field: getattr(m, f), reverse=descending)
    return models


@router.post("/logged-models/search")
def search_logged_models(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    if msg.objects("datasets"):
        raise invalid("Passline cannot filter logged models by dataset metrics.")
    clauses = filters.parse(msg.text("filter"), FIELDS)
    models = [
        m
        for m in _models(svc, msg.texts("experiment_ids"))
        if filters.matches(clauses, lambda f, m=m: _lookup(m, f))
    ]
    models = _sorted(models, msg.objects("order_by"))
    chosen, token = page(models, msg.integer("max_results"), msg.text("page_token"), 100)
    return with_token({"models": [convert.logged_model_json(m) for m in chosen]}, token)
