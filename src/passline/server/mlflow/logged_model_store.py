"""MLflow 3 logged models, kept in the run that holds their files: no table of their own.

A logged model's files are artifacts of its source run under ``models/<model_id>/``, so
``passline.registry.register("runs:/<run>/models/<model_id>")`` versions it with the run's
lineage. Its metadata (name, experiment, status, params, tags) is one JSON run tag,
``passline.logged_model.<model_id>``; the tag ``passline.logged_model.ids`` marks a run that
holds logged models so that a search finds those runs with one indexed query. The model id
embeds the run id (``m-<run_id>-<8 hex digits>``): reading a model is one run lookup.

A logged model created without a run (``mlflow.sklearn.log_model`` outside ``start_run``)
gets a run of its own, named after the model, to hold its files.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field

from passline.core.entities import Run
from passline.errors import NotFound
from passline.services.workspace import Services

__all__ = ["INDEX", "PREFIX", "STATUSES", "LoggedModel", "is_internal", "load", "new_model_id"]

PREFIX = "passline.logged_model."
INDEX = PREFIX + "ids"
STATUSES = {
    0: "LOGGED_MODEL_STATUS_UNSPECIFIED",
    1: "LOGGED_MODEL_PENDING",
    2: "LOGGED_MODEL_READY",
    3: "LOGGED_MODEL_UPLOAD_FAILED",
}


@dataclass
class LoggedModel:
    model_id: str
    run_id: str
    experiment_id: str
    name: str
    model_type: str = ""
    status: str = "LOGGED_MODEL_PENDING"
    status_message: str = ""
    created: int = 0
    updated: int = 0
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    step: int = 0

    @property
    def artifact_path(self) -> str:
        """Where its files are among the run's artifacts."""
        return f"models/{self.model_id}"

    def encode(self) -> str:
        fields = asdict(self)
        del fields["model_id"], fields["run_id"]
        return json.dumps(fields, sort_keys=True)

    def save(self, svc: Services, run: Run | None = None) -> None:
        """Write the metadata tag (and, given the run, mark the run as holding models)."""
        tags = {PREFIX + self.model_id: self.encode()}
        if run is not None:
            held = run.tags.get(INDEX, "").split()
            tags[INDEX] = " ".join([*held, self.model_id] if self.model_id not in held else held)
        svc.tracking.set_tags(self.run_id, tags)


def new_model_id(run_id: str) -> str:
    return f"m-{run_id}-{secrets.token_hex(4)}"


def is_internal(tag: str) -> bool:
    """Tags that hold logged models: Passline's bookkeeping, hidden from MLflow clients."""
    return tag.startswith(PREFIX)


def in_run(run: Run) -> list[LoggedModel]:
    """The logged models a run holds, oldest first."""
    found = [
        _decode(key.removeprefix(PREFIX), run.id, value)
        for key, value in run.tags.items()
        if key.startswith(PREFIX) and key != INDEX
    ]
    return sorted(found, key=lambda m: (m.created, m.model_id))


def load(svc: Services, model_id: str) -> tuple[LoggedModel, Run]:
    """The model and the run that holds it; RESOURCE_DOES_NOT_EXIST names the id."""
    missing = NotFound(f"No logged model with id {model_id!r}.")
    body, _, suffix = model_id.removeprefix("m-").rpartition("-")
    if not model_id.startswith("m-") or not body or not suffix:
        raise missing
    try:
        run = svc.tracking.get_run(body)
    except NotFound:
        raise missing from None
    text = run.tags.get(PREFIX + model_id)
    if text is None:
        raise missing
    return _decode(model_id, run.id, text), run


def _decode(model_id: str, run_id: str, text: str) -> LoggedModel:
    fields = json.loads(text)
    known = {k: v for k, v in fields.items() if k in LoggedModel.__dataclass_fields__}
    return LoggedModel(model_id=model_id, run_id=run_id, **known)
