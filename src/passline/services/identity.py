"""Users, service accounts and API tokens.

Tokens are 256-bit random secrets, so a single SHA-256 is enough to store them safely
(there is nothing to brute-force, unlike a password); only the hash is kept, and the
secret is shown once. A token reads ``<token id>.<secret>`` so that lookup is by primary
key and the comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select, update

from passline.core.clock import as_utc, utcnow
from passline.core.entities import CreatedToken, TokenInfo, User
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from passline.services.base import BaseService
from passline.services.context import Actor
from passline.store.models import TokenRow, UserRow

if TYPE_CHECKING:
    from passline.services.workspace import Workspace

__all__ = ["IdentityService", "authenticate"]

_TOUCH_EVERY = timedelta(minutes=1)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        kind=row.kind,  # type: ignore[arg-type]
        is_admin=row.is_admin,
        created_at=as_utc(row.created_at),
        disabled=row.disabled,
    )


def _token(row: TokenRow, user_name: str) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user=user_name,
        name=row.name,
        created_at=as_utc(row.created_at),
        expires_at=as_utc(row.expires_at),
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
        last_used_at=as_utc(row.last_used_at) if row.last_used_at else None,
    )


class IdentityService(BaseService):
    def create_user(
        self,
        name: str,
        display_name: str | None = None,
        kind: Literal["user", "service"] = "user",
        admin: bool = False,
    ) -> User:
        """Create a user or service account (workspace admins only)."""
        check_name("user", name)
        if kind not in ("user", "service"):
            raise InvalidInput(f"The user kind must be 'user' or 'service'. Got {kind!r} instead.")
        self._require_admin("create users")
        with self.db.write() as session:
            existing = session.execute(
                select(UserRow).where(UserRow.name == name)
            ).scalar_one_or_none()
            if existing:
                raise Conflict(
                    f"A user named {name!r} already exists (id {existing.id}).",
                    hint="Choose another name.",
                )
            row = UserRow(
                id=new_id("usr"),
                name=name,
                display_name=display_name or name,
                kind=kind,
                is_admin=admin,
                disabled=False,
                created_at=utcnow(),
            )
            session.add(row)
            self._audit(
                session, "user.create", f"user:{name}", None, {"kind": kind, "admin": admin}
            )
            return _user(row)

    def set_disabled(self, name: str, disabled: bool) -> User:
        """Disable a user (their tokens stop working at once) or enable them again."""
        self._require_admin("disable or enable users")
        with self.db.write() as session:
            row = self._user_row(session, name)
            if row.id == self.ctx.actor.user_id and disabled:
                raise InvalidInput("You cannot disable yourself.", hint="Ask another admin.")
            before, row.disabled = row.disabled, disabled
            self._audit(
                session,
                "user.disable" if disabled else "user.enable",
                f"user:{name}",
                None,
                {"disabled": {"from": before, "to": disabled}},
            )
            return _user(row)

    def list_users(self) -> list[User]:
        with self.db.read() as session:
            rows = session.execute(select(UserRow).order_by(UserRow.name)).scalars().all()
            return [_user(r) for r in rows]

    def whoami(self) -> User:
        with self.db.read() as session:
            return _user(session.get_one(UserRow, self.ctx.actor.user_id))

    def _user_row(self, session, name: str) -> UserRow:  # type: ignore[no-untyped-def]
        row = session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"No user named {name!r}.", hint="List users with 'passline users list'."
            )
        return row

    def create_token(
        self, name: str, user: str | None = None, ttl_days: int | None = None
    ) -> CreatedToken:
        """Issue a token for yourself, or (admins) for any user or service account."""
        check_name("token", name)
        ttl = ttl_days if ttl_days is not None else self.ws.settings.token_ttl_days
        if not 1 <= ttl <= 3650:
            raise InvalidInput(
                f"The 'ttl_days' must be an integer in [1, 3650]. Got {ttl} instead."
            )
        with self.db.write() as session:
            owner = self._user_row(session, user or self.actor_name)
            if owner.id != self.ctx.actor.user_id:
                self._require_admin(f"create a token for {owner.name!r}")
            secret = secrets.token_urlsafe(32)
            now = utcnow()
            row = TokenRow(
                id=new_id("tok"),
                user_id=owner.id,
                name=name,
                secret_hash=_hash_secret(secret),
                created_at=now,
                expires_at=now + timedelta(days=ttl),
            )
            session.add(row)
            self._audit(
                session,
                "token.create",
                f"token:{row.id}",
                None,
                {"user": owner.name, "name": name, "ttl_days": ttl},
            )
            return CreatedToken(info=_token(row, owner.name), secret=f"{row.id}.{secret}")

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        """Your tokens; admins may name any user, or pass ``user='*'`` for all."""
        with self.db.read() as session:
            query = select(TokenRow, UserRow.name).join(UserRow, TokenRow.user_id == UserRow.id)
            target = user or self.actor_name
            if target != self.actor_name:
                self._require_admin("list other users' tokens")
            if target != "*":
                query = query.where(UserRow.name == target)
            rows = session.execute(query.order_by(TokenRow.id)).all()
            return [_token(tok, owner) for tok, owner in rows]

    def revoke_token(self, token_id: str) -> TokenInfo:
        with self.db.write() as session:
            found = session.execute(
                select(TokenRow, UserRow.name)
                .join(UserRow, TokenRow.user_id == UserRow.id)
                .where(TokenRow.id == token_id)
            ).one_or_none()
            if found is None:
                raise NotFound(
                    f"No token with id {token_id!r}.",
                    hint="List token ids with 'passline tokens list'.",
                )
            row, owner = found
            if row.user_id != self.ctx.actor.user_id:
                self._require_admin(f"revoke a token of {owner!r}")
            if row.revoked_at is not None:
                raise Conflict(f"Token {token_id} was already revoked at {as_utc(row.revoked_at)}.")
            row.revoked_at = utcnow()
            self._audit(session, "token.revoke", f"token:{row.id}", None, {"user": owner})
            return _token(row, owner)


def authenticate(workspace: Workspace, presented: str | None) -> Actor:
    """The actor a bearer token belongs to; Unauthenticated says exactly why not."""
    if not presented:
        raise Unauthenticated(
            "This route needs an API token.",
            hint="Send 'Authorization: Bearer <token>'; create one with 'passline tokens create'.",
        )
    token_id, dot, secret = presented.strip().partition(".")
    if not dot or not token_id.startswith("tok_") or not secret:
        raise Unauthenticated("The API token is malformed.", hint="Copy the whole token again.")
    with workspace.db.read() as session:
        found = session.execute(
            select(TokenRow, UserRow)
            .join(UserRow, TokenRow.user_id == UserRow.id)
            .where(TokenRow.id == token_id)
        ).one_or_none()
    if found is None or not hmac.compare_digest(found[0].secret_hash, _hash_secret(secret)):
        raise Unauthenticated("The API token is invalid.", hint="Create a new one.")
    token, user = found
    _check_usable(token, user)
    _touch(workspace, token)
    return Actor(user.id, user.name, user.is_admin, user.kind)


def _check_usable(token: TokenRow, user: UserRow) -> None:
    if token.revoked_at is not None:
        raise Unauthenticated(
            f"The API token {token.id} was revoked at "
            f"{as_utc(token.revoked_at):%Y-%m-%d %H:%M} UTC.",
            hint="Create a new one with 'passline tokens create'.",
        )
    if as_utc(token.expires_at) <= utcnow():
        raise Unauthenticated(
            f"The API token {token.id} expired at {as_utc(token.expires_at):%Y-%m-%d %H:%M} UTC.",
            hint="Create a new one with 'passline tokens create'.",
        )
    if user.disabled:
        raise PermissionDenied(f"User {user.name!r} is disabled.")


def _touch(workspace: Workspace, token: TokenRow) -> None:
    # At most one write a minute per token: every request writing would serialise the
    # whole API on SQLite's single writer.
    now = utcnow()
    last: datetime | None = as_utc(token.last_used_at) if token.last_used_at else None
    if last and now - last < _TOUCH_EVERY:
        return
    with workspace.db.write() as session:
        session.execute(update(TokenRow).where(TokenRow.id == token.id).values(last_used_at=now))
