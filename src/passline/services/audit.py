"""The audit log: one hash-chained entry per mutating service call.

Each entry's hash is an HMAC-SHA256, keyed by the workspace's audit key, over the entry's
fields and the previous entry's hash. Editing a row breaks its own hash; deleting or
inserting a row breaks the link of the row after it. The key lives outside the database
(``$PASSLINE_HOME/audit.key`` or ``PASSLINE_AUDIT_KEY``), so someone who can write to the
database alone cannot forge a consistent chain.

Writes take the one-row ``audit_head`` lock inside the caller's transaction, so the entry
commits or rolls back with the change it describes, and the chain stays a single line under
concurrent writers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from passline.core.clock import utcnow
from passline.core.entities import AuditEntry, AuditVerification
from passline.errors import InvalidInput
from passline.services.context import CallContext
from passline.settings import Settings
from passline.store.models import AuditEventRow, AuditHeadRow

__all__ = ["AuditChain", "load_audit_key"]

GENESIS = "0" * 64
_VERIFY_BATCH = 5000
_SECRET_KEYS = frozenset({"secret", "token", "password", "secret_hash", "api_key"})


def load_audit_key(settings: Settings) -> bytes:
    """The chain's HMAC key: from settings, else a file made on first use (mode 0600)."""
    if settings.audit_key:
        return settings.audit_key.encode()
    path = Path(settings.home) / "audit.key"
    if not path.exists():
        _create_key_file(path)
    return path.read_text().strip().encode()


def _create_key_file(path: Path) -> None:
    # Several processes may open a new workspace at once: each writes its own temporary
    # file and hard-links it into place; link() fails if another won, and all read its key.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".audit.key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def canonical_changes(changes: dict[str, Any]) -> str:
    scrubbed = {k: ("***" if k in _SECRET_KEYS else v) for k, v in changes.items()}
    return json.dumps(scrubbed, sort_keys=True, separators=(",", ":"), default=str)


def iso_utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditChain:
    """Appends to and checks the chain. Stateless apart from the key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def entry_hash(self, row: AuditEventRow) -> str:
        fields = [
            str(row.seq),
            row.at,
            row.actor,
            row.action,
            row.object_ref,
            row.project or "",
            row.origin,
            row.client or "",
            row.changes,
            row.prev_hash,
        ]
        message = "\x1f".join(fields).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def append(
        self,
        session: Session,
        ctx: CallContext,
        action: str,
        object_ref: str,
        project: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> AuditEventRow:
        head = session.execute(
            select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()
        ).scalar_one()
        row = AuditEventRow(
            seq=head.seq + 1,
            at=iso_utc(utcnow()),
            actor=ctx.actor.name,
            action=action,
            object_ref=object_ref,
            project=project,
            origin=ctx.origin,
            client=ctx.client,
            changes=canonical_changes(changes or {}),
            prev_hash=head.hash,
        )
        row.hash = self.entry_hash(row)
        session.add(row)
        session.execute(
            update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=row.seq, hash=row.hash)
        )
        return row

    def verify(self, session: Session, anchor: Path | None = None) -> AuditVerification:
        """Walk the whole chain in batches; name the first entry that does not hold.

        ``anchor`` is a file outside the database holding the head seen by the last good
        verify. Someone who can write to the database can delete the newest entries and
        rewind the head row to match; the anchor still remembers the longer chain.
        """
        result = self._walk(session, _read_anchor(anchor))
        if result.ok and anchor is not None:
            _write_anchor(anchor, result.checked, result.head_hash)
        return result

    def _walk(self, session: Session, anchor: tuple[int, str] | None) -> AuditVerification:
        head = session.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1)).scalar_one()
        prev_seq, prev_hash, checked = 0, GENESIS, 0
        for row in _rows_in_order(session):
            if anchor and row.seq == anchor[0] and row.hash != anchor[1]:
                return _failed(row.seq, "edited", checked, prev_hash)
            problem = "inserted" if row.seq > head.seq else None
            problem = problem or self._check_link(row, prev_seq, prev_hash)
            if problem == "deleted" and row.seq - 1 == prev_seq + 1:
                return _failed(prev_seq + 1, "deleted_one", checked, prev_hash)
            if problem == "deleted":
                return _failed(prev_seq + 1, problem, checked, prev_hash, row.seq - 1)
            if problem:
                return _failed(row.seq, problem, checked, prev_hash)
            prev_seq, prev_hash, checked = row.seq, row.hash, checked + 1
        if prev_seq != head.seq or prev_hash != head.hash:
            return _failed(prev_seq + 1, "truncated", checked, prev_hash, head.seq)
        if anchor and prev_seq < anchor[0]:
            return _failed(prev_seq + 1, "truncated", checked, prev_hash, anchor[0])
        return AuditVerification(
            ok=True,
            checked=checked,
            head_hash=prev_hash,
            message=f"Audit chain intact: {checked} entries, head {prev_hash[:16]}.",
        )

    def _check_link(self, row: AuditEventRow, prev_seq: int, prev_hash: str) -> str | None:
        if row.seq != prev_seq + 1:
            return "deleted"
        if row.prev_hash != prev_hash:
            return "inserted"
        if self.entry_hash(row) != row.hash:
            return "edited"
        return None


def _read_anchor(path: Path | None) -> tuple[int, str] | None:
    if path is None or not path.exists():
        return None
    seq, _, digest = path.read_text().strip().partition(" ")
    return (int(seq), digest) if seq.isdigit() else None


def _write_anchor(path: Path, seq: int, digest: str) -> None:
    current = _read_anchor(path)
    if current and current[0] >= seq:
        return
    # On PostgreSQL with PASSLINE_AUDIT_KEY set, nothing else may have made the home yet.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(f"{seq} {digest}\n")
    os.replace(tmp, path)


def _rows_in_order(session: Session) -> Iterator[AuditEventRow]:
    last = 0
    while True:
        batch = (
            session.execute(
                select(AuditEventRow)
                .where(AuditEventRow.seq > last)
                .order_by(AuditEventRow.seq)
                .limit(_VERIFY_BATCH)
            )
            .scalars()
            .all()
        )
        if not batch:
            return
        yield from batch
        last = batch[-1].seq
        session.expunge_all()


_EXPLAIN = {
    "edited": "entry {seq} was changed after it was written (its hash no longer matches)",
    "inserted": "entry {seq} does not link to the entry before it (inserted or re-chained)",
    "deleted": "entries {seq} to {head} are missing (deleted)",
    "deleted_one": "entry {seq} is missing (deleted)",
    "truncated": "entries from {seq} to {head} are missing at the end of the log (deleted)",
}


def _failed(
    seq: int, problem: str, checked: int, head_hash: str, head_seq: int | None = None
) -> AuditVerification:
    detail = _EXPLAIN[problem].format(seq=seq, head=head_seq)
    return AuditVerification(
        ok=False,
        checked=checked,
        head_hash=head_hash,
        first_bad_seq=seq,
        problem=problem.removesuffix("_one"),  # type: ignore[arg-type]
        message=f"Audit chain broken: {detail}.",
    )


def to_entry(row: AuditEventRow) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        object=row.object_ref,
        project=row.project,
        origin=row.origin,
        client=row.client,
        changes=json.loads(row.changes),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def filtered_query(
    *,
    actor: str | None = None,
    object_ref: str | None = None,
    action: str | None = None,
    projects: list[str] | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> Select[tuple[AuditEventRow]]:
    if not 1 <= limit <= 10_000:
        raise InvalidInput(f"The 'limit' must be an integer in [1, 10000]. Got {limit} instead.")
    query = select(AuditEventRow).order_by(AuditEventRow.seq.desc()).limit(limit)
    if actor:
        query = query.where(AuditEventRow.actor == actor)
    if object_ref:
        query = query.where(AuditEventRow.object_ref == object_ref)
    if action:
        query = query.where(AuditEventRow.action.startswith(action))
    if projects is not None:
        query = query.where(AuditEventRow.project.in_(projects))
    if before_seq:
        query = query.where(AuditEventRow.seq < before_seq)
    return query
