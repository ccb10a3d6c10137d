"""passline gate ..., passline maturity and passline map: release gates checked against the
platform's real state, the AI acceptance criteria they come from, the maturity scorecard and
the five-block map of a project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from passline.cli.common import JsonOption, client, console, emit_json, table
from passline.errors import InvalidInput
from passline.gates.criteria import parse_gate_yaml

app = typer.Typer(
    help="Release gates: named criteria checked against a model or prompt version; promotion "
    'policies name them (passline models policy P ALIAS --checks \'[{"name": "gate", ...}]\').',
    no_args_is_help=True,
)

STATUS = {"pass": "[green]pass[/green]", "fail": "[red]fail[/red]"}


@app.command("create")
def create(
    ctx: typer.Context,
    project: str = typer.Argument(..., help="The gate's project."),
    name: str = typer.Argument(..., help="The gate's name."),
    file: Path = typer.Option(..., "--file", "-f", help="The gate's YAML (criteria: [...])."),
    replace: bool = typer.Option(False, "--replace", help="Redefine an existing gate."),
    as_json: bool = JsonOption,
) -> None:
    """Define a gate from a YAML file; unknown criterion types and parameters are refused."""
    if not file.is_file():
        raise InvalidInput(f"{file} is not a readable file.", hint="Check the path.")
    spec = parse_gate_yaml(file.read_text("utf-8"))
    gate = client(ctx).gates.create(
        project, name, spec["criteria"], spec["description"], replace=replace
    )
    if as_json:
        emit_json(gate)
        return
    console.print(f"Gate {gate.project}/{gate.name}: {len(gate.criteria)} criteria.")


@app.command("list")
def list_gates(
    ctx: typer.Context, project: str = typer.Argument(...), as_json: bool = JsonOption
) -> None:
    """The project's gates."""
    gates = client(ctx).gates.list(project)
    if as_json:
        emit_json(gates)
        return
    table(
        None,
        ["gate", "criteria", "description"],
        [
            [f"{g.project}/{g.name}", ", ".join(c["type"] for c in g.criteria), g.description]
            for g in gates
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    gate: str = typer.Argument(..., help="PROJECT/NAME"),
    as_json: bool = JsonOption,
) -> None:
    """A gate's criteria and its latest evaluations."""
    api = client(ctx).gates
    found, evaluations = api.get(gate), api.evaluations(gate, limit=10)
    if as_json:
        emit_json({"gate": found, "evaluations": evaluations})
        return
    console.print(f"[bold]{found.project}/{found.name}[/bold] {escape(found.description)}")
    for c in found.criteria:
        console.print(f"- {escape(str(c))}", soft_wrap=True)
    table(
        "evaluations",
        ["at", "for", "passed", "by"],
        [
            [e.at.strftime("%Y-%m-%d %H:%M:%S"), e.subject_label, e.passed, e.actor]
            for e in evaluations
        ],
    )


@app.command("check")
def check(
    ctx: typer.Context,
    gate: str = typer.Argument(..., help="PROJECT/NAME"),
    target: str = typer.Option(
        ..., "--for", help="MODEL@VERSION (project/name@3) or prompt:PROJECT/NAME@VERSION"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Check the gate now: each criterion passes, fails or lacks evidence; exit code 1 when
    the gate does not pass. The evaluation is stored and audited."""
    result = client(ctx).gates.check(gate, target)
    if as_json:
        emit_json(result)
    else:
        table(
            f"{result.gate} for {result.subject_label}",
            ["criterion", "status", "message", "evidence"],
            [
                [
                    r["criterion"],
                    STATUS.get(r["status"], "[yellow]missing evidence[/yellow]"),
                    escape(r["message"]),
                    "\n".join(r["evidence"]),
                ]
                for r in result.results
            ],
        )
        verdict = "[green]passes[/green]" if result.passed else "[red]does not pass[/red]"
        console.print(f"Gate {result.gate} {verdict} (evaluation {result.id}).")
    if not result.passed:
        raise typer.Exit(1)


@app.command("types")
def types(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Every criterion type, its parameters and their defaults."""
    found = client(ctx).gates.types()
    if as_json:
        emit_json(found)
        return
    table(
        None,
        ["type", "parameters", "checks"],
        [[t["type"], _params(t), t["description"]] for t in found],
    )


def _params(spec: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}" if k in spec["required"] else f"{k}={v}" for k, v in spec["params"].items()
    )


@app.command("criteria")
def criteria(
    ctx: typer.Context,
    genai: bool = typer.Option(False, "--genai", help="Add the GenAI criteria."),
    project: str = typer.Option(
        None, "--project", "-p", help="Also define them as a gate of this project."
    ),
    name: str = typer.Option("acceptance", "--name", help="The gate's name with --project."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the gate YAML here."),
    as_json: bool = JsonOption,
) -> None:
    """The AI acceptance criteria (data, versioning, monitoring, rollback, documentation;
    GenAI with --genai) as Given/When/Then, each mapped to the gate criterion that checks it."""
    api = client(ctx).gates
    found = api.criteria(genai)
    if output:
        output.write_text(found["gate_yaml"], "utf-8")
    if project:
        spec = parse_gate_yaml(found["gate_yaml"])
        api.create(project, name, spec["criteria"], spec["description"], replace=True)
    if as_json:
        emit_json(found)
        return
    console.print(found["markdown"], markup=False, soft_wrap=True)
    if output:
        console.print(f"Gate file written to {output}.")
    if project:
        console.print(f"Gate {project}/{name} defined.")


def maturity(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p", help="One project (default: all)."),
    format: str = typer.Option("md", "--format", help="md, html or json."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the report here."),
) -> None:
    """The DevOps, MLOps and LLMOps maturity scorecard, from what the platform holds."""
    from passline.services.maturity import render_html, render_markdown

    renderers = {"md": render_markdown, "html": render_html, "json": None}
    if format not in renderers:
        raise InvalidInput(f"--format must be one of md, html, json. Got {format!r} instead.")
    card = client(ctx).maturity.scorecard(project)
    if format == "json":
        import json

        text = json.dumps(card, indent=2, default=str) + "\n"
    else:
        text = renderers[format](card)  # type: ignore[misc]
    if output:
        output.write_text(text, "utf-8")
        console.print(f"Scorecard written to {output}.")
    else:
        typer.echo(text, nl=False)


def block_map(
    ctx: typer.Context,
    project: str = typer.Argument(..., help="The project to map."),
    format: str = typer.Option("md", "--format", help="md, json or svg."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the map here."),
) -> None:
    """The five-block map of a project: data entry, storage, app-model interaction, model
    operation, security & monitoring, with what each really uses and the links between."""
    from passline.services.block_map import render_markdown, render_svg

    renderers = {"md": render_markdown, "svg": render_svg, "json": None}
    if format not in renderers:
        raise InvalidInput(f"--format must be one of md, json, svg. Got {format!r} instead.")
    found = client(ctx).maturity.block_map(project)
    if format == "json":
        import json

        text = json.dumps(found, indent=2, default=str) + "\n"
    else:
        text = renderers[format](found)  # type: ignore[misc]
    if output:
        output.write_text(text, "utf-8")
        console.print(f"Map written to {output}.")
    else:
        typer.echo(text, nl=False)


def audit_pack(
    ctx: typer.Context,
    target: str = typer.Argument(
        ..., help="MODEL@VERSION (project/name@3) or prompt:PROJECT/NAME@VERSION"
    ),
    output: Path = typer.Option(..., "--output", "-o", help="The folder to write."),
    as_json: bool = JsonOption,
) -> None:
    """Export what a regulator asks for about a model or prompt version: lineage, data
    versions with quality and sensitivity, approvals, gate evidence, evaluations, red-team
    results, the model card and audit entries, as HTML and JSON with a SHA-256 digest."""
    written = client(ctx).gates.audit_pack(target, output)
    if as_json:
        emit_json({k: v for k, v in written.items() if k != "pack"})
        return
    pack = written["pack"]
    console.print(
        f"Audit pack of {pack['subject']['label']} in {written['folder']}: "
        f"{', '.join(written['files'])}"
    )
    console.print(
        f"{len(pack['gates'])} gate evaluation(s), {len(pack['data'])} data version(s), "
        f"{len(pack['audit'])} audit entries."
    )
    console.print(f"sha256 {written['digest']}")
