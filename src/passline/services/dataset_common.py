"""What the dataset services share: row conversion, reference resolution and access rules."""

from __future__ import annotations

import base64
import json
from typing import Any

import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from passline.core.clock import as_utc
from passline.core.entities import Dataset, DatasetVersion
from passline.core.roles import Role
from passline.data.refs import DatasetRef, parse_dataset_ref
from passline.errors import InvalidInput, NotFound, PermissionDenied
from passline.services.base import BaseService
from passline.store.models import (
    DatasetGrantRow,
    DatasetRow,
    DatasetVersionRow,
    MembershipRow,
    ProjectRow,
)

__all__ = ["LEVELS", "DatasetAccess", "check_level", "schema_to_json", "to_dataset", "to_version"]

LEVELS = ("public", "internal", "confidential", "restricted")


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise InvalidInput(
            f"The sensitivity must be one of {', '.join(LEVELS)}. Got {level!r} instead."
        )
    return level


def schema_to_json(schema: pa.Schema) -> dict[str, Any]:
    """Readable columns for people, and the exact Arrow schema (IPC, base64) for code."""
    return {
        "columns": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
        "ipc": base64.b64encode(schema.serialize().to_pybytes()).decode(),
    }


def to_dataset(row: DatasetRow, project: str, latest: DatasetVersionRow | None = None) -> Dataset:
    return Dataset(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        owner=row.owner,
        sensitivity=row.sensitivity,
        sensitivity_reason=row.sensitivity_reason,
        tags=list(row.tags or []),
        column_tags=dict(row.column_tags or {}),
        key_columns=list(row.key_columns or []),
        expectations=row.expectations,
        latest_version=row.latest_version_id,
        latest_number=latest.number if latest else None,
        latest_rows=latest.rows if latest else None,
        latest_at=as_utc(latest.created_at) if latest else None,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
    )


def to_version(
    row: DatasetVersionRow, dataset: str, latest_id: str | None, **extra: Any
) -> DatasetVersion:
    return DatasetVersion(
        id=row.id,
        dataset=dataset,
        number=row.number,
        status=row.status,  # type: ignore[arg-type]
        mode=row.mode,  # type: ignore[arg-type]
        rows=row.rows,
        bytes=row.bytes,
        new_bytes=row.new_bytes,
        columns=row.schema_json["columns"],
        source=row.source,
        parent=row.parent_id,
        actor=row.actor,
        created_at=as_utc(row.created_at),
        profile_digest=row.profile_digest,
        quality=row.quality or [],
        pii=row.pii or {},
        bad_rows=row.bad_rows or {},
        cursor=row.cursor or {},
        encrypted=row.encrypted,
        is_latest=row.id == latest_id,
        **extra,
    )


class DatasetAccess(BaseService):
    """Resolution of dataset references and the read rules, shared by both services."""

    def _dataset_row(self, session: Session, ref: DatasetRef | str) -> tuple[DatasetRow, str]:
        parsed = parse_dataset_ref(ref) if isinstance(ref, str) else ref
        query = select(DatasetRow, ProjectRow.name).join(
            ProjectRow, ProjectRow.id == DatasetRow.project_id
        )
        query = query.where(DatasetRow.name == parsed.name)
        if parsed.project:
            query = query.where(ProjectRow.name == parsed.project)
        found = [
            (row, project)
            for row, project in session.execute(query).all()
            if self._role_in(session, row.project_id) is not None
        ]
        if not found:
            where = f" in project {parsed.project!r}" if parsed.project else ""
            raise NotFound(
                f"No dataset named {parsed.name!r}{where}.",
                hint="Search the catalog with 'passline data list'.",
            )
        if len(found) > 1:
            names = ", ".join(f"{p}/{r.name}" for r, p in found)
            raise InvalidInput(
                f"Several datasets are named {parsed.name!r}: {names}.",
                hint="Prefix the project: project/name.",
            )
        return found[0]

    def _version_row(
        self, session: Session, dataset: DatasetRow, selector: str
    ) -> DatasetVersionRow:
        query = select(DatasetVersionRow).where(DatasetVersionRow.dataset_id == dataset.id)
        if selector == "latest":
            if dataset.latest_version_id is None:
                raise NotFound(
                    f"Dataset {dataset.name!r} has no version that passed its checks yet.",
                    hint="List every version, quarantined ones included: passline data versions.",
                )
            query = query.where(DatasetVersionRow.id == dataset.latest_version_id)
        elif selector.startswith("v"):
            query = query.where(DatasetVersionRow.number == int(selector[1:]))
        else:
            query = query.where(DatasetVersionRow.id == selector)
        row = session.execute(query).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"Dataset {dataset.name!r} has no version {selector!r}.",
                hint="List them with 'passline data versions'.",
            )
        return row

    def _can_read_data(self, session: Session, dataset: DatasetRow) -> bool:
        """Restricted data needs an explicit grant; the owner holds one implicitly."""
        if dataset.sensitivity != "restricted" or dataset.owner == self.actor_name:
            return True
        grant = session.get(DatasetGrantRow, (dataset.id, self.ctx.actor.user_id))
        return grant is not None

    def _require_read(self, session: Session, dataset: DatasetRow, project: str) -> None:
        self._require(session, project, Role.VIEWER, "read datasets")
        if not self._can_read_data(session, dataset):
            raise PermissionDenied(
                f"Dataset {project}/{dataset.name} is restricted: reading its data needs an "
                f"explicit grant, which user {self.actor_name!r} does not have.",
                hint=f"Ask its owner ({dataset.owner}): passline data grant "
                f"{project}/{dataset.name} {self.actor_name} --reason '...'",
            )

    def _require_owner(
        self, session: Session, dataset: DatasetRow, project: str, action: str
    ) -> None:
        if dataset.owner == self.actor_name:
            self._require(session, project, Role.VIEWER, action)
            return
        self._require(session, project, Role.ADMIN, action)

    def _next_number(self, session: Session, dataset_id: str) -> int:
        current = session.execute(
            select(func.max(DatasetVersionRow.number)).where(
                DatasetVersionRow.dataset_id == dataset_id
            )
        ).scalar_one()
        return int(current or 0) + 1

    def _visible_project_ids(self, session: Session) -> list[str] | None:
        if self.ctx.actor.is_admin:
            return None
        return list(
            session.execute(
                select(MembershipRow.project_id).where(
                    MembershipRow.user_id == self.ctx.actor.user_id
                )
            ).scalars()
        )

    def _load_json_blob(self, digest: str) -> Any:
        return json.loads(b"".join(self.ws.blobs.iter_verified(digest)))
