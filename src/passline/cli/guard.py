"""passline guard ...: PII scans, guard policies per app, checks and events."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
import yaml
from rich.markup import escape

from passline.cli.common import JsonOption, _options, client, console, emit_json, table
from passline.services.guards import PiiScan, pii_scan

app = typer.Typer(
    help="Guardrails: PII scans, guard policies per app, checks and the events they record.",
    no_args_is_help=True,
)
EVENT_COLUMNS = ["at", "app", "stage", "guard", "action", "enforced", "user", "reasons"]
TextArgument = typer.Argument("-", help="The text, or '-' (the default) to read standard input.")


def _text(value: str) -> str:
    return sys.stdin.read() if value == "-" else value


@app.command("scan")
def scan(
    ctx: typer.Context,
    text: str = TextArgument,
    entities: str = typer.Option(
        None, "--entities", help="Comma-separated types to look for (EMAIL,CARD,...); all if unset."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Find personal data and secrets in a text; print the findings and the redacted text.

    Nothing is stored. Without --url it runs in this process, with no workspace.
    """
    wanted = [e.strip() for e in entities.split(",") if e.strip()] if entities else None
    content = _text(text)
    if _options(ctx).url:
        report: PiiScan = client(ctx).guard.scan(content, wanted)
    else:
        report = pii_scan(content, wanted)
    if as_json:
        emit_json(report)
        return
    result = report.results[0]
    table(
        f"{len(result['findings'])} finding(s)",
        ["entity", "start", "end", "score", "validation"],
        [
            [f["entity"], f["start"], f["end"], f["score"], f["validation"]]
            for f in result["findings"]
        ],
    )
    console.print(f"ner: {report.ner}")
    console.print(escape(result["redacted"]), soft_wrap=True)


@app.command("policy")
def policy(
    ctx: typer.Context,
    project: str,
    app_name: str = typer.Argument(..., metavar="APP"),
    file: str = typer.Option(
        None, "--file", "-f", help="Set the policy from this YAML/JSON file ('-': stdin)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Show an app's guard policy, or set it with --file (project admins)."""
    guard = client(ctx).guard
    if file is None:
        info = guard.get_policy(project, app_name)
    else:
        source = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        info = guard.set_policy(project, app_name, source)
    if as_json:
        emit_json(info)
        return
    console.print(
        f"[bold]{escape(project)}/{escape(app_name)}[/bold] "
        f"(updated by {escape(info.updated_by)}, {info.updated_at:%Y-%m-%d %H:%M:%S} UTC)"
    )
    console.print(escape(yaml.safe_dump(info.policy, sort_keys=False)), end="")


@app.command("check")
def check(
    ctx: typer.Context,
    project: str,
    app_name: str = typer.Argument(..., metavar="APP"),
    stage: str = typer.Argument(..., help="input | output"),
    text: str = TextArgument,
    user: str = typer.Option(None, "--user", help="Check as this user (default: you)."),
    as_json: bool = JsonOption,
) -> None:
    """Run an app's input or output guards on a text; the events are recorded."""
    result = client(ctx).guard.check(project, app_name, stage, _text(text), user=user)
    if as_json:
        emit_json(result)
        return
    shadow = f" (shadow: would {result.intended})" if result.shadow else ""
    console.print(f"[bold]{result.action}[/bold]{shadow} in {result.duration_ms:.1f} ms")
    for reason in result.reasons:
        console.print(f"  - {escape(reason)}")
    console.print(escape(result.text), soft_wrap=True)


@app.command("events")
def events(
    ctx: typer.Context,
    project: str,
    app_name: str = typer.Option(None, "--app", help="Only this app."),
    action: str = typer.Option(None, "--action", help="allow | redact | block"),
    since: str = typer.Option(None, "--since", help="ISO 8601 time, e.g. 2026-05-01T00:00Z"),
    limit: int = typer.Option(100, "--limit"),
    as_json: bool = JsonOption,
) -> None:
    """The latest guard events of a project, newest first."""
    found = client(ctx).guard.events(project, app_name, action, since, limit)
    if as_json:
        emit_json(found)
        return
    rows = [
        [
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            e.app,
            e.stage,
            e.guard,
            e.action,
            "yes" if e.enforced else "shadow",
            e.user,
            "; ".join(e.reasons),
        ]
        for e in found
    ]
    table(f"Guard events of {project}", EVENT_COLUMNS, rows)
