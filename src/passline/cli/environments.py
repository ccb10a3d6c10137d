"""passline env ... and passline release ...: a project's environments (its promotion
path) and the releases along it, refusals and rollbacks included, each with its duration."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

from passline.cli.common import JsonOption, client, console, emit_json, table
from passline.core.environments import Environment, Release
from passline.errors import InvalidInput

env_app = typer.Typer(
    help="Environments of a project (dev, staging, production by default), in path order; "
    "each is the model alias and prompt label its releases move.",
    no_args_is_help=True,
)
release_app = typer.Typer(
    help="Releases: a version moved into an environment through its gates and approvals; "
    "every release, refusal and rollback is a record with its duration.",
    no_args_is_help=True,
)

STATUS = {
    "released": "[green]released[/green]",
    "refused": "[red]refused[/red]",
    "rolled_back": "[yellow]rolled back[/yellow]",
    "rollback": "[cyan]rollback[/cyan]",
}


@env_app.command("list")
def list_environments(
    ctx: typer.Context, project: str = typer.Argument(...), as_json: bool = JsonOption
) -> None:
    """The project's environments in path order (the defaults are created on first use)."""
    found = client(ctx).environments.list(project)
    if as_json:
        emit_json(found)
        return
    table(
        f"environments of {project}",
        ["#", "environment", "gates", "endpoints", "approval", "description"],
        [
            [
                e.position,
                e.name,
                ", ".join(e.gates),
                ", ".join(e.endpoints),
                "required" if e.require_approval else "",
                escape(e.description),
            ]
            for e in found
        ],
    )


@env_app.command("show")
def show(
    ctx: typer.Context,
    project: str = typer.Argument(...),
    name: str = typer.Argument(..., help="The environment."),
    as_json: bool = JsonOption,
) -> None:
    """One environment: its settings, endpoints, gates and latest releases."""
    api = client(ctx).environments
    env, recent = api.get(project, name), api.releases(project, name, limit=10)
    if as_json:
        emit_json({"environment": env, "releases": recent})
        return
    _print_environment(env)
    _releases_table(f"latest releases into {name}", recent)


def _print_environment(env: Environment) -> None:
    console.print(
        f"[bold]{env.project}/{env.name}[/bold] (#{env.position}) {escape(env.description)}"
    )
    console.print(f"gates: {', '.join(env.gates) or 'none'}")
    console.print(f"endpoints: {', '.join(env.endpoints) or 'none'}")
    console.print(f"approval: {'required' if env.require_approval else 'not required'}")
    for key, value in sorted(env.settings.items()):
        console.print(f"setting {key} = {escape(json.dumps(value))}", soft_wrap=True)


@env_app.command("set")
def set_environment(
    ctx: typer.Context,
    project: str = typer.Argument(...),
    name: str = typer.Argument(..., help="The environment (created when new)."),
    gate: list[str] = typer.Option(
        None, "--gate", help="A gate a release into it must pass (repeat; replaces the list)."
    ),
    endpoint: list[str] = typer.Option(
        None, "--endpoint", help="An endpoint bound to it (repeat; replaces the list)."
    ),
    setting: list[str] = typer.Option(
        None, "--setting", help="KEY=VALUE (JSON or text; KEY= removes it); repeat."
    ),
    position: int = typer.Option(None, "--position", help="Its place in the path, 0 first."),
    description: str = typer.Option(None, "--description"),
    require_approval: bool = typer.Option(
        None,
        "--require-approval/--no-require-approval",
        help="Whether a release needs an approval by someone other than the author.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create or update an environment (project admins); options not given are kept."""
    env = client(ctx).environments.configure(
        project,
        name,
        position=position,
        description=description,
        settings=_settings(setting) if setting else None,
        endpoints=list(endpoint) if endpoint else None,
        gates=list(gate) if gate else None,
        require_approval=require_approval,
    )
    if as_json:
        emit_json(env)
        return
    _print_environment(env)


def _settings(pairs: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--setting takes KEY=VALUE. Got {pair!r} instead.")
        try:
            found[key] = json.loads(value) if value else None
        except json.JSONDecodeError:
            found[key] = value
    return found


@env_app.command("delete")
def delete(
    ctx: typer.Context, project: str = typer.Argument(...), name: str = typer.Argument(...)
) -> None:
    """Remove an environment no release record names (project admins)."""
    client(ctx).environments.delete(project, name)
    console.print(f"Environment {project}/{name} deleted.")


@release_app.command("create")
def create(
    ctx: typer.Context,
    subject: str = typer.Argument(..., help="PROJECT/MODEL or prompt:PROJECT/NAME"),
    version: str = typer.Option(..., "--version", "-v", help="The version (3 or v3)."),
    to: str = typer.Option(..., "--to", help="The environment to release into."),
    reason: str = typer.Option("", "--reason", "-m"),
    as_json: bool = JsonOption,
) -> None:
    """Release a version into an environment: it must hold the environment before it, pass
    the gates and approvals; a refusal is recorded and exits non-zero."""
    found = client(ctx).environments.release(subject, version, to, reason)
    if as_json:
        emit_json(found)
        return
    _print_release(found)


def _print_release(r: Release) -> None:
    start = r.from_environment or "(first environment)"
    console.print(
        f"Release {r.id}: {r.target} v{r.version} {start} -> {r.to_environment} "
        f"{STATUS.get(r.status, r.status)} in {r.duration_ms:.1f} ms by {r.actor}."
    )
    if r.previous_version is not None or r.status == "released":
        held = f"v{r.previous_version}" if r.previous_version is not None else "nothing"
        console.print(f"{r.to_environment} held {held} before.")
    for g in r.gates:
        verdict = "[green]passes[/green]" if g["passed"] else "[red]fails[/red]"
        console.print(f"gate {g['gate']} {verdict} (evaluation {g['evaluation']})")
        for failing in g["failing"]:
            console.print(f"  - {escape(failing)}", soft_wrap=True)
    for reason in r.evidence.get("refused", []):
        console.print(f"refused: {escape(reason)}", soft_wrap=True)


@release_app.command("list")
def list_releases(
    ctx: typer.Context,
    project: str = typer.Argument(...),
    env: str = typer.Option(None, "--env", help="Only releases into this environment."),
    subject: str = typer.Option(None, "--subject", help="PROJECT/MODEL or prompt:P/NAME"),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = JsonOption,
) -> None:
    """The project's releases, newest first: what, from, to, who, status and duration."""
    found = client(ctx).environments.releases(project, env, limit, subject)
    if as_json:
        emit_json(found)
        return
    _releases_table(f"releases of {project}", found)


def _releases_table(title: str, found: list[Release]) -> None:
    table(
        title,
        ["id", "at", "what", "from", "to", "status", "by", "ms"],
        [
            [
                r.id,
                r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                f"{r.target} v{r.version}" if r.version is not None else f"{r.target} (none)",
                r.from_environment or "",
                r.to_environment,
                STATUS.get(r.status, r.status),
                r.actor,
                f"{r.duration_ms:.1f}",
            ]
            for r in found
        ],
    )


@release_app.command("show")
def show_release(
    ctx: typer.Context, release_id: str = typer.Argument(...), as_json: bool = JsonOption
) -> None:
    """One release record: gates with their evaluations, evidence, timing."""
    found = client(ctx).environments.get_release(release_id)
    if as_json:
        emit_json(found)
        return
    _print_release(found)
    if found.rolled_back_by:
        console.print(f"rolled back by {found.rolled_back_by}")
    if found.rollback_of:
        console.print(f"rollback of {found.rollback_of}")
    if found.reason:
        console.print(f"reason: {escape(found.reason)}")


@release_app.command("rollback")
def rollback(
    ctx: typer.Context,
    release_id: str = typer.Argument(..., help="The live release to undo."),
    reason: str = typer.Option("", "--reason", "-m"),
    as_json: bool = JsonOption,
) -> None:
    """Put back what the environment held before the release, at once (no gate waits);
    prints the measured duration."""
    found = client(ctx).environments.rollback(release_id, reason)
    if as_json:
        emit_json(found)
        return
    now = f"v{found.version}" if found.version is not None else "nothing"
    console.print(
        f"Rolled back {found.rollback_of}: {found.target} in {found.to_environment} is "
        f"{now} again (was v{found.previous_version}); took {found.duration_ms:.1f} ms "
        f"(record {found.id})."
    )
