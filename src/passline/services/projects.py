"""Projects and who may do what in them."""

from __future__ import annotations

from sqlalchemy import delete, select

from passline.core.clock import as_utc, utcnow
from passline.core.entities import Member, Project
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.core.roles import Role
from passline.errors import Conflict, NotFound
from passline.services.base import BaseService
from passline.services.lineage import ensure_node
from passline.store.models import MembershipRow, ProjectRow, UserRow

__all__ = ["ProjectService"]


def _project(row: ProjectRow) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        description=row.description,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
    )


class ProjectService(BaseService):
    def create(self, name: str, description: str = "") -> Project:
        """Create a project; its creator becomes its admin."""
        check_name("project", name)
        with self.db.write() as session:
            existing = session.execute(
                select(ProjectRow).where(ProjectRow.name == name)
            ).scalar_one_or_none()
            if existing:
                raise Conflict(
                    f"A project named {name!r} already exists (id {existing.id}, created by "
                    f"{existing.created_by}).",
                    hint="Choose another name, or ask its admin to add you as a member.",
                )
            row = ProjectRow(
                id=new_id("prj"),
                name=name,
                description=description,
                created_at=utcnow(),
                created_by=self.actor_name,
            )
            session.add(row)
            session.flush()
            session.add(
                MembershipRow(project_id=row.id, user_id=self.ctx.actor.user_id, role="admin")
            )
            ensure_node(session, f"project:{name}", name, row.id)
            self._audit(
                session, "project.create", f"project:{name}", name, {"description": description}
            )
            return _project(row)

    def list(self) -> list[Project]:
        """Projects the caller belongs to (every project for workspace admins)."""
        with self.db.read() as session:
            query = select(ProjectRow).order_by(ProjectRow.name)
            if not self.ctx.actor.is_admin:
                query = query.join(MembershipRow, MembershipRow.project_id == ProjectRow.id).where(
                    MembershipRow.user_id == self.ctx.actor.user_id
                )
            return [_project(r) for r in session.execute(query).scalars()]

    def get(self, name: str) -> Project:
        with self.db.read() as session:
            return _project(self._require(session, name, Role.VIEWER, "view the project"))

    def members(self, name: str) -> list[Member]:
        with self.db.read() as session:
            project = self._require(session, name, Role.VIEWER, "list members")
            rows = session.execute(
                select(UserRow.name, MembershipRow.role)
                .join(UserRow, UserRow.id == MembershipRow.user_id)
                .where(MembershipRow.project_id == project.id)
                .order_by(UserRow.name)
            ).all()
            return [Member(project=name, user=user, role=role) for user, role in rows]

    def add_member(self, name: str, user: str, role: str = "viewer") -> Member:
        """Give ``user`` a role in the project, or change the role they have."""
        granted = Role.parse(role)
        with self.db.write() as session:
            project = self._require(session, name, Role.ADMIN, "manage members")
            target = self._user_id(session, user)
            membership = session.get(MembershipRow, (project.id, target))
            before = membership.role if membership else None
            if membership:
                membership.role = granted.value
            else:
                session.add(
                    MembershipRow(project_id=project.id, user_id=target, role=granted.value)
                )
            self._audit(
                session,
                "project.member.set",
                f"project:{name}",
                name,
                {"user": user, "role": {"from": before, "to": granted.value}},
            )
            return Member(project=name, user=user, role=granted.value)

    def remove_member(self, name: str, user: str) -> None:
        with self.db.write() as session:
            project = self._require(session, name, Role.ADMIN, "manage members")
            target = self._user_id(session, user)
            gone = session.execute(
                delete(MembershipRow).where(
                    MembershipRow.project_id == project.id, MembershipRow.user_id == target
                )
            )
            if not gone.rowcount:  # type: ignore[attr-defined]
                raise NotFound(f"User {user!r} is not a member of project {name!r}.")
            self._audit(session, "project.member.remove", f"project:{name}", name, {"user": user})

    def role_of_caller(self, name: str) -> Role | None:
        with self.db.read() as session:
            return self._role_in(session, self._project(session, name).id)

    def _user_id(self, session, name: str) -> str:  # type: ignore[no-untyped-def]
        user_id = session.execute(
            select(UserRow.id).where(UserRow.name == name)
        ).scalar_one_or_none()
        if user_id is None:
            raise NotFound(
                f"No user named {name!r}.", hint="Create it with 'passline users create'."
            )
        return user_id
