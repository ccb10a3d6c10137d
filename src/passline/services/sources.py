"""Saved sources: a connector configuration, a target dataset and an optional cron schedule.

Configurations are plain JSON and hold secrets only as references (``env:NAME``,
``secret:NAME``, ``file:path#key``), resolved when the source runs; the metadata database
and the logs never see a secret. The server's scheduler claims due sources with one
conditional UPDATE, so several replicas never run the same source twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from passline.core.clock import as_utc, utcnow
from passline.core.entities import DatasetVersion, Source
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound, PasslineError
from passline.services.base import BaseService
from passline.services.context import Actor, CallContext
from passline.services.ingest import IngestOptions, IngestService
from passline.services.lineage import ensure_node
from passline.store.models import DatasetRow, DatasetVersionRow, ProjectRow, SourceRow, UserRow

__all__ = ["SourceService", "next_run", "run_due_sources"]

CONNECTOR_KINDS = ("file", "http", "redis", "sql")


def next_run(schedule: str | None, after: datetime) -> datetime | None:
    if not schedule:
        return None
    from croniter import croniter

    if not croniter.is_valid(schedule):
        raise InvalidInput(
            f"The schedule must be a cron expression such as '*/15 * * * *' or '0 6 * * *'. "
            f"Got {schedule!r} instead."
        )
    return croniter(schedule, after).get_next(datetime)  # type: ignore[no-any-return]


def _source(row: SourceRow, project: str) -> Source:
    return Source(
        id=row.id,
        project=project,
        name=row.name,
        kind=row.kind,
        config=row.config,
        dataset=row.dataset,
        mode=row.mode,
        options=row.options or {},
        schedule=row.schedule,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        next_run_at=as_utc(row.next_run_at) if row.next_run_at else None,
        last_run_at=as_utc(row.last_run_at) if row.last_run_at else None,
        last_status=row.last_status,
        last_message=row.last_message,
        last_version=row.last_version_id,
    )


class SourceService(BaseService):
    def add(
        self,
        project: str,
        name: str,
        kind: str,
        config: dict[str, Any],
        dataset: str,
        mode: str = "replace",
        options: dict[str, Any] | None = None,
        schedule: str | None = None,
    ) -> Source:
        """Save a source; its config is validated now (secrets must be references)."""
        from passline.data.connectors import check_config

        check_name("source", name)
        check_name("dataset", dataset)
        if mode not in ("replace", "append"):
            raise InvalidInput(f"The mode must be 'replace' or 'append'. Got {mode!r} instead.")
        if kind not in CONNECTOR_KINDS:
            raise InvalidInput(
                f"Unknown source kind {kind!r}; the kinds are {', '.join(CONNECTOR_KINDS)}."
            )
        check_config(kind, config)
        now = utcnow()
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "save sources")
            existing = session.execute(
                select(SourceRow).where(SourceRow.project_id == prj.id, SourceRow.name == name)
            ).scalar_one_or_none()
            if existing is not None:
                raise Conflict(
                    f"Project {project!r} already has a source named {name!r} (id {existing.id})."
                )
            row = SourceRow(
                id=new_id("src"),
                project_id=prj.id,
                name=name,
                kind=kind,
                config=config,
                dataset=dataset,
                mode=mode,
                options=options or {},
                schedule=schedule,
                created_by=self.actor_name,
                created_at=now,
                next_run_at=next_run(schedule, now),
            )
            session.add(row)
            ensure_node(session, f"source:{project}/{name}", f"{kind} source {name}", prj.id)
            self._audit(
                session,
                "source.add",
                f"source:{project}/{name}",
                project,
                {
                    "kind": kind,
                    "dataset": dataset,
                    "mode": mode,
                    "schedule": schedule,
                    "config": config,
                },
            )
            return _source(row, project)

    def list(self, project: str | None = None) -> list[Source]:
        with self.db.read() as session:
            query = select(SourceRow, ProjectRow.name).join(
                ProjectRow, ProjectRow.id == SourceRow.project_id
            )
            if project:
                self._require(session, project, Role.VIEWER, "list sources")
                query = query.where(ProjectRow.name == project)
            rows = session.execute(query.order_by(ProjectRow.name, SourceRow.name)).all()
            return [
                _source(r, p) for r, p in rows if self._role_in(session, r.project_id) is not None
            ]

    def get(self, project: str, name: str) -> Source:
        with self.db.read() as session:
            row = self._row(session, project, name, Role.VIEWER)
            return _source(row, project)

    def remove(self, project: str, name: str) -> None:
        with self.db.write() as session:
            row = self._row(session, project, name, Role.CONTRIBUTOR)
            session.delete(row)
            self._audit(session, "source.remove", f"source:{project}/{name}", project, {})

    def _row(self, session: Any, project: str, name: str, role: Role) -> SourceRow:
        prj = self._require(session, project, role, "use sources")
        row = session.execute(
            select(SourceRow).where(SourceRow.project_id == prj.id, SourceRow.name == name)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"Project {project!r} has no source named {name!r}.",
                hint="List them with 'passline data source list'.",
            )
        return row

    def run(self, project: str, name: str) -> DatasetVersion:
        """Pull the source now into a new version of its dataset; the outcome is recorded."""
        from passline.data.connectors import build_connector

        source = self.get(project, name)
        config = dict(source.config)
        cursor = self._last_cursor(project, source.dataset)
        if source.kind == "redis" and cursor.get("last_id"):
            config["after_id"] = cursor["last_id"]
        try:
            connector = build_connector(source.kind, config, self.ws.settings)
            version = IngestService(self.ws, self.ctx).ingest(
                f"{project}/{source.dataset}",
                connector,
                IngestOptions(
                    mode=source.mode,
                    source_ref=f"source:{project}/{name}",  # type: ignore[arg-type]
                    **_ingest_options(source.options),
                ),
            )
        except PasslineError as exc:
            self._record_outcome(source.id, "failed", str(exc), None)
            raise
        message = f"{version.label}: {version.rows} rows" + (
            " (unchanged)" if version.unchanged else ""
        )
        self._record_outcome(
            source.id, "ok" if version.status == "ok" else version.status, message, version.id
        )
        return version

    def _last_cursor(self, project: str, dataset: str) -> dict[str, Any]:
        with self.db.read() as session:
            row = session.execute(
                select(DatasetVersionRow.cursor)
                .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
                .join(ProjectRow, ProjectRow.id == DatasetRow.project_id)
                .where(ProjectRow.name == project, DatasetRow.name == dataset)
                .order_by(DatasetVersionRow.number.desc())
                .limit(1)
            ).scalar_one_or_none()
            return dict(row or {})

    def _record_outcome(
        self, source_id: str, status: str, message: str, version_id: str | None
    ) -> None:
        with self.db.write() as session:
            session.execute(
                update(SourceRow)
                .where(SourceRow.id == source_id)
                .values(
                    last_run_at=utcnow(),
                    last_status=status,
                    last_message=message[:2000],
                    last_version_id=version_id,
                )
            )


def _ingest_options(options: dict[str, Any]) -> dict[str, Any]:
    allowed = {"allow_breaking"}
    return {k: v for k, v in options.items() if k in allowed}


def run_due_sources(workspace: Any, now: datetime | None = None) -> list[tuple[str, str]]:
    """Run every source whose time has come, each as the user who saved it.

    A source is claimed by moving its ``next_run_at`` forward with a conditional UPDATE; the
    replica whose UPDATE matched runs it, the others see zero rows and skip it.
    """
    now = now or utcnow()
    outcomes = []
    with workspace.db.read() as session:
        due = session.execute(
            select(SourceRow, ProjectRow.name, UserRow)
            .join(ProjectRow, ProjectRow.id == SourceRow.project_id)
            .join(UserRow, UserRow.name == SourceRow.created_by)
            .where(SourceRow.next_run_at.is_not(None), SourceRow.next_run_at <= now)
        ).all()
    for source, project, owner in due:
        if not _claim(workspace, source, now):
            continue
        ctx = CallContext(Actor(owner.id, owner.name, owner.is_admin, owner.kind), "system")
        try:
            SourceService(workspace, ctx).run(project, source.name)
            outcomes.append((f"{project}/{source.name}", "ok"))
        except PasslineError as exc:
            outcomes.append((f"{project}/{source.name}", f"failed: {exc.message}"))
    return outcomes


def _claim(workspace: Any, source: SourceRow, now: datetime) -> bool:
    with workspace.db.write() as session:
        claimed = session.execute(
            update(SourceRow)
            .where(SourceRow.id == source.id, SourceRow.next_run_at == source.next_run_at)
            .values(next_run_at=next_run(source.schedule, now))
        )
        return bool(claimed.rowcount)  # type: ignore[attr-defined]
