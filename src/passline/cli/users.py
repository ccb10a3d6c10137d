"""passline users ... and passline tokens ..."""

from __future__ import annotations

import typer

from passline.cli.common import JsonOption, client, console, emit, emit_json, table

users_app = typer.Typer(help="Users and service accounts.", no_args_is_help=True)
tokens_app = typer.Typer(
    help="API tokens: shown once, stored hashed, expiring.", no_args_is_help=True
)
USER_COLUMNS = ["name", "display_name", "kind", "is_admin", "created_at"]


@users_app.command("create")
def create_user(
    ctx: typer.Context,
    name: str,
    display_name: str = typer.Option(None, "--display-name"),
    service: bool = typer.Option(False, "--service", help="A service account."),
    admin: bool = typer.Option(False, "--admin", help="Workspace admin."),
    as_json: bool = JsonOption,
) -> None:
    """Create a user or service account (workspace admins)."""
    kind = "service" if service else "user"
    emit(client(ctx).create_user(name, display_name, kind, admin), as_json, USER_COLUMNS)


@users_app.command("list")
def list_users(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Every user and service account."""
    emit(client(ctx).list_users(), as_json, USER_COLUMNS, title="Users")


@users_app.command("disable")
def disable(ctx: typer.Context, name: str, as_json: bool = JsonOption) -> None:
    """Disable a user: their tokens stop working at once (admins)."""
    emit(client(ctx).set_user_disabled(name, True), as_json, USER_COLUMNS + ["disabled"])


@users_app.command("enable")
def enable(ctx: typer.Context, name: str, as_json: bool = JsonOption) -> None:
    """Enable a disabled user again (admins)."""
    emit(client(ctx).set_user_disabled(name, False), as_json, USER_COLUMNS + ["disabled"])


@users_app.command("whoami")
def whoami(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """The identity this command acts as."""
    emit(client(ctx).whoami(), as_json, USER_COLUMNS)


@tokens_app.command("create")
def create_token(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A label, e.g. 'laptop'."),
    user: str = typer.Option(None, "--user", help="Owner (admins only); you by default."),
    ttl_days: int = typer.Option(None, "--ttl-days", help="Days until it expires."),
    as_json: bool = JsonOption,
) -> None:
    """Create a token; the secret is printed once and cannot be shown again."""
    created = client(ctx).create_token(name, user, ttl_days)
    if as_json:
        emit_json(created)
        return
    console.print(
        f"Token {created.info.id} for {created.info.user}, "
        f"expires {created.info.expires_at:%Y-%m-%d}."
    )
    console.print("Secret (shown once, store it now):")
    console.print(created.secret, soft_wrap=True)


@tokens_app.command("list")
def list_tokens(
    ctx: typer.Context,
    user: str = typer.Option(None, "--user", help="Another user's ('*' for all; admins)."),
    as_json: bool = JsonOption,
) -> None:
    """Your tokens and their state; secrets are never shown."""
    tokens = client(ctx).list_tokens(user)
    if as_json:
        emit_json(tokens)
        return
    table(
        "Tokens",
        ["id", "user", "name", "state", "expires_at", "last_used_at"],
        [[t.id, t.user, t.name, t.state, t.expires_at, t.last_used_at] for t in tokens],
    )


@tokens_app.command("revoke")
def revoke(ctx: typer.Context, token_id: str, as_json: bool = JsonOption) -> None:
    """Revoke a token at once."""
    info = client(ctx).revoke_token(token_id)
    if as_json:
        emit_json(info)
        return
    console.print(f"Revoked {info.id} ({info.user}/{info.name}).")
