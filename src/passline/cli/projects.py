"""passline projects ..."""

from __future__ import annotations

import typer

from passline.cli.common import JsonOption, client, console, emit

app = typer.Typer(help="Projects and their members.", no_args_is_help=True)
COLUMNS = ["name", "description", "created_by", "created_at"]


@app.command("create")
def create(
    ctx: typer.Context,
    name: str,
    description: str = typer.Option("", "--description", "-d"),
    as_json: bool = JsonOption,
) -> None:
    """Create a project; you become its admin."""
    emit(client(ctx).create_project(name, description), as_json, COLUMNS)


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Projects you belong to (all of them for workspace admins)."""
    emit(client(ctx).list_projects(), as_json, COLUMNS, title="Projects")


@app.command("show")
def show(ctx: typer.Context, name: str, as_json: bool = JsonOption) -> None:
    """One project and its members."""
    pl = client(ctx)
    project, members = pl.get_project(name), pl.project_members(name)
    if as_json:
        emit({"project": project, "members": members}, True, [])
        return
    emit(project, False, COLUMNS)
    emit(members, False, ["user", "role"], title="Members")


@app.command("members")
def members(ctx: typer.Context, name: str, as_json: bool = JsonOption) -> None:
    """Who holds which role in the project."""
    emit(client(ctx).project_members(name), as_json, ["user", "role"], title=f"Members of {name}")


@app.command("add-member")
def add_member(
    ctx: typer.Context,
    project: str,
    user: str,
    role: str = typer.Option(
        "viewer", "--role", "-r", help="viewer, contributor, approver or admin"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Give a user a role in the project (or change it)."""
    emit(client(ctx).add_member(project, user, role), as_json, ["project", "user", "role"])


@app.command("remove-member")
def remove_member(ctx: typer.Context, project: str, user: str) -> None:
    """Take a user out of the project."""
    client(ctx).remove_member(project, user)
    console.print(f"Removed {user} from {project}.")
