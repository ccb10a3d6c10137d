"""One Alembic chain for both dialects; workspaces made by older schemas upgrade in place."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from passline.services.workspace import Workspace
from passline.settings import Settings
from passline.store import migrations
from passline.store.db import Database

COMPAT = Path(__file__).parent / "compat" / "ws-0001"


def test_head_constant_matches_the_chain() -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    assert ScriptDirectory.from_config(config).get_current_head() == migrations.HEAD_REVISION


def test_workspace_made_by_schema_0001_upgrades_and_keeps_its_data(tmp_path: Path) -> None:
    home = tmp_path / "old"
    shutil.copytree(COMPAT, home)
    workspace = Workspace.open(Settings(home=home))
    assert migrations.current_revision(workspace.db.write_engine) == migrations.HEAD_REVISION
    svc = workspace.services(workspace.local_context("cli"))
    assert [p.name for p in svc.projects.list()] == ["legacy"]
    assert {m.user: m.role for m in svc.projects.members("legacy")} == {
        "alice": "contributor",
        "root": "admin",
    }
    token = svc.identity.list_tokens(user="alice")[0]
    assert token.name == "old" and token.last_used_at is None
    edge = svc.lineage.graph("project:legacy", "up").edges[0]
    assert edge.attrs == {} and edge.type == "feeds"
    assert svc.audit.verify().ok
    svc.projects.create("after-upgrade")
    verification = svc.audit.verify()
    assert verification.ok and verification.checked == 4
    workspace.close()


def test_upgrade_from_0001_on_each_backend(any_settings: Settings) -> None:
    database = Database(any_settings)
    migrations.upgrade(database.write_engine, "0001")
    with database.write_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users VALUES"
                " ('usr_1', 'u', 'U', 'user', false, false, CURRENT_TIMESTAMP)"
            )
        )
    assert "last_used_at" not in {
        c["name"] for c in inspect(database.write_engine).get_columns("tokens")
    }
    database.dispose()
    workspace = Workspace.open(any_settings)
    columns = {c["name"] for c in inspect(workspace.db.write_engine).get_columns("tokens")}
    assert "last_used_at" in columns
    assert [
        u.name
        for u in workspace.services(workspace.local_context()).identity.list_users()
        if u.name == "u"
    ] == ["u"]
    workspace.close()


def test_downgrade_and_upgrade_round_trip(any_settings: Settings) -> None:
    workspace = Workspace.open(any_settings)
    engine = workspace.db.write_engine
    migrations.downgrade(engine, "0001")
    assert migrations.current_revision(engine) == "0001"
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.HEAD_REVISION
    workspace.close()


@pytest.mark.parametrize(
    "revision",
    [f"{n:04d}" for n in range(1, 14)],
)
def test_each_revision_applies_to_an_empty_sqlite_database(tmp_path: Path, revision: str) -> None:
    database = Database(Settings(home=tmp_path))
    migrations.upgrade(database.write_engine, revision)
    assert migrations.current_revision(database.write_engine) == revision
    database.dispose()


def test_the_models_match_the_migrated_schema(any_workspace: Workspace) -> None:
    """The chain and store/models.py describe the same tables, on each backend."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from passline.store.models import Base

    with any_workspace.db.write_engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []
