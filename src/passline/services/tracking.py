"""Experiment tracking: experiments, runs, params, metrics, tags, inputs and artifacts.

Metrics arrive in batches and are written with one INSERT of the points plus one upsert of
the latest value per key, so logging ten thousand points is a handful of statements; the
hot paths (logging, reading runs) run prebuilt Core statements (``run_rows``). A run's
dataset inputs are lineage edges (``dataset_version --used_by--> run``) recorded when
they are logged, so "which data trained this?" is a walk up from the run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import IO, Any, BinaryIO

from sqlalchemy import Connection, Row, delete, func, select
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.entities import Experiment, MetricPoint, Run, RunPage
from passline.core.ids import new_id
from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound
from passline.services.base import BaseService
from passline.services.lineage import ensure_node, insert_ignore
from passline.services.run_rows import (
    EXPERIMENTS,
    MEMBERS,
    METRICS,
    PROJECTS,
    RUN_HEAD,
    RUNS,
    TAGS,
    RunDetails,
    existing_params,
    insert_metrics,
    insert_params,
    run_access,
    upsert_tags,
)
from passline.services.run_search import (
    apply_order,
    compile_filter,
    decode_token,
    encode_token,
    parse_filter,
)
from passline.store.db import retry_on_conflict
from passline.store.models import (
    ExperimentRow,
    LineageEdgeRow,
    ProjectRow,
    RunArtifactRow,
    RunInputRow,
    RunRow,
)

__all__ = ["TrackingService", "metric_out", "now_ms"]

STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")
MAX_BATCH = 10_000
MAX_PARAM_VALUE = 6000


def now_ms() -> int:
    return int(time.time() * 1000)


def metric_out(value: float, is_nan: bool) -> float | str:
    """A stored metric as JSON can carry it: NaN and infinities as strings."""
    if is_nan:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _metric_in(value: Any, key: str) -> tuple[float, bool]:
    if isinstance(value, str):
        value = {
            "nan": math.nan,
            "infinity": math.inf,
            "-infinity": -math.inf,
            "inf": math.inf,
            "-inf": -math.inf,
        }.get(value.lower(), value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"The value of metric {key!r} must be a number. Got {value!r} instead."
        ) from None
    return (0.0, True) if math.isnan(number) else (number, False)


def _experiment(row: ExperimentRow, project: str) -> Experiment:
    return Experiment(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
    )


class TrackingService(BaseService):
    # -- experiments ---------------------------------------------------------------------

    def create_experiment(self, project: str, name: str, description: str = "") -> Experiment:
        _check_label("experiment", name)
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "create experiments")
            existing = self._experiment_row(session, prj.id, name)
            if existing is not None:
                raise Conflict(
                    f"Project {project!r} already has an experiment named {name!r} "
                    f"(id {existing.id})."
                )
            row = self._new_experiment(session, prj.id, name, description)
            self._audit(
                session, "experiment.create", f"experiment:{row.id}", project, {"name": name}
            )
            return _experiment(row, project)

    @retry_on_conflict
    def ensure_experiment(self, project: str, name: str) -> Experiment:
        """The experiment, created if it does not exist (``set_experiment`` semantics)."""
        _check_label("experiment", name)
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "use experiments")
            row = self._experiment_row(session, prj.id, name)
            if row is None:
                row = self._new_experiment(session, prj.id, name, "")
                self._audit(
                    session, "experiment.create", f"experiment:{row.id}", project, {"name": name}
                )
            return _experiment(row, project)

    def _new_experiment(
        self, session: Session, project_id: str, name: str, description: str
    ) -> ExperimentRow:
        row = ExperimentRow(
            id=new_id("exp"),
            project_id=project_id,
            name=name,
            description=description,
            created_at=utcnow(),
            created_by=self.actor_name,
            lifecycle="active",
        )
        session.add(row)
        session.flush()
        return row

    def _experiment_row(self, session: Session, project_id: str, name: str) -> ExperimentRow | None:
        return session.execute(
            select(ExperimentRow).where(
                ExperimentRow.project_id == project_id, ExperimentRow.name == name
            )
        ).scalar_one_or_none()

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self.db.read() as session:
            row, project = self._experiment_by_id(session, experiment_id, Role.VIEWER)
            return _experiment(row, project)

    def experiment_by_name(self, project: str, name: str) -> Experiment:
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "view experiments")
            row = self._experiment_row(session, prj.id, name)
            if row is None:
                raise NotFound(f"Project {project!r} has no experiment named {name!r}.")
            return _experiment(row, project)

    def experiments(self, project: str | None = None) -> list[Experiment]:
        with self.db.read() as session:
            query = select(ExperimentRow, ProjectRow.name).join(
                ProjectRow, ProjectRow.id == ExperimentRow.project_id
            )
            if project:
                self._require(session, project, Role.VIEWER, "list experiments")
                query = query.where(ProjectRow.name == project)
            rows = session.execute(query.order_by(ExperimentRow.id)).all()
            return [_experiment(r, p) for r, p in rows if self._role_in(session, r.project_id)]

    def _experiment_by_id(
        self, session: Session, experiment_id: str, role: Role
    ) -> tuple[ExperimentRow, str]:
        found = session.execute(
            select(ExperimentRow, ProjectRow.name)
            .join(ProjectRow, ProjectRow.id == ExperimentRow.project_id)
            .where(ExperimentRow.id == experiment_id)
        ).one_or_none()
        if found is None:
            raise NotFound(
                f"No experiment with id {experiment_id!r}.",
                hint="List them with 'passline runs experiments'.",
            )
        self._require(session, found[1], role, "use this experiment")
        return found[0], found[1]

    # -- runs ------------------------------------------------------------------------------

    def start_run(
        self,
        experiment_id: str,
        name: str | None = None,
        tags: dict[str, str] | None = None,
        entry_point: str | None = None,
        code: dict[str, Any] | None = None,
        environment: dict[str, Any] | None = None,
        start_time: int | None = None,
    ) -> Run:
        """Open a run (RUNNING). ``code`` and ``environment`` are captured by the client."""
        with self.db.write() as session:
            experiment, project = self._experiment_by_id(session, experiment_id, Role.CONTRIBUTOR)
            run_id = new_id("run")
            row = RunRow(
                id=run_id,
                experiment_id=experiment.id,
                name=name or run_id[-8:].lower(),
                status="RUNNING",
                start_time=start_time or now_ms(),
                end_time=None,
                user=self.actor_name,
                entry_point=entry_point,
                code=code or {},
                environment=environment or {},
                lifecycle="active",
            )
            session.add(row)
            session.flush()
            self._set_tags(session, run_id, tags or {})
            ensure_node(
                session, f"run:{run_id}", f"{experiment.name}/{row.name}", experiment.project_id
            )
            self._audit(
                session,
                "run.start",
                f"run:{run_id}",
                project,
                {"experiment": experiment.name, "name": row.name},
            )
        return self.get_run(run_id)

    def _run(self, session: Session, run_id: str, role: Role) -> tuple[RunRow, str]:
        """The run (to change it) and its project's name, if the caller holds ``role``."""
        project = self._access(session, run_id, role)
        return session.get_one(RunRow, run_id), project

    def _access(self, session: Session, run_id: str, needed: Role) -> str:
        """The run's project name, if the caller holds ``needed`` there: one query."""
        found = run_access(session.connection(), run_id, self.ctx.actor.user_id)
        if found is None:
            raise NotFound(
                f"No run with id {run_id!r}.", hint="Search runs with 'passline runs list'."
            )
        project, role = found
        held = Role.ADMIN if self.ctx.actor.is_admin else (Role(role) if role else None)
        if held is None or not held.allows(needed):
            self._require(session, project, needed, "use this run")  # raises, naming the role
        return project

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """Record parameters; a logged parameter can never change (Conflict names it)."""
        values = {_check_key("param", k): _param_value(k, v) for k, v in params.items()}
        if not values:
            return
        with self.db.write() as session:
            self._access(session, run_id, Role.CONTRIBUTOR)
            existing = existing_params(session.connection(), run_id, values)
            for key, value in values.items():
                if key in existing and existing[key] != value:
                    raise Conflict(
                        f"Parameter {key!r} of run {run_id} is already {existing[key]!r}; "
                        f"it cannot become {value!r}.",
                        hint="Parameters are immutable: start a new run for a new value.",
                    )
            new = {k: v for k, v in values.items() if k not in existing}
            if new:
                insert_params(session.connection(), run_id, new)

    def log_metrics(self, run_id: str, metrics: Iterable[dict[str, Any]]) -> int:
        """Record metric points ``{key, value, step=0, timestamp=now}``; returns how many."""
        points = [_point(m) for m in metrics]
        if not points:
            return 0
        if len(points) > MAX_BATCH:
            raise InvalidInput(
                f"Send at most {MAX_BATCH} metric points at once. Got {len(points)}."
            )
        with self.db.write() as session:
            self._access(session, run_id, Role.CONTRIBUTOR)
            insert_metrics(session.connection(), run_id, points)
        return len(points)

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        with self.db.write() as session:
            self._access(session, run_id, Role.CONTRIBUTOR)
            self._set_tags(session, run_id, tags)

    def _set_tags(self, session: Session, run_id: str, tags: dict[str, Any]) -> None:
        values = {_check_key("tag", k): str(v) for k, v in tags.items()}
        if values:
            upsert_tags(session.connection(), run_id, values)

    def delete_tag(self, run_id: str, key: str) -> None:
        with self.db.write() as session:
            self._access(session, run_id, Role.CONTRIBUTOR)
            session.execute(delete(TAGS).where(TAGS.c.run_id == run_id, TAGS.c.key == key))

    def end_run(self, run_id: str, status: str = "FINISHED", end_time: int | None = None) -> Run:
        if status not in STATUSES:
            raise InvalidInput(
                f"The run status must be one of {', '.join(STATUSES)}. Got {status!r}."
            )
        with self.db.write() as session:
            row, project = self._run(session, run_id, Role.CONTRIBUTOR)
            before, row.status = row.status, status
            row.end_time = end_time or (now_ms() if status != "RUNNING" else None)
            self._audit(
                session,
                "run.end",
                f"run:{run_id}",
                project,
                {"status": {"from": before, "to": status}},
            )
        return self.get_run(run_id)

    def rename_run(self, run_id: str, name: str) -> None:
        with self.db.write() as session:
            row, _ = self._run(session, run_id, Role.CONTRIBUTOR)
            row.name = _check_label("run", name)

    def delete_run(self, run_id: str) -> None:
        with self.db.write() as session:
            row, project = self._run(session, run_id, Role.CONTRIBUTOR)
            row.lifecycle = "deleted"
            self._audit(session, "run.delete", f"run:{run_id}", project, {})

    # -- inputs and artifacts --------------------------------------------------------------

    def log_input(self, run_id: str, dataset: str, context: str = "training") -> Run:
        """Record that the run used a dataset version (a lineage edge, used_by)."""
        from passline.services.datasets import DatasetService

        version = DatasetService(self.ws, self.ctx).version(dataset)
        with self.db.write() as session:
            project = self._access(session, run_id, Role.CONTRIBUTOR)
            insert_ignore(
                session,
                RunInputRow.__table__,
                [{"run_id": run_id, "dataset_version_id": version.id, "context": context}],
            )
            insert_ignore(
                session,
                LineageEdgeRow.__table__,
                [
                    {
                        "id": new_id("edg"),
                        "src_ref": version.ref,
                        "dst_ref": f"run:{run_id}",
                        "type": "used_by",
                        "actor": self.actor_name,
                        "created_at": utcnow(),
                        "attrs": {"context": context},
                    }
                ],
            )
            self._audit(
                session,
                "run.input",
                f"run:{run_id}",
                project,
                {"dataset": version.label, "version": version.id, "context": context},
            )
        return self.get_run(run_id)

    def log_artifact(self, run_id: str, path: str, stream: BinaryIO | IO[bytes]) -> dict[str, Any]:
        """Store a file under the run (``path`` like ``model/model.pkl``)."""
        clean = _check_path(path)
        with self.db.read() as session:
            project = self._access(session, run_id, Role.CONTRIBUTOR)
        artifact = self._artifacts().put_stream(project, stream, f"runs/{run_id}/{clean}")
        with self.db.write() as session:
            values = {"artifact_id": artifact.id, "digest": artifact.digest, "size": artifact.size}
            existing = session.get(RunArtifactRow, (run_id, clean))
            if existing is None:
                session.add(RunArtifactRow(run_id=run_id, path=clean, **values))
            else:
                for key, value in values.items():
                    setattr(existing, key, value)
            insert_ignore(
                session,
                LineageEdgeRow.__table__,
                [
                    {
                        "id": new_id("edg"),
                        "src_ref": f"run:{run_id}",
                        "dst_ref": artifact.ref,
                        "type": "produced",
                        "actor": self.actor_name,
                        "created_at": utcnow(),
                        "attrs": {},
                    }
                ],
            )
        return {"path": clean, **values}

    def _artifacts(self) -> Any:
        from passline.services.artifacts import ArtifactService

        return ArtifactService(self.ws, self.ctx)

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[dict[str, Any]]:
        with self.db.read() as session:
            self._access(session, run_id, Role.VIEWER)
            rows = session.execute(
                select(RunArtifactRow)
                .where(RunArtifactRow.run_id == run_id, RunArtifactRow.path.startswith(prefix))
                .order_by(RunArtifactRow.path)
            ).scalars()
            return [
                {"path": r.path, "artifact_id": r.artifact_id, "digest": r.digest, "size": r.size}
                for r in rows
            ]

    def artifact(self, run_id: str, path: str) -> dict[str, Any]:
        clean = _check_path(path)
        with self.db.read() as session:
            self._access(session, run_id, Role.VIEWER)
            row = session.get(RunArtifactRow, (run_id, clean))
            if row is None:
                raise NotFound(f"Run {run_id} has no artifact {clean!r}.")
            return {
                "path": row.path,
                "artifact_id": row.artifact_id,
                "digest": row.digest,
                "size": row.size,
            }

    # -- reading ---------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        with self.db.read() as session:
            self._access(session, run_id, Role.VIEWER)
            conn = session.connection()
            return _assemble(conn, conn.execute(RUN_HEAD.where(RUNS.c.id == run_id)).all())[0]

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        with self.db.read() as session:
            self._access(session, run_id, Role.VIEWER)
            rows = session.connection().execute(
                select(METRICS.c.value, METRICS.c.is_nan, METRICS.c.step, METRICS.c.timestamp)
                .where(METRICS.c.run_id == run_id, METRICS.c.key == key)
                .order_by(METRICS.c.step, METRICS.c.timestamp, METRICS.c.id)
            )
            return [
                MetricPoint(key=key, value=metric_out(value, is_nan), step=step, timestamp=at)
                for value, is_nan, step, at in rows
            ]

    def search_runs(
        self,
        project: str | None = None,
        experiments: list[str] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> RunPage:
        """Runs matching an MLflow-style filter, ordered, one page at a time."""
        if not 1 <= max_results <= 50_000:
            raise InvalidInput(f"'max_results' must be in [1, 50000]. Got {max_results} instead.")
        conditions = compile_filter(parse_filter(filter))
        offset = decode_token(page_token)
        with self.db.read() as session:
            query = self._scope(session, project, experiments)
            if not include_deleted:
                query = query.where(RUNS.c.lifecycle == "active")
            for condition in conditions:
                query = query.where(condition)
            query = apply_order(query, order_by).offset(offset).limit(max_results + 1)
            conn = session.connection()
            found = conn.execute(query).all()
            runs = _assemble(conn, found[:max_results])
        token = encode_token(offset + max_results) if len(found) > max_results else None
        return RunPage(runs=runs, next_page_token=token)

    def _scope(self, session: Session, project: str | None, experiments: list[str] | None) -> Any:
        query = RUN_HEAD
        if project:
            self._require(session, project, Role.VIEWER, "search runs")
            query = query.where(PROJECTS.c.name == project)
        if experiments:
            for experiment_id in experiments:
                self._experiment_by_id(session, experiment_id, Role.VIEWER)
            query = query.where(RUNS.c.experiment_id.in_(experiments))
        if not self.ctx.actor.is_admin:
            query = query.where(
                EXPERIMENTS.c.project_id.in_(
                    select(MEMBERS.c.project_id).where(MEMBERS.c.user_id == self.ctx.actor.user_id)
                )
            )
        return query

    def compare(self, run_ids: list[str]) -> dict[str, Any]:
        """Params and latest metrics side by side; keys whose values differ are marked."""
        if not 2 <= len(run_ids) <= 50:
            raise InvalidInput(f"Compare between 2 and 50 runs. Got {len(run_ids)}.")
        runs = [self.get_run(r) for r in run_ids]
        params = sorted({k for r in runs for k in r.params})
        metrics = sorted({k for r in runs for k in r.metrics})
        return {
            "runs": [
                {"id": r.id, "name": r.name, "experiment": r.experiment, "status": r.status}
                for r in runs
            ],
            "params": [
                {
                    "key": k,
                    "values": [r.params.get(k) for r in runs],
                    "differs": len({r.params.get(k) for r in runs}) > 1,
                }
                for k in params
            ],
            "metrics": [
                {
                    "key": k,
                    "values": [r.metrics.get(k) for r in runs],
                    "differs": len({str(r.metrics.get(k)) for r in runs}) > 1,
                }
                for k in metrics
            ],
        }

    def count_runs(self, experiment_id: str) -> int:
        with self.db.read() as session:
            return int(
                session.execute(
                    select(func.count()).where(RunRow.experiment_id == experiment_id)
                ).scalar_one()
            )


def _assemble(conn: Connection, rows: list[Row[Any]]) -> list[Run]:
    """Runs from ``RUN_HEAD`` rows, with their params, latest metrics, tags, inputs and
    artifacts: five more queries however many runs there are."""
    if not rows:
        return []
    details = RunDetails(conn, [r.id for r in rows])
    return [_run_entity(row, details) for row in rows]


def _run_entity(row: Row[Any], details: RunDetails) -> Run:
    (run_id, name, status, start, end, user, entry_point, code, environment) = row[:9]
    experiment_id, experiment, project = row[9:]
    metrics = details.metrics.get(run_id, {})
    return Run(
        id=run_id,
        experiment=experiment,
        experiment_id=experiment_id,
        project=project,
        name=name,
        status=status,
        start_time=start,
        end_time=end,
        user=user,
        entry_point=entry_point,
        params=details.params.get(run_id, {}),
        metrics={key: metric_out(value, is_nan) for key, (value, is_nan) in metrics.items()},
        tags=details.tags.get(run_id, {}),
        inputs=details.inputs.get(run_id, []),
        artifacts=details.artifacts.get(run_id, []),
        code=code or {},
        environment=environment or {},
    )


def _point(metric: dict[str, Any]) -> dict[str, Any]:
    try:
        key = _check_key("metric", metric["key"])
        raw = metric["value"]
    except (KeyError, TypeError):
        raise InvalidInput(
            "Each metric needs 'key' and 'value' (and may have 'step', 'timestamp')."
        ) from None
    value, is_nan = _metric_in(raw, key)
    step = metric.get("step") or 0
    timestamp = metric.get("timestamp") or now_ms()
    if not isinstance(step, int) or not isinstance(timestamp, int):
        raise InvalidInput(f"The 'step' and 'timestamp' of metric {key!r} must be integers.")
    return {"key": key, "value": value, "is_nan": is_nan, "step": step, "timestamp": timestamp}


def _param_value(key: str, value: Any) -> str:
    text = str(value)
    if len(text) > MAX_PARAM_VALUE:
        raise InvalidInput(
            f"The value of parameter {key!r} is longer than {MAX_PARAM_VALUE} characters."
        )
    return text


def _check_key(kind: str, key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > 250 or key != key.strip() or "\x00" in key:
        raise InvalidInput(
            f"A {kind} name must be 1-250 characters without surrounding spaces. "
            f"Got {key!r} instead."
        )
    return key


def _check_label(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or "\x00" in name:
        raise InvalidInput(f"The {kind} name must be 1-200 characters. Got {name!r} instead.")
    return name


def _check_path(path: str) -> str:
    parts = [p for p in str(path).replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or len("/".join(parts)) > 500:
        raise InvalidInput(
            f"An artifact path is a relative path without '..'. Got {path!r} instead."
        )
    return "/".join(parts)
