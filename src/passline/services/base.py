"""What every service shares: its caller, role checks and the audit hook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from passline.core.roles import Role
from passline.errors import NotFound, PermissionDenied
from passline.services.context import CallContext
from passline.store.models import MembershipRow, ProjectRow

if TYPE_CHECKING:
    from passline.services.workspace import Workspace

__all__ = ["BaseService", "next_version"]


def next_version(session: Session, version: Any, *where: ColumnElement[bool]) -> int:
    """One more than the highest ``version`` among the rows ``where`` selects (1 for none)."""
    return (session.execute(select(func.max(version)).where(*where)).scalar() or 0) + 1


class BaseService:
    def __init__(self, workspace: Workspace, ctx: CallContext) -> None:
        self.ws = workspace
        self.ctx = ctx
        self.db = workspace.db

    @property
    def actor_name(self) -> str:
        return self.ctx.actor.name

    def _project(self, session: Session, name: str) -> ProjectRow:
        row = session.execute(
            select(ProjectRow).where(ProjectRow.name == name)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"No project named {name!r}.",
                hint="List projects with 'passline projects list'.",
            )
        return row

    def _role_in(self, session: Session, project_id: str) -> Role | None:
        if self.ctx.actor.is_admin:
            return Role.ADMIN
        role = session.execute(
            select(MembershipRow.role).where(
                MembershipRow.project_id == project_id,
                MembershipRow.user_id == self.ctx.actor.user_id,
            )
        ).scalar_one_or_none()
        return Role(role) if role else None

    def _require(self, session: Session, project: str, needed: Role, action: str) -> ProjectRow:
        """The project, if the caller holds ``needed`` on it; PermissionDenied otherwise."""
        row = self._project(session, project)
        held = self._role_in(session, row.id)
        if held is None or not held.allows(needed):
            has = f"has '{held}'" if held else "is not a member"
            raise PermissionDenied(
                f"User {self.actor_name!r} needs the '{needed}' role in project {project!r} "
                f"to {action}, and {has}.",
                hint="Ask a project admin: passline projects add-member "
                f"{project} {self.actor_name} --role {needed}",
            )
        return row

    def _require_admin(self, action: str) -> None:
        if not self.ctx.actor.is_admin:
            raise PermissionDenied(
                f"User {self.actor_name!r} cannot {action}: only workspace admins can.",
            )

    def _audit(
        self,
        session: Session,
        action: str,
        object_ref: str,
        project: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        self.ws.audit.append(session, self.ctx, action, object_ref, project, changes)
