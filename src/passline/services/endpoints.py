"""Endpoints: a name that serves a model's alias, with an optional canary and shadow.

An endpoint's configuration lives in the database, never in a gateway's memory: every
gateway worker or replica reads it (and the alias it points at) at most a second old, so
an alias move, a canary share or a shadow version reaches all of them within a second.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.entities import Entity
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound
from passline.services.base import BaseService
from passline.services.lineage import ensure_node, insert_ignore
from passline.store.models import (
    EndpointRow,
    LineageEdgeRow,
    ModelVersionRow,
    ProjectRow,
    RegisteredModelRow,
)

__all__ = ["Endpoint", "EndpointService"]


class Endpoint(Entity):
    id: str
    project: str
    name: str
    model: str
    alias: str
    canary_version: int | None = None
    canary_percent: int = 0
    shadow_version: int | None = None
    redact: list[str] = []
    created_by: str
    updated_at: Any

    @property
    def ref(self) -> str:
        return f"endpoint:{self.project}/{self.name}"


class EndpointService(BaseService):
    def create(
        self,
        project: str,
        name: str,
        model: str,
        alias: str = "production",
        redact: list[str] | None = None,
    ) -> Endpoint:
        """Serve ``model``'s ``alias`` under ``name``; sensitive inputs to redact in the log."""
        check_name("endpoint", name)
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "create endpoints")
            existing = self._row_or_none(session, prj.id, name)
            if existing is not None:
                raise Conflict(f"Project {project!r} already has an endpoint named {name!r}.")
            model_row = self._model(session, prj.id, project, model)
            now = utcnow()
            row = EndpointRow(
                id=new_id("ep"),
                project_id=prj.id,
                name=name,
                model_id=model_row.id,
                alias=alias,
                canary_percent=0,
                redact=redact or [],
                created_by=self.actor_name,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            ensure_node(session, f"endpoint:{project}/{name}", f"endpoint {name}", prj.id)
            insert_ignore(
                session,
                LineageEdgeRow.__table__,
                [
                    {
                        "id": new_id("edg"),
                        "src_ref": f"model:{project}/{model_row.name}",
                        "dst_ref": f"endpoint:{project}/{name}",
                        "type": "served_by",
                        "actor": self.actor_name,
                        "created_at": now,
                        "attrs": {"alias": alias},
                    }
                ],
            )
            self._audit(
                session,
                "endpoint.create",
                f"endpoint:{project}/{name}",
                project,
                {"model": model_row.name, "alias": alias, "redact": redact or []},
            )
            return self._entity(session, row, project)

    def _model(
        self, session: Session, project_id: str, project: str, model: str
    ) -> RegisteredModelRow:
        name = model.rpartition("/")[2]
        row = session.execute(
            select(RegisteredModelRow).where(
                RegisteredModelRow.project_id == project_id, RegisteredModelRow.name == name
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"Project {project!r} has no model named {name!r}.",
                hint="Register one with 'passline models register'.",
            )
        return row

    def _row_or_none(self, session: Session, project_id: str, name: str) -> EndpointRow | None:
        return session.execute(
            select(EndpointRow).where(
                EndpointRow.project_id == project_id, EndpointRow.name == name
            )
        ).scalar_one_or_none()

    def _row(self, session: Session, endpoint: str, role: Role) -> tuple[EndpointRow, str]:
        project, _, name = endpoint.partition("/")
        if not name:
            raise InvalidInput(f"Name the endpoint as project/name. Got {endpoint!r} instead.")
        prj = self._require(session, project, role, "use endpoints")
        row = self._row_or_none(session, prj.id, name)
        if row is None:
            raise NotFound(
                f"Project {project!r} has no endpoint named {name!r}.",
                hint="List them with 'passline serve --list'.",
            )
        return row, project

    def get(self, endpoint: str) -> Endpoint:
        with self.db.read() as session:
            row, project = self._row(session, endpoint, Role.VIEWER)
            return self._entity(session, row, project)

    def list(self, project: str | None = None) -> list[Endpoint]:
        with self.db.read() as session:
            query = select(EndpointRow, ProjectRow.name).join(
                ProjectRow, ProjectRow.id == EndpointRow.project_id
            )
            if project:
                self._require(session, project, Role.VIEWER, "list endpoints")
                query = query.where(ProjectRow.name == project)
            rows = [
                (r, p)
                for r, p in session.execute(query.order_by(ProjectRow.name, EndpointRow.name)).all()
                if self._role_in(session, r.project_id)
            ]
            return [self._entity(session, r, p) for r, p in rows]

    def configure(
        self,
        endpoint: str,
        alias: str | None = None,
        canary_version: int | None = None,
        canary_percent: int | None = None,
        shadow_version: int | None = None,
        clear_canary: bool = False,
        clear_shadow: bool = False,
        redact: list[str] | None = None,
    ) -> Endpoint:
        """Change what an endpoint serves; audited, effective in every gateway within a second."""
        if canary_percent is not None and not 0 <= canary_percent <= 100:
            raise InvalidInput(
                f"The canary share must be in [0, 100] percent. Got {canary_percent}."
            )
        with self.db.write() as session:
            row, project = self._row(session, endpoint, Role.CONTRIBUTOR)
            before = self._entity(session, row, project).model_dump(mode="json")
            if alias is not None:
                row.alias = alias
            if canary_version is not None:
                row.canary_version_id = self._version_id(session, row.model_id, canary_version)
            if canary_percent is not None:
                row.canary_percent = canary_percent
            if shadow_version is not None:
                row.shadow_version_id = self._version_id(session, row.model_id, shadow_version)
            if clear_canary:
                row.canary_version_id, row.canary_percent = None, 0
            if clear_shadow:
                row.shadow_version_id = None
            if redact is not None:
                row.redact = redact
            row.updated_at = utcnow()
            after = self._entity(session, row, project)
            self._audit(
                session,
                "endpoint.configure",
                after.ref,
                project,
                {"from": before, "to": after.model_dump(mode="json")},
            )
            return after

    def _version_id(self, session: Session, model_id: str, number: int) -> str:
        found = session.execute(
            select(ModelVersionRow.id).where(
                ModelVersionRow.model_id == model_id, ModelVersionRow.version == number
            )
        ).scalar_one_or_none()
        if found is None:
            raise NotFound(f"The endpoint's model has no version {number}.")
        return found

    def _entity(self, session: Session, row: EndpointRow, project: str) -> Endpoint:
        model = session.get(RegisteredModelRow, row.model_id)
        numbers = dict(
            session.execute(
                select(ModelVersionRow.id, ModelVersionRow.version).where(
                    ModelVersionRow.model_id == row.model_id
                )
            ).all()
        )
        return Endpoint(
            id=row.id,
            project=project,
            name=row.name,
            model=f"{project}/{model.name if model else '?'}",
            alias=row.alias,
            canary_version=numbers.get(row.canary_version_id or ""),
            canary_percent=row.canary_percent,
            shadow_version=numbers.get(row.shadow_version_id or ""),
            redact=list(row.redact or []),
            created_by=row.created_by,
            updated_at=as_utc(row.updated_at),
        )
