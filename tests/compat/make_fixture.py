"""Build tests/compat/ws-0001: a workspace as release 0.0 (schema 0001) left it.

Run once when a migration is added after it; the output is committed so that upgrade tests
open bytes written by the old schema, not by today's code pretending to be old.
    python tests/compat/make_fixture.py
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from passline.services.audit import GENESIS, AuditChain, canonical_changes
from passline.settings import Settings
from passline.store import migrations
from passline.store.db import Database
from passline.store.models import AuditEventRow

OUT = Path(__file__).parent / "ws-0001"
KEY = "compat-fixture-key-0001"
T0 = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)

ROWS = [
    "INSERT INTO users VALUES ('usr_A', 'root', 'root (local)', 'user', 1, 0, :t)",
    "INSERT INTO users VALUES ('usr_B', 'alice', 'Alice', 'user', 0, 0, :t)",
    "INSERT INTO projects VALUES ('prj_A', 'legacy', 'made by schema 0001', :t, 'root')",
    "INSERT INTO memberships VALUES ('prj_A', 'usr_A', 'admin')",
    "INSERT INTO memberships VALUES ('prj_A', 'usr_B', 'contributor')",
    "INSERT INTO tokens VALUES ('tok_A', 'usr_B', 'old', :h, :t, '2099-01-01 00:00:00', NULL)",
    "INSERT INTO lineage_nodes VALUES ('project:legacy', 'project', 'legacy', 'prj_A', :t)",
    "INSERT INTO lineage_nodes VALUES ('source:erp', 'source', 'ERP', 'prj_A', :t)",
    "INSERT INTO lineage_edges VALUES"
    " ('edg_A', 'source:erp', 'project:legacy', 'feeds', 'root', :t)",
]
AUDIT = [
    ("user.bootstrap", "user:root", None, {}),
    ("project.create", "project:legacy", "legacy", {"description": "made by schema 0001"}),
    ("lineage.link", "project:legacy", "legacy", {"count": 1}),
]


def build() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    database = Database(Settings(home=OUT))
    migrations.upgrade(database.write_engine, "0001")
    with database.write_engine.begin() as conn:
        for statement in ROWS:
            conn.execute(text(statement), {"t": T0, "h": "0" * 64})
        _write_audit(conn)
    database.dispose()
    (OUT / "audit.key").write_text(KEY)
    for extra in OUT.glob("passline.db-*"):
        extra.unlink()


def _write_audit(conn) -> None:  # type: ignore[no-untyped-def]
    chain, prev = AuditChain(KEY.encode()), GENESIS
    for seq, (action, ref, project, changes) in enumerate(AUDIT, start=1):
        row = AuditEventRow(
            seq=seq,
            at=f"2026-01-15T09:30:0{seq}.000000Z",
            actor="root",
            action=action,
            object_ref=ref,
            project=project,
            origin="cli",
            client=None,
            changes=canonical_changes(changes),
            prev_hash=prev,
        )
        row.hash = chain.entry_hash(row)
        conn.execute(
            text(
                "INSERT INTO audit_events VALUES (:seq, :at, :actor, :action, :object_ref,"
                " :project, :origin, :client, :changes, :prev_hash, :hash)"
            ),
            {
                c: getattr(row, c)
                for c in (
                    "seq",
                    "at",
                    "actor",
                    "action",
                    "object_ref",
                    "project",
                    "origin",
                    "client",
                    "changes",
                    "prev_hash",
                    "hash",
                )
            },
        )
        prev = row.hash
    conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": len(AUDIT), "h": prev})


if __name__ == "__main__":
    build()
