"""Workspace groups of users (HR, finance, employees): what document ACLs name besides
users and project roles. Workspace admins create them and manage members; every change is
audited. Anyone signed in may list them, since ACLs shown to readers name them."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.core.rag import Group
from passline.errors import Conflict, NotFound
from passline.services.base import BaseService
from passline.services.lineage import insert_ignore
from passline.store.models import GroupMemberRow, GroupRow, UserRow

__all__ = ["GroupService", "groups_of"]


def groups_of(session: Session, user_id: str) -> frozenset[str]:
    """The names of the groups a user belongs to."""
    rows = session.execute(
        select(GroupRow.name)
        .join(GroupMemberRow, GroupMemberRow.group_id == GroupRow.id)
        .where(GroupMemberRow.user_id == user_id)
    ).scalars()
    return frozenset(rows)


class GroupService(BaseService):
    def create(self, name: str, description: str = "") -> Group:
        """A new, empty group (workspace admins)."""
        check_name("group", name)
        self._require_admin("create groups")
        with self.db.write() as session:
            if self._find(session, name) is not None:
                raise Conflict(f"A group named {name!r} already exists.")
            row = GroupRow(
                id=new_id("grp"), name=name, description=description, created_at=utcnow()
            )
            session.add(row)
            self._audit(
                session, "group.create", f"group:{name}", None, {"description": description}
            )
            return self._group(session, row)

    def list(self) -> list[Group]:
        with self.db.read() as session:
            rows = session.execute(select(GroupRow).order_by(GroupRow.name)).scalars().all()
            return [self._group(session, r) for r in rows]

    def get(self, name: str) -> Group:
        with self.db.read() as session:
            return self._group(session, self._row(session, name))

    def add_member(self, group: str, user: str) -> Group:
        """Put ``user`` in ``group`` (workspace admins); adding a member twice is a no-op."""
        self._require_admin("change group members")
        with self.db.write() as session:
            row, member = self._row(session, group), self._user(session, user)
            insert_ignore(
                session, GroupMemberRow.__table__, [{"group_id": row.id, "user_id": member.id}]
            )
            self._audit(session, "group.add_member", f"group:{group}", None, {"user": user})
            return self._group(session, row)

    def remove_member(self, group: str, user: str) -> Group:
        """Take ``user`` out of ``group`` (workspace admins); their next question already
        no longer sees the group's documents."""
        self._require_admin("change group members")
        with self.db.write() as session:
            row, member = self._row(session, group), self._user(session, user)
            gone = session.execute(
                delete(GroupMemberRow).where(
                    GroupMemberRow.group_id == row.id, GroupMemberRow.user_id == member.id
                )
            ).rowcount
            if not gone:
                raise NotFound(f"User {user!r} is not a member of group {group!r}.")
            self._audit(session, "group.remove_member", f"group:{group}", None, {"user": user})
            return self._group(session, row)

    def _find(self, session: Session, name: str) -> GroupRow | None:
        return session.execute(select(GroupRow).where(GroupRow.name == name)).scalar_one_or_none()

    def _row(self, session: Session, name: str) -> GroupRow:
        row = self._find(session, name)
        if row is None:
            raise NotFound(f"No group named {name!r}.", hint="List them: passline groups list")
        return row

    def _user(self, session: Session, name: str) -> UserRow:
        row = session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"No user named {name!r}.", hint="List them: passline users list")
        return row

    def _group(self, session: Session, row: GroupRow) -> Group:
        members = session.execute(
            select(UserRow.name)
            .join(GroupMemberRow, GroupMemberRow.user_id == UserRow.id)
            .where(GroupMemberRow.group_id == row.id)
            .order_by(UserRow.name)
        ).scalars()
        return Group(
            id=row.id,
            name=row.name,
            description=row.description,
            members=list(members),
            created_at=as_utc(row.created_at),
        )
