"""MLflow model-registry routes: registered models, versions, aliases, download locations.

A registered model lives in the project of the runs it versions (``svc.registry.register``
files a version in its run's project). MLflow names carry no project, so:

- ``name`` may be ``project/name``; a bare ``name`` is the model of that name among the
  caller's projects (an ambiguous one answers INVALID_PARAMETER_VALUE asking for the prefix);
- ``registered-models/create`` with a bare name that does not exist yet reserves nothing:
  the model is created by its first version, in that version's run's project (MLflow's
  ``register_model`` does both in one call). ``project/name`` creates it at once.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends

from passline.core.entities import ModelVersion, RegisteredModel
from passline.core.names import check_name
from passline.errors import NotFound
from passline.server.deps import api_services
from passline.server.mlflow import convert, filters, logged_model_store
from passline.server.mlflow.errors import MlflowError, MlflowRoute, creating, invalid
from passline.server.mlflow.message import Message, read_message
from passline.server.mlflow.paging import page, with_token
from passline.server.mlflow.scope import ensure_project
from passline.services.tracking import now_ms
from passline.services.workspace import Services

__all__ = ["router"]

router = APIRouter(route_class=MlflowRoute)
Auth = Depends(api_services)
Body = Depends(read_message)
REASON = "set from an MLflow client"
_ARTIFACTS_RUN = re.compile(
    r"^(?:mlflow-artifacts:|https?://[^/]+/api/2\.0/mlflow-artifacts/artifacts)/+runs/([^/]+)/(.+)$"
)


def _find(svc: Services, name: str) -> RegisteredModel | None:
    try:
        return svc.registry.get_model(name)
    except NotFound:
        return None


def _latest(svc: Services, model: RegisteredModel) -> ModelVersion | None:
    if model.latest_version is None:
        return None
    return svc.registry.version(f"{model.project}/{model.name}", model.latest_version)


def _model_json(svc: Services, model: RegisteredModel) -> dict[str, Any]:
    return convert.registered_model_json(model, _latest(svc, model))


# -- registered models ---------------------------------------------------------------------


@router.post("/registered-models/create")
def create_registered_model(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    name = msg.require("name")
    project, slash, bare = name.rpartition("/")
    check_name("model", bare)
    if _find(svc, name) is not None:
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Registered model {name!r} already exists.")
    description = msg.text("description", "") or ""
    if slash:
        ensure_project(svc, project)
        with creating(f"Registered model {name!r} already exists"):
            model = svc.registry.create_model(project, bare, description)
        return {"registered_model": convert.registered_model_json(model)}
    now = now_ms()  # reserved by name only: created with its first version (module docstring)
    return {
        "registered_model": {
            "name": bare,
            "creation_timestamp": now,
            "last_updated_timestamp": now,
            "user_id": svc.ctx.actor.name,
            "description": description,
        }
    }


@router.get("/registered-models/get")
def get_registered_model(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    model = svc.registry.get_model(msg.require("name"))
    return {"registered_model": _model_json(svc, model)}


@router.patch("/registered-models/update")
def update_registered_model(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    model = svc.registry.update_model(msg.require("name"), description=msg.text("description", ""))
    return {"registered_model": _model_json(svc, model)}


@router.get("/registered-models/search")
def search_registered_models(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    clauses = filters.parse(msg.text("filter"), {"name"})
    found = [m for m in svc.registry.models() if filters.matches(clauses, lambda f, m=m: m.name)]
    chosen, token = page(found, msg.integer("max_results"), msg.text("page_token"), 100)
    return with_token({"registered_models": [_model_json(svc, m) for m in chosen]}, token)


@router.api_route("/registered-models/get-latest-versions", methods=["GET", "POST"])
def latest_versions(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    """Passline has no stages (MLflow deprecated them): every version is in stage None."""
    latest = _latest(svc, svc.registry.get_model(msg.require("name")))
    stages = {s.lower() for s in msg.texts("stages")}
    wanted = latest is not None and (not stages or "none" in stages)
    return {"model_versions": [convert.model_version_json(latest)] if wanted and latest else []}


# -- versions ------------------------------------------------------------------------------


def _run_source(svc: Services, msg: Message) -> str:
    """The ``runs:/<run>/<path>`` a version is registered from."""
    source = msg.require("source")
    model_id = msg.text("model_id")
    if source.startswith("models:/") and "@" not in source and source.count("/") == 1:
        model_id = source.removeprefix("models:/")
    if model_id and not source.startswith("runs:/"):
        model, _ = logged_model_store.load(svc, model_id)
        return f"runs:/{model.run_id}/{model.artifact_path}"
    if source.startswith("runs:/"):
        return source
    if found := _ARTIFACTS_RUN.match(source):
        return f"runs:/{found.group(1)}/{found.group(2).strip('/')}"
    raise invalid(
        f"Passline registers versions from runs: the source must be runs:/<run_id>/<path>, "
        f"models:/<logged model id> or this server's mlflow-artifacts:/runs/... Got {source!r}."
    )


@router.post("/model-versions/create")
def create_model_version(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    name = msg.require("name")
    source = _run_source(svc, msg)
    run = svc.tracking.get_run(source.removeprefix("runs:/").partition("/")[0])
    existing = _find(svc, name)
    home = existing.project if existing else name.rpartition("/")[0] or run.project
    if home != run.project:
        raise invalid(
            f"Model {name!r} lives in project {home!r} and run {run.id} in {run.project!r}: "
            "a version is registered in the project of its run."
        )
    version = svc.registry.register(name, source, description=msg.text("description", "") or "")
    return {"model_version": convert.model_version_json(version)}


def _number(msg: Message) -> str:
    number = msg.require("version")
    if not number.isdigit():
        raise invalid(f"'version' must be a version number. Got {number!r}.")
    return number


@router.get("/model-versions/get")
def get_model_version(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    version = svc.registry.version(msg.require("name"), _number(msg))
    return {"model_version": convert.model_version_json(version)}


@router.get("/model-versions/get-download-uri")
def download_uri(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    version = svc.registry.version(msg.require("name"), _number(msg))
    return {"artifact_uri": f"mlflow-artifacts:/registry/{version.model}/{version.version}"}


@router.get("/model-versions/search")
def search_model_versions(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    clauses = filters.parse(msg.text("filter"), {"name", "run_id", "source", "version"})
    named = [c.value for c in clauses if c.field == "name" and c.op == "="]
    models = [svc.registry.get_model(named[0])] if named else svc.registry.models()
    found = [
        convert.model_version_json(v)
        for m in models
        for v in svc.registry.versions(f"{m.project}/{m.name}")
    ]
    found = [v for v in found if filters.matches(clauses, lambda f, v=v: v.get(f))]
    chosen, token = page(found, msg.integer("max_results"), msg.text("page_token"), 10_000)
    return with_token({"model_versions": chosen}, token)


# -- aliases -------------------------------------------------------------------------------


@router.post("/registered-models/alias")
def set_alias(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    svc.registry.set_alias(msg.require("name"), msg.require("alias"), _number(msg), REASON)
    return {}


@router.delete("/registered-models/alias")
def delete_alias(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    svc.registry.delete_alias(msg.require("name"), msg.require("alias"), REASON)
    return {}


@router.get("/registered-models/alias")
def version_by_alias(svc: Services = Auth, msg: Message = Body) -> dict[str, Any]:
    name, alias = msg.require("name"), msg.require("alias")
    model = svc.registry.get_model(name)
    if alias not in model.aliases:
        raise NotFound(f"Registered model {name!r} has no alias {alias!r}.")
    version = svc.registry.version(f"{model.project}/{model.name}", model.aliases[alias])
    return {"model_version": convert.model_version_json(version)}
