"""The SDK's experiments, runs and models: ``client.start_run``, ``client.runs``, ``client.models``.

    >>> with pl.start_run("fraud/scoring", inputs=["fraud/transactions@v2"]) as run:
    ...     run.log_params({"C": 1.0})
    ...     model = LogisticRegression(C=1.0).fit(X, y)
    ...     run.log_metrics({"auc": 0.91, "fpr": 0.04})
    ...     run.log_model(model, register_as="fraud/scorer")

Metrics are sent in batches: ``log_metrics`` is one request whatever the number of keys,
and ``log_metric`` calls are buffered and flushed every ``flush_every`` points and when the
run ends. Both transports (in-process and HTTP) offer the same methods.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import traceback
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from passline.core.entities import (
    AliasMove,
    Experiment,
    MetricPoint,
    ModelVersion,
    RegisteredModel,
    ReleasePolicy,
    Run,
    RunPage,
)
from passline.errors import InvalidInput
from passline.sdk.reproduce import REPRODUCES_ENV, pinned_version

if TYPE_CHECKING:
    from passline.sdk.client import Client

__all__ = ["ActiveRun", "ModelsAPI", "RunsAPI"]


class _Namespace:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _call(self, op: str, returns: Any, **params: Any) -> Any:
        result = self._client.transport.call(op, {k: v for k, v in params.items() if v is not None})
        return TypeAdapter(returns).validate_python(result) if returns is not None else result


def _split_experiment(experiment: str) -> tuple[str, str]:
    project, _, name = experiment.partition("/")
    if not name:
        raise InvalidInput(
            f"Name the experiment as project/experiment. Got {experiment!r} instead."
        )
    return project, name


class RunsAPI(_Namespace):
    """Experiments and runs; reached as ``client.runs``."""

    def experiment(self, experiment: str) -> Experiment:
        """``project/name``: the experiment, created when missing."""
        project, name = _split_experiment(experiment)
        return self._call("tracking.ensure_experiment", Experiment, project=project, name=name)

    def experiments(self, project: str | None = None) -> list[Experiment]:
        return self._call("tracking.experiments", list[Experiment], project=project)

    def start(
        self,
        experiment: str,
        name: str | None = None,
        tags: dict[str, str] | None = None,
        inputs: list[str] | None = None,
        capture_code: bool = True,
    ) -> ActiveRun:
        from passline.sdk.capture import code_version, environment

        code, diff = code_version() if capture_code else ({}, None)
        original = os.environ.get(REPRODUCES_ENV)
        tags = {**(tags or {}), **({"passline.reproduces": original} if original else {})}
        run = self._call(
            "tracking.start_run",
            Run,
            experiment_id=self.experiment(experiment).id,
            name=name,
            tags=tags or {},
            entry_point=code.get("entry_point"),
            code=code,
            environment=environment() if capture_code else {},
        )
        active = ActiveRun(self._client, run)
        if diff:
            active.log_text(diff, "code/uncommitted.diff")
        for dataset in inputs or []:
            active.log_input(dataset)
        return active

    def get(self, run_id: str) -> Run:
        return self._call("tracking.get_run", Run, run_id=run_id)

    def search(
        self,
        project: str | None = None,
        experiments: list[str] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> RunPage:
        return self._call(
            "tracking.search_runs",
            RunPage,
            project=project,
            experiments=experiments,
            filter=filter,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )

    def compare(self, run_ids: list[str]) -> dict[str, Any]:
        return self._call("tracking.compare", dict[str, Any], run_ids=run_ids)

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        return self._call("tracking.metric_history", list[MetricPoint], run_id=run_id, key=key)

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        return self._call("tracking.list_artifacts", list[dict[str, Any]], run_id=run_id)

    def download_artifact(self, run_id: str, path: str, dest: str | Path) -> Path:
        return self._client.transport.run_artifact(run_id, path, Path(dest))


def _wire(metric: dict[str, Any]) -> dict[str, Any]:
    """A metric point as JSON can carry it: NaN and infinities travel as strings."""
    value = metric["value"]
    if isinstance(value, float) and not math.isfinite(value):
        value = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return {k: v for k, v in {**metric, "value": value}.items() if v is not None}


class ActiveRun:
    """A run being recorded; a context manager that ends it FINISHED, or FAILED on error."""

    def __init__(self, client: Client, run: Run, flush_every: int = 1000) -> None:
        self._client = client
        self.run = run
        self.id = run.id
        self._pending: list[dict[str, Any]] = []
        self._flush_every = flush_every

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if error is not None:
            self.set_tag("passline.error", "".join(traceback.format_exception_only(error)).strip())
        self.end("FAILED" if error is not None else "FINISHED")

    def _call(self, op: str, **params: Any) -> Any:
        return self._client.transport.call(op, {"run_id": self.id, **params})

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        self._call("tracking.log_params", params={k: str(v) for k, v in params.items()})

    def log_metric(
        self, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        """Buffered: sent with the next batch (every ``flush_every`` points, or at the end)."""
        self._pending.append({"key": key, "value": value, "step": step, "timestamp": timestamp})
        if len(self._pending) >= self._flush_every:
            self.flush()

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        """Several metrics at one step, in one request."""
        self._pending.extend({"key": k, "value": v, "step": step} for k, v in metrics.items())
        self.flush()

    def flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:10_000], self._pending[10_000:]
            self._call(
                "tracking.log_metrics",
                metrics=[_wire(m) for m in batch],
            )

    def set_tag(self, key: str, value: str) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._call("tracking.set_tags", tags={k: str(v) for k, v in tags.items()})

    def log_input(self, dataset: str, context: str = "training") -> None:
        """Record a dataset version this run used (a lineage edge)."""
        self._call("tracking.log_input", dataset=pinned_version(dataset), context=context)

    def log_artifact(
        self, local_path: str | Path, artifact_path: str | None = None
    ) -> dict[str, Any]:
        path = Path(local_path)
        if not path.is_file():
            raise InvalidInput(f"{path} is not a readable file.")
        with path.open("rb") as stream:
            return self._client.transport.log_run_artifact(
                self.id, artifact_path or path.name, stream
            )

    def log_text(self, text: str, artifact_path: str) -> dict[str, Any]:
        return self._client.transport.log_run_artifact(
            self.id, artifact_path, io.BytesIO(text.encode())
        )

    def log_model(
        self, model: Any, name: str = "model", register_as: str | None = None
    ) -> str | ModelVersion:
        """Store a scikit-learn (or any picklable) model under ``name/`` in the run.

        Returns the ``runs:/`` source, or the new registry version when ``register_as`` names
        a model (``project/name``)."""
        import pickle

        with tempfile.TemporaryDirectory(prefix="passline-model-") as folder:
            target = Path(folder) / "model.pkl"
            target.write_bytes(pickle.dumps(model))
            self.log_artifact(target, f"{name}/model.pkl")
        meta = {"format": "sklearn", "class": f"{type(model).__module__}.{type(model).__name__}"}
        self.log_text(json.dumps(meta, indent=2), f"{name}/passline-model.json")
        source = f"runs:/{self.id}/{name}"
        if register_as:
            self.flush()
            return self._client.models.register(register_as, source, format="sklearn")
        return source

    def end(self, status: str = "FINISHED") -> Run:
        self.flush()
        self.run = Run.model_validate(self._call("tracking.end_run", status=status))
        return self.run


class ModelsAPI(_Namespace):
    """The model registry; reached as ``client.models``."""

    def list(self, project: str | None = None) -> list[RegisteredModel]:
        return self._call("registry.models", list[RegisteredModel], project=project)

    def get(self, model: str) -> RegisteredModel:
        return self._call("registry.get_model", RegisteredModel, model=model)

    def create(
        self, model: str, description: str = "", intended_use: dict[str, Any] | None = None
    ) -> RegisteredModel:
        project, name = _split_experiment(model)
        return self._call(
            "registry.create_model",
            RegisteredModel,
            project=project,
            name=name,
            description=description,
            intended_use=intended_use or {},
        )

    def update(
        self, model: str, description: str | None = None, intended_use: dict[str, Any] | None = None
    ) -> RegisteredModel:
        return self._call(
            "registry.update_model",
            RegisteredModel,
            model=model,
            description=description,
            intended_use=intended_use,
        )

    def register(
        self, model: str, source: str, format: str | None = None, description: str = ""
    ) -> ModelVersion:
        """A version from a run's artifact: ``register("fraud/scorer", "runs:/RUN/model")``."""
        return self._call(
            "registry.register",
            ModelVersion,
            model=model,
            source=source,
            format=format,
            description=description,
        )

    def register_file(
        self, model: str, path: str | Path, format: str | None = None, description: str = ""
    ) -> ModelVersion:
        source = Path(path)
        if not source.is_file():
            raise InvalidInput(f"{source} is not a readable file.")
        with source.open("rb") as stream:
            result = self._client.transport.register_model_file(
                model, stream, source.name, format, description
            )
        return ModelVersion.model_validate(result)

    def versions(self, model: str) -> list[ModelVersion]:
        return self._call("registry.versions", list[ModelVersion], model=model)

    def version(self, model: str, version: int | str) -> ModelVersion:
        return self._call("registry.version", ModelVersion, model=model, version=str(version))

    def approve(
        self, model: str, version: int | str, comment: str = "", alias: str | None = None
    ) -> ModelVersion:
        return self._call(
            "registry.approve",
            ModelVersion,
            model=model,
            version=str(version),
            comment=comment,
            alias=alias,
        )

    def evaluate(self, model: str, version: int | str, alias: str = "production") -> dict[str, Any]:
        return self._call(
            "registry.evaluate", dict[str, Any], model=model, version=str(version), alias=alias
        )

    def set_alias(self, model: str, alias: str, version: int | str, reason: str = "") -> AliasMove:
        return self._call(
            "registry.set_alias",
            AliasMove,
            model=model,
            alias=alias,
            version=version,
            reason=reason,
        )

    def promote(
        self, model: str, version: int | str, alias: str = "production", reason: str = ""
    ) -> AliasMove:
        return self._call(
            "registry.promote", AliasMove, model=model, alias=alias, version=version, reason=reason
        )

    def rollback(self, model: str, alias: str = "production", reason: str = "") -> AliasMove:
        return self._call("registry.rollback", AliasMove, model=model, alias=alias, reason=reason)

    def delete_alias(self, model: str, alias: str) -> AliasMove:
        return self._call("registry.delete_alias", AliasMove, model=model, alias=alias)

    def history(self, model: str, alias: str | None = None) -> list[AliasMove]:
        return self._call("registry.history", list[AliasMove], model=model, alias=alias)

    def card(self, model: str, version: int | str | None = None) -> dict[str, str]:
        return self._call(
            "registry.card",
            dict[str, str],
            model=model,
            version=str(version) if version is not None else None,
        )

    def optimize(
        self,
        model: str,
        version: int | str,
        quantize: str | None = None,
        dataset: str | None = None,
    ) -> dict[str, Any]:
        """Convert a scikit-learn version to ONNX (``quantize="int8"`` too), measure both on
        ``dataset`` (default: its training data) and register the result as a new version."""
        return self._call(
            "registry.optimize",
            None,
            model=model,
            version=str(version),
            to="onnx",
            quantize=quantize,
            dataset=dataset,
        )

    def set_policy(
        self,
        project: str,
        alias: str,
        require_approval: bool = True,
        checks: list[dict[str, Any]] | None = None,
    ) -> ReleasePolicy:
        return self._call(
            "registry.set_policy",
            ReleasePolicy,
            project=project,
            alias=alias,
            require_approval=require_approval,
            checks=checks or [],
        )

    def policies(self, project: str) -> list[ReleasePolicy]:
        return self._call("registry.policies", list[ReleasePolicy], project=project)

    def load(self, model: str, version: int | str = "production") -> Any:
        """The model object; files are checked against the registry's digests before loading."""
        from passline.services.model_loading import load_model

        target = self.version(model, version)
        with tempfile.TemporaryDirectory(prefix="passline-model-") as folder:
            for item in target.files:
                self._client.transport.model_file(model, str(target.version), item, Path(folder))
            return load_model(target, Path(folder))
