"""Reading and verifying the audit log (writing happens inside every other service)."""

from __future__ import annotations

from sqlalchemy import select

from passline.core.entities import AuditEntry, AuditVerification
from passline.services.audit import filtered_query, to_entry
from passline.services.base import BaseService
from passline.store.models import MembershipRow, ProjectRow

__all__ = ["AuditService"]


class AuditService(BaseService):
    def log(
        self,
        actor: str | None = None,
        object: str | None = None,
        action: str | None = None,
        project: str | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first. Workspace admins see everything; others see their projects'."""
        with self.db.read() as session:
            visible = None if self.ctx.actor.is_admin else self._member_projects(session)
            if project is not None:
                visible = [project] if visible is None or project in visible else []
            query = filtered_query(
                actor=actor,
                object_ref=object,
                action=action,
                projects=visible,
                before_seq=before_seq,
                limit=limit,
            )
            return [to_entry(r) for r in session.execute(query).scalars()]

    def verify(self) -> AuditVerification:
        self._require_admin("verify the audit chain")
        with self.db.read() as session:
            return self.ws.audit.verify(session, self.ws.settings.home / "audit.anchor")

    def _member_projects(self, session) -> list[str]:  # type: ignore[no-untyped-def]
        return list(
            session.execute(
                select(ProjectRow.name)
                .join(MembershipRow, MembershipRow.project_id == ProjectRow.id)
                .where(MembershipRow.user_id == self.ctx.actor.user_id)
            ).scalars()
        )
