"""One Alembic chain for SQLite and PostgreSQL, applied programmatically (no alembic.ini).

Each migration must run on both dialects; concurrent starts are serialised by a database
lock (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL), so a migration runs once.
``tests/test_migrations.py`` upgrades a workspace made by the oldest revision (a committed
fixture) and checks that the data survives.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

__all__ = ["HEAD_REVISION", "current_revision", "upgrade"]

#: Kept in step with versions/ by a test; lets startup skip Alembic when nothing is due.
HEAD_REVISION = "0013"
_HERE = Path(__file__).parent


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["engine"] = engine
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; concurrent callers serialise on a database lock."""
    command.upgrade(_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(_config(engine), revision)
