"""passline db ..."""

from __future__ import annotations

import typer

from passline.cli.common import console
from passline.services.workspace import Workspace
from passline.settings import Settings
from passline.store import migrations

app = typer.Typer(help="The metadata database schema.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    opts = ctx.find_root().obj
    return Settings.load(home=getattr(opts, "home", None))


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply pending migrations (also done automatically on start)."""
    workspace = Workspace.open(_settings(ctx), migrate=False)
    before = migrations.current_revision(workspace.db.write_engine)
    after = workspace.migrate()
    console.print(f"{workspace.db.display_url}: schema {before or 'empty'} -> {after}.")
    workspace.close()


@app.command("current")
def current(ctx: typer.Context) -> None:
    """The schema revision of the database, and the newest this Passline knows."""
    workspace = Workspace.open(_settings(ctx), migrate=False)
    revision = migrations.current_revision(workspace.db.write_engine)
    console.print(
        f"{workspace.db.display_url}: at {revision or 'empty'}, head {migrations.HEAD_REVISION}."
    )
    workspace.close()
