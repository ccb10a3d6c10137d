"""Pipeline records: definitions, runs and their steps, the step-output cache, triggers.

The runner (``passline.pipelines.runner``) executes; this service only records and
answers, so every surface (CLI, REST, SDK, UI) reads runs the same way. Triggers queue
runs: a schedule when it is due, a new dataset version when it is ingested, a monitor's
alert when it fires; ``passline up``'s scheduler (or ``passline pipeline run-queued``)
claims each queued run with a conditional UPDATE, so two replicas never run one twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.ids import new_id
from passline.core.pipelines import PipelineInfo, PipelineRun, PipelineTrigger, StepRun
from passline.core.roles import Role
from passline.errors import InvalidInput, NotFound
from passline.services.base import BaseService
from passline.services.lineage import ensure_node, record_edges
from passline.services.sources import next_run
from passline.store.models import ProjectRow
from passline.store.models_pipelines import (
    PipelineCacheRow,
    PipelineRow,
    PipelineRunRow,
    PipelineStepRunRow,
    PipelineTriggerRow,
)

__all__ = [
    "PipelineInfo",
    "PipelineRun",
    "PipelineService",
    "PipelineTrigger",
    "StepRun",
    "TRIGGER_KINDS",
]

TRIGGER_KINDS = ("schedule", "dataset", "alert")
EXECUTORS = ("local", "ray", "inline")
FINISHED = ("succeeded", "failed")


class PipelineService(BaseService):
    # -- definitions --------------------------------------------------------------------

    def save(
        self,
        project: str,
        name: str,
        definition: dict[str, Any],
        source: str | None = None,
        description: str = "",
    ) -> PipelineInfo:
        """Record the pipeline's current shape (contributors; the runner calls this)."""
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "run pipelines")
            row = self._find(session, prj.id, name)
            now = utcnow()
            if row is None:
                row = PipelineRow(
                    id=new_id("ppl"),
                    project_id=prj.id,
                    name=name,
                    created_by=self.actor_name,
                    created_at=now,
                    definition=definition,
                    description=description,
                    updated_at=now,
                )
                session.add(row)
                self._audit(
                    session, "pipeline.create", f"pipeline:{row.id}", project, {"name": name}
                )
            row.definition, row.source, row.updated_at = definition, source, now
            row.description = description or row.description or ""
            session.flush()
            return _info(row, project)

    def _find(self, session: Session, project_id: str, name: str) -> PipelineRow | None:
        return session.execute(
            select(PipelineRow).where(
                PipelineRow.project_id == project_id, PipelineRow.name == name
            )
        ).scalar_one_or_none()

    def _pipeline(self, session: Session, ref: str, role: Role) -> tuple[PipelineRow, str]:
        project, _, name = ref.partition("/")
        if not name:
            raise InvalidInput(f"Name a pipeline as project/name. Got {ref!r} instead.")
        prj = self._require(session, project, role, "use pipelines")
        row = self._find(session, prj.id, name)
        if row is None:
            raise NotFound(
                f"Project {project!r} has no pipeline named {name!r}.",
                hint="A pipeline is recorded by its first run; list them: "
                f"passline pipeline list {project}",
            )
        return row, project

    def get(self, ref: str) -> PipelineInfo:
        with self.db.read() as session:
            row, project = self._pipeline(session, ref, Role.VIEWER)
            info = _info(row, project)
        runs = self.runs(ref, limit=1)
        return info.model_copy(update={"last_run": runs[0] if runs else None})

    def list(self, project: str) -> list[PipelineInfo]:
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "list pipelines")
            rows = session.execute(
                select(PipelineRow)
                .where(PipelineRow.project_id == prj.id)
                .order_by(PipelineRow.name)
            ).scalars()
            return [_info(r, project) for r in rows]

    # -- runs -----------------------------------------------------------------------------

    def start_run(
        self,
        ref: str,
        executor: str,
        steps: list[dict[str, Any]],
        *,
        params: dict[str, Any],
        inputs: dict[str, dict[str, Any]],
        code: dict[str, Any],
        environment: dict[str, Any],
        trigger: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Open a run (or start a queued one) with its steps pending; datasets in are linked."""
        with self.db.write() as session:
            row, project = self._pipeline(session, ref, Role.CONTRIBUTOR)
            run = session.get(PipelineRunRow, run_id) if run_id else None
            if run is None:
                run = self._new_run(row, executor, trigger or {"kind": "manual"}, params)
                session.add(run)
            run.status, run.started_at, run.executor = "running", utcnow(), executor
            run.params, run.inputs, run.code, run.environment = params, inputs, code, environment
            session.flush()
            session.execute(
                PipelineStepRunRow.__table__.insert(),
                [_pending_step(run.id, i, s) for i, s in enumerate(steps)],
            )
            self._link_inputs(session, run, row, inputs)
            self._audit(
                session,
                "pipeline.run",
                f"pipeline_run:{run.id}",
                project,
                {"pipeline": row.name, "executor": executor, "trigger": run.trigger},
            )
            return run.id

    def _new_run(
        self, row: PipelineRow, executor: str, trigger: dict[str, Any], params: dict[str, Any]
    ) -> PipelineRunRow:
        return PipelineRunRow(
            id=new_id("plr"),
            pipeline_id=row.id,
            status="queued",
            executor=executor,
            trigger=trigger,
            params=params,
            inputs={},
            code={},
            environment={},
            outputs={},
            actor=self.actor_name,
            queued_at=utcnow(),
        )

    def _link_inputs(
        self, session: Session, run: PipelineRunRow, row: PipelineRow, inputs: dict[str, Any]
    ) -> None:
        node = f"pipeline_run:{run.id}"
        ensure_node(session, node, f"{row.name} run {run.id[-8:].lower()}", row.project_id)
        edges = [
            (f"dataset_version:{spec['id']}", node, "input_to", {"as": name})
            for name, spec in inputs.items()
        ]
        record_edges(session, "pipeline", edges)

    def record_steps(self, run_id: str, changes: list[dict[str, Any]]) -> None:
        """Apply step changes in one transaction (``{"step": name, field: value, ...}``)."""
        if not changes:
            return
        with self.db.write() as session:
            for change in changes:
                values = {k: v for k, v in change.items() if k != "step"}
                session.execute(
                    update(PipelineStepRunRow)
                    .where(
                        PipelineStepRunRow.run_id == run_id,
                        PipelineStepRunRow.step == change["step"],
                    )
                    .values(**values)
                )

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        outputs: dict[str, Any] | None = None,
        error: str | None = None,
        tracking_run_id: str | None = None,
        produced: list[str] | None = None,
    ) -> None:
        """Close the run; ``produced`` are lineage refs it made (model versions)."""
        with self.db.write() as session:
            run = session.get_one(PipelineRunRow, run_id)
            now = utcnow()
            run.status, run.finished_at, run.error = status, now, error
            run.outputs, run.tracking_run_id = outputs or {}, tracking_run_id
            started = as_utc(run.started_at or run.queued_at)
            run.duration_ms = round((now - started).total_seconds() * 1000, 1)
            node = f"pipeline_run:{run_id}"
            links = [(node, ref, "produced") for ref in produced or []]
            if tracking_run_id:
                links.append((node, f"run:{tracking_run_id}", "ran_as"))
            record_edges(session, "pipeline", links)

    def run(self, run_id: str) -> PipelineRun:
        with self.db.read() as session:
            found = session.execute(
                select(PipelineRunRow, PipelineRow, ProjectRow.name)
                .join(PipelineRow, PipelineRow.id == PipelineRunRow.pipeline_id)
                .join(ProjectRow, ProjectRow.id == PipelineRow.project_id)
                .where(PipelineRunRow.id == run_id)
            ).one_or_none()
            if found is None:
                raise NotFound(
                    f"No pipeline run with id {run_id!r}.",
                    hint="List runs: passline pipeline runs PROJECT/PIPELINE",
                )
            run, pipeline, project = found
            self._require(session, project, Role.VIEWER, "read pipeline runs")
            steps = session.execute(
                select(PipelineStepRunRow)
                .where(PipelineStepRunRow.run_id == run_id)
                .order_by(PipelineStepRunRow.position)
            ).scalars()
            upstream = {
                s["name"]: s.get("upstream", []) for s in pipeline.definition.get("steps", [])
            }
            return _run(run, pipeline, project, [_step(s, upstream) for s in steps])

    def runs(self, ref: str, limit: int = 50, status: str | None = None) -> list[PipelineRun]:
        """The newest runs of a pipeline (``project/name``) or of a whole project."""
        with self.db.read() as session:
            query = (
                select(PipelineRunRow, PipelineRow, ProjectRow.name)
                .join(PipelineRow, PipelineRow.id == PipelineRunRow.pipeline_id)
                .join(ProjectRow, ProjectRow.id == PipelineRow.project_id)
            )
            if "/" in ref:
                row, _ = self._pipeline(session, ref, Role.VIEWER)
                query = query.where(PipelineRow.id == row.id)
            else:
                prj = self._require(session, ref, Role.VIEWER, "read pipeline runs")
                query = query.where(PipelineRow.project_id == prj.id)
            if status:
                query = query.where(PipelineRunRow.status == status)
            rows = session.execute(
                query.order_by(PipelineRunRow.queued_at.desc(), PipelineRunRow.id.desc()).limit(
                    limit
                )
            ).all()
            return [_run(r, p, project, []) for r, p, project in rows]

    # -- the cache --------------------------------------------------------------------------

    def cached(self, project: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Cache entries by key, those whose bytes are still in the store."""
        if not keys:
            return {}
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "read the pipeline cache")
            rows = session.execute(
                select(PipelineCacheRow).where(
                    PipelineCacheRow.project_id == prj.id, PipelineCacheRow.cache_key.in_(keys)
                )
            ).scalars()
            found = {
                r.cache_key: {"digest": r.digest, "kind": r.kind, "size": r.size} for r in rows
            }
        return {k: v for k, v in found.items() if self.ws.blobs.exists(v["digest"])}

    def remember(
        self, project: str, run_id: str, step: str, key: str, entry: dict[str, Any]
    ) -> None:
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "fill the pipeline cache")
            row = session.get(PipelineCacheRow, (prj.id, key))
            if row is None:
                session.add(
                    PipelineCacheRow(
                        project_id=prj.id,
                        cache_key=key,
                        step=step,
                        run_id=run_id,
                        created_at=utcnow(),
                        **entry,
                    )
                )
            else:
                row.digest, row.kind, row.size, row.run_id = (
                    entry["digest"],
                    entry["kind"],
                    entry["size"],
                    run_id,
                )

    def registered_by_digest(self, ref: str, digest: str) -> dict[str, Any] | None:
        """A model version an earlier run registered from output bytes ``digest``."""
        for run in self.runs(ref, limit=200, status="succeeded"):
            for registered in run.outputs.get("models", []):
                if registered.get("digest") == digest:
                    return registered  # type: ignore[no-any-return]
        return None

    # -- triggers ---------------------------------------------------------------------------

    def add_trigger(
        self,
        ref: str,
        kind: str,
        target: str,
        params: dict[str, Any] | None = None,
        executor: str = "local",
    ) -> PipelineTrigger:
        """Queue a run of ``ref`` on a cron ``schedule``, a new ``dataset`` version or a
        monitor's ``alert``. The run acts as the trigger's creator."""
        if kind not in TRIGGER_KINDS:
            raise InvalidInput(
                f"A trigger is one of {', '.join(TRIGGER_KINDS)}. Got {kind!r} instead."
            )
        if executor not in EXECUTORS:
            raise InvalidInput(
                f"The executor must be one of {', '.join(EXECUTORS)}. Got {executor!r} instead."
            )
        now = utcnow()
        first = next_run(target, now) if kind == "schedule" else None
        if kind != "schedule" and target.count("/") != 1:
            raise InvalidInput(
                f"A {kind} trigger names its {kind} as project/name. Got {target!r}."
            )
        with self.db.write() as session:
            row, project = self._pipeline(session, ref, Role.CONTRIBUTOR)
            if kind != "schedule":
                self._require(session, target.partition("/")[0], Role.VIEWER, f"watch that {kind}")
            trigger = PipelineTriggerRow(
                id=new_id("ptr"),
                pipeline_id=row.id,
                kind=kind,
                target=target,
                params=params or {},
                executor=executor,
                enabled=True,
                next_run_at=first,
                created_by=self.actor_name,
                created_at=now,
            )
            session.add(trigger)
            self._audit(
                session,
                "pipeline.trigger.add",
                f"pipeline:{row.id}",
                project,
                {"kind": kind, "target": target, "executor": executor},
            )
            session.flush()
            return _trigger(trigger, f"{project}/{row.name}")

    def triggers(self, project: str) -> list[PipelineTrigger]:
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "list pipeline triggers")
            rows = session.execute(
                select(PipelineTriggerRow, PipelineRow.name)
                .join(PipelineRow, PipelineRow.id == PipelineTriggerRow.pipeline_id)
                .where(PipelineRow.project_id == prj.id)
                .order_by(PipelineRow.name, PipelineTriggerRow.created_at)
            ).all()
            return [_trigger(t, f"{project}/{name}") for t, name in rows]

    def remove_trigger(self, trigger_id: str) -> None:
        with self.db.write() as session:
            trigger = session.get(PipelineTriggerRow, trigger_id)
            if trigger is None:
                raise NotFound(f"No pipeline trigger with id {trigger_id!r}.")
            pipeline = session.get_one(PipelineRow, trigger.pipeline_id)
            project = session.get_one(ProjectRow, pipeline.project_id).name
            self._require(session, project, Role.CONTRIBUTOR, "remove pipeline triggers")
            session.delete(trigger)
            self._audit(
                session,
                "pipeline.trigger.remove",
                f"pipeline:{pipeline.id}",
                project,
                {"kind": trigger.kind, "target": trigger.target},
            )

    def enqueue(
        self,
        ref: str,
        params: dict[str, Any] | None = None,
        executor: str = "local",
        trigger: dict[str, Any] | None = None,
    ) -> PipelineRun:
        """Queue a run for a worker (``passline up`` or ``passline pipeline run-queued``)."""
        with self.db.write() as session:
            row, project = self._pipeline(session, ref, Role.CONTRIBUTOR)
            run = self._new_run(row, executor, trigger or {"kind": "manual"}, params or {})
            session.add(run)
            session.flush()
            return _run(run, row, project, [])


def fire_triggers(workspace: Any, kind: str, target: str, detail: dict[str, Any]) -> list[str]:
    """Queue a run of every pipeline whose ``kind`` trigger watches ``target``; run ids.

    Called by the ingest (a new dataset version) and the monitors (an alert) after their
    own transaction committed, so a failure here never undoes what triggered it.
    """
    watching = (
        PipelineTriggerRow.kind == kind,
        PipelineTriggerRow.target == target,
        PipelineTriggerRow.enabled.is_(True),
    )
    with workspace.db.read() as session:  # most ingests and alerts trigger nothing: no write
        if session.execute(select(PipelineTriggerRow.id).where(*watching).limit(1)).first() is None:
            return []
    now = utcnow()
    with workspace.db.write() as session:
        triggers = session.execute(select(PipelineTriggerRow).where(*watching)).scalars().all()
        queued = [_queued(t, {"kind": kind, "target": target, **detail}, now) for t in triggers]
        session.add_all(queued)
        for trigger in triggers:
            trigger.last_fired_at = now
        return [q.id for q in queued]


def queue_due_schedules(workspace: Any, now: datetime | None = None) -> list[str]:
    """Queue a run for every schedule whose time has come, claiming each with a
    conditional UPDATE so several servers queue it once."""
    now = now or utcnow()
    with workspace.db.read() as session:
        due = (
            session.execute(
                select(PipelineTriggerRow).where(
                    PipelineTriggerRow.kind == "schedule",
                    PipelineTriggerRow.enabled.is_(True),
                    PipelineTriggerRow.next_run_at <= now,
                )
            )
            .scalars()
            .all()
        )
    queued = []
    for trigger in due:
        with workspace.db.write() as session:
            claimed = session.execute(
                update(PipelineTriggerRow)
                .where(
                    PipelineTriggerRow.id == trigger.id,
                    PipelineTriggerRow.next_run_at == trigger.next_run_at,
                )
                .values(next_run_at=next_run(trigger.target, now), last_fired_at=now)
            )
            if claimed.rowcount:  # type: ignore[attr-defined]
                run = _queued(trigger, {"kind": "schedule", "cron": trigger.target}, now)
                session.add(run)
                queued.append(run.id)
    return queued


def claim_run(workspace: Any, run_id: str) -> bool:
    """Take a queued run for this process; False when another worker took it first."""
    with workspace.db.write() as session:
        claimed = session.execute(
            update(PipelineRunRow)
            .where(PipelineRunRow.id == run_id, PipelineRunRow.status == "queued")
            .values(status="claimed", started_at=utcnow())
        )
        return bool(claimed.rowcount)  # type: ignore[attr-defined]


def queued_runs(workspace: Any, limit: int = 10) -> list[tuple[str, str, str | None, str]]:
    """(run id, pipeline ref, source, actor name) of the oldest queued runs."""
    with workspace.db.read() as session:
        rows = session.execute(
            select(
                PipelineRunRow.id,
                ProjectRow.name,
                PipelineRow.name,
                PipelineRow.source,
                PipelineRunRow.actor,
            )
            .join(PipelineRow, PipelineRow.id == PipelineRunRow.pipeline_id)
            .join(ProjectRow, ProjectRow.id == PipelineRow.project_id)
            .where(PipelineRunRow.status == "queued")
            .order_by(PipelineRunRow.queued_at)
            .limit(limit)
        ).all()
        return [(r, f"{p}/{n}", s, a) for r, p, n, s, a in rows]


def _queued(trigger: PipelineTriggerRow, detail: dict[str, Any], now: datetime) -> PipelineRunRow:
    return PipelineRunRow(
        id=new_id("plr"),
        pipeline_id=trigger.pipeline_id,
        status="queued",
        executor=trigger.executor,
        trigger={**detail, "trigger_id": trigger.id},
        params=trigger.params,
        inputs={},
        code={},
        environment={},
        outputs={},
        actor=trigger.created_by,
        queued_at=now,
    )


def _pending_step(run_id: str, position: int, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id("pls"),
        "run_id": run_id,
        "step": spec["name"],
        "position": position,
        "status": "pending",
        "kind": spec["kind"],
        "attempts": 0,
    }


def _info(row: PipelineRow, project: str) -> PipelineInfo:
    return PipelineInfo(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description or "",
        definition=row.definition,
        source=row.source,
        created_by=row.created_by,
        updated_at=as_utc(row.updated_at),
    )


def _step(row: PipelineStepRunRow, upstream: dict[str, list[str]]) -> StepRun:
    return StepRun(
        step=row.step,
        position=row.position,
        status=row.status,
        kind=row.kind,
        attempts=row.attempts,
        upstream=upstream.get(row.step, []),
        cache_key=row.cache_key,
        output_digest=row.output_digest,
        output_size=row.output_size,
        started_at=as_utc(row.started_at) if row.started_at else None,
        duration_ms=row.duration_ms,
        error=row.error,
    )


def _run(
    row: PipelineRunRow, pipeline: PipelineRow, project: str, steps: list[StepRun]
) -> PipelineRun:
    return PipelineRun(
        id=row.id,
        project=project,
        pipeline=f"{project}/{pipeline.name}",
        status=row.status,
        executor=row.executor,
        trigger=row.trigger or {},
        params=row.params or {},
        inputs=row.inputs or {},
        code=row.code or {},
        environment=row.environment or {},
        outputs=row.outputs or {},
        tracking_run_id=row.tracking_run_id,
        actor=row.actor,
        queued_at=as_utc(row.queued_at),
        started_at=as_utc(row.started_at) if row.started_at else None,
        finished_at=as_utc(row.finished_at) if row.finished_at else None,
        duration_ms=row.duration_ms,
        error=row.error,
        steps=steps,
    )


def _trigger(row: PipelineTriggerRow, pipeline: str) -> PipelineTrigger:
    return PipelineTrigger(
        id=row.id,
        pipeline=pipeline,
        kind=row.kind,
        target=row.target,
        params=row.params or {},
        executor=row.executor,
        enabled=row.enabled,
        next_run_at=as_utc(row.next_run_at) if row.next_run_at else None,
        last_fired_at=as_utc(row.last_fired_at) if row.last_fired_at else None,
        created_by=row.created_by,
    )
