"""Alembic environment: runs on the engine Passline hands over, online only."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from passline.store.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two servers starting at once must not both run the same migration.
            connection.execute(text("SELECT pg_advisory_xact_lock(73620011)"))
        context.run_migrations()
