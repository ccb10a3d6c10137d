"""passline audit ..."""

from __future__ import annotations

import typer

from passline.cli.common import JsonOption, client, console, emit_json, err_console, table
from passline.errors import IntegrityError

app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@app.command("log")
def log(
    ctx: typer.Context,
    actor: str = typer.Option(None, "--actor"),
    object: str = typer.Option(None, "--object", help="A ref, e.g. project:retail."),
    action: str = typer.Option(None, "--action", help="Prefix, e.g. 'token.'."),
    project: str = typer.Option(None, "--project", "-p"),
    limit: int = typer.Option(50, "--limit", "-n"),
    before_seq: int = typer.Option(
        None, "--before-seq", help="Page back: entries older than this."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Who did what to which object, newest first."""
    entries = client(ctx).audit_log(actor, object, action, project, before_seq, limit)
    if as_json:
        emit_json(entries)
        return
    table(
        "Audit log",
        ["seq", "at", "actor", "action", "object", "origin", "client"],
        [[e.seq, e.at, e.actor, e.action, e.object, e.origin, e.client] for e in entries],
    )


@app.command("verify")
def verify(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Check the whole chain; name the first entry edited, inserted or deleted."""
    result = client(ctx).verify_audit()
    if as_json:
        emit_json(result)
    elif result.ok:
        console.print(result.message)
    else:
        err_console.print(f"[red]{result.message}[/red]", soft_wrap=True)
    if not result.ok:
        raise typer.Exit(IntegrityError.exit_code)
