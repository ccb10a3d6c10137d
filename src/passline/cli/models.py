"""passline models ... : list, show, register, alias, promote, approve, rollback, card,
history, policy."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from passline.cli.common import JsonOption, client, console, emit, emit_json, table
from passline.core.entities import AliasMove
from passline.errors import InvalidInput

app = typer.Typer(
    help="The model registry: versions, aliases, approvals, rollback.", no_args_is_help=True
)
VERSION_COLUMNS = [
    "version",
    "format",
    "author",
    "run_id",
    "aliases",
    "dataset_versions",
    "created_at",
]


@app.command("list")
def list_(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p"),
    as_json: bool = JsonOption,
) -> None:
    """Registered models and their aliases."""
    models = client(ctx).models.list(project)
    if as_json:
        emit_json(models)
        return
    table(
        "Models",
        ["model", "aliases", "latest", "owner"],
        [
            [
                f"{m.project}/{m.name}",
                ", ".join(f"{a}: v{v}" for a, v in sorted(m.aliases.items())),
                m.latest_version,
                m.owner,
            ]
            for m in models
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="project/name"),
    as_json: bool = JsonOption,
) -> None:
    """A model's versions, aliases and latest alias moves."""
    pl = client(ctx)
    info, versions, history = (
        pl.models.get(model),
        pl.models.versions(model),
        pl.models.history(model),
    )
    if as_json:
        emit_json({"model": info, "versions": versions, "history": history})
        return
    console.print(
        f"[bold]{info.project}/{info.name}[/bold] owner {info.owner}: "
        f"{info.description or 'no description'}"
    )
    table(
        "Versions",
        ["version", "format", "author", "run", "metrics", "trained on", "aliases", "approvals"],
        [
            [
                v.version,
                v.format,
                v.author,
                v.run_id or "",
                _metrics(v.metrics),
                ", ".join(v.dataset_versions),
                ", ".join(v.aliases),
                len(v.approvals),
            ]
            for v in versions
        ],
    )
    _print_history(history[:10])


def _metrics(metrics: dict[str, object]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(metrics.items())
    )


def _print_history(history: list[AliasMove]) -> None:
    table(
        "Alias history",
        ["when", "alias", "from", "to", "kind", "by", "why"],
        [
            [
                m.at.strftime("%Y-%m-%d %H:%M:%S"),
                m.alias,
                m.from_version or "",
                m.to_version or "",
                m.kind,
                m.actor,
                m.reason,
            ]
            for m in history
        ],
    )


@app.command("register")
def register(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="project/name"),
    source: str = typer.Argument(..., help="runs:/RUN_ID/path, or a file"),
    format: str = typer.Option(None, "--format", help="sklearn, onnx, python or mlflow"),
    description: str = typer.Option("", "--description", "-d"),
    as_json: bool = JsonOption,
) -> None:
    """Register a new version from a run's artifact or a file."""
    pl = client(ctx)
    if source.startswith("runs:/"):
        version = pl.models.register(model, source, format, description)
    else:
        version = pl.models.register_file(model, Path(source), format, description)
    if as_json:
        emit_json(version)
        return
    console.print(
        f"{version.label} registered ({version.format}), trained on "
        f"{', '.join(version.dataset_versions) or 'no recorded dataset'}."
    )


@app.command("versions")
def versions(ctx: typer.Context, model: str, as_json: bool = JsonOption) -> None:
    """Every version of a model."""
    emit(client(ctx).models.versions(model), as_json, VERSION_COLUMNS, title=model)


@app.command("approve")
def approve(
    ctx: typer.Context,
    model: str,
    version: str,
    comment: str = typer.Option("", "--comment", "-m"),
    alias: str = typer.Option(None, "--alias", help="Approve for this alias only."),
    as_json: bool = JsonOption,
) -> None:
    """Approve a version (approvers; never the version's own author)."""
    result = client(ctx).models.approve(model, version, comment, alias)
    if as_json:
        emit_json(result)
    else:
        console.print(f"Approved {result.label} ({len(result.approvals)} approval(s)).")


def _print_move(move: AliasMove) -> None:
    console.print(
        f"{move.model}: {move.alias} v{move.from_version or '-'} -> v{move.to_version or '-'} "
        f"({move.kind}) in {move.duration_ms:.1f} ms"
    )


@app.command("promote")
def promote(
    ctx: typer.Context,
    model: str,
    version: str,
    alias: str = typer.Option("production", "--alias"),
    reason: str = typer.Option("", "--reason", "-m"),
    as_json: bool = JsonOption,
) -> None:
    """Move an alias (production by default) to a version, if the release policy allows."""
    move = client(ctx).models.promote(model, version, alias, reason)
    emit_json(move) if as_json else _print_move(move)


@app.command("alias")
def alias(
    ctx: typer.Context,
    model: str,
    alias_name: str = typer.Argument(..., metavar="ALIAS"),
    version: str = typer.Argument(None, help="Omit with --delete."),
    delete: bool = typer.Option(False, "--delete"),
    reason: str = typer.Option("", "--reason", "-m"),
    as_json: bool = JsonOption,
) -> None:
    """Point any alias (staging, champion, ...) at a version, or delete it."""
    pl = client(ctx)
    if delete:
        move = pl.models.delete_alias(model, alias_name)
    elif version is None:
        raise InvalidInput("Name the version to point the alias at, or pass --delete.")
    else:
        move = pl.models.set_alias(model, alias_name, version, reason)
    emit_json(move) if as_json else _print_move(move)


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    model: str,
    alias: str = typer.Option("production", "--alias"),
    reason: str = typer.Option("", "--reason", "-m"),
    as_json: bool = JsonOption,
) -> None:
    """Return the alias to the version it held before its last move, in one step."""
    move = client(ctx).models.rollback(model, alias, reason)
    emit_json(move) if as_json else _print_move(move)


@app.command("history")
def history(
    ctx: typer.Context,
    model: str,
    alias: str = typer.Option(None, "--alias"),
    as_json: bool = JsonOption,
) -> None:
    """Every alias move: who, when, why, from, to."""
    moves = client(ctx).models.history(model, alias)
    emit_json(moves) if as_json else _print_history(moves)


@app.command("card")
def card(
    ctx: typer.Context,
    model: str,
    version: str = typer.Option(None, "--version"),
    html: bool = typer.Option(False, "--html"),
    output: Path = typer.Option(None, "--output", "-o", help="Write to a file."),
) -> None:
    """The model card (Markdown, or --html)."""
    text = client(ctx).models.card(model, version)["html" if html else "markdown"]
    if output:
        output.write_text(text)
        console.print(f"Wrote {output}.")
    else:
        typer.echo(text)


@app.command("policy")
def policy(
    ctx: typer.Context,
    project: str,
    alias: str = typer.Argument(None, help="Set the policy of this alias; omit to list."),
    require_approval: bool = typer.Option(True, "--approval/--no-approval"),
    checks: str = typer.Option(
        "[]",
        "--checks",
        help='JSON list, e.g. [{"name": "metric_at_least", "metric": "auc", "min": 0.8}]',
    ),
    as_json: bool = JsonOption,
) -> None:
    """Show or set what an alias needs before it moves."""
    pl = client(ctx)
    if alias is None:
        emit(
            pl.models.policies(project),
            as_json,
            ["alias", "require_approval", "checks", "updated_by"],
        )
        return
    try:
        parsed = json.loads(checks)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--checks must be a JSON list: {exc}.") from None
    emit(
        pl.models.set_policy(project, alias, require_approval, parsed),
        as_json,
        ["project", "alias", "require_approval", "checks"],
    )


@app.command("evaluate")
def evaluate(
    ctx: typer.Context,
    model: str,
    version: str,
    alias: str = typer.Option("production", "--alias"),
    as_json: bool = JsonOption,
) -> None:
    """What the alias's release policy demands of a version, and what is missing."""
    verdict = client(ctx).models.evaluate(model, version, alias)
    if as_json:
        emit_json(verdict)
        return
    if verdict["policy"] is None:
        console.print(f"No release policy for {alias!r}: the alias can move freely.")
        return
    table(
        f"Policy of {alias!r}",
        ["check", "passed", "evidence"],
        [[c["name"], c["passed"], c["message"]] for c in verdict["checks"]],
    )
    missing = verdict["missing"]
    console.print(
        "Ready to promote." if not missing else "Missing: " + "; ".join(missing), markup=False
    )


@app.command("update")
def update(
    ctx: typer.Context,
    model: str,
    description: str = typer.Option(None, "--description", "-d"),
    purpose: str = typer.Option(None, "--purpose"),
    users: str = typer.Option(None, "--users"),
    out_of_scope: str = typer.Option(None, "--out-of-scope"),
    limitations: str = typer.Option(None, "--limitations"),
    ethical_considerations: str = typer.Option(None, "--ethical-considerations"),
    as_json: bool = JsonOption,
) -> None:
    """The owner's description and intended-use fields, shown on the model card."""
    fields = {
        "purpose": purpose,
        "users": users,
        "out_of_scope": out_of_scope,
        "limitations": limitations,
        "ethical_considerations": ethical_considerations,
    }
    intended = {k: v for k, v in fields.items() if v is not None} or None
    result = client(ctx).models.update(model, description, intended)
    emit(result, as_json, ["project", "name", "description", "intended_use"])


@app.command("optimize")
def optimize(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="project/name@version"),
    to: str = typer.Option("onnx", "--to", help="The format: onnx."),
    quantize: str = typer.Option(None, "--quantize", help="int8: quantize the weights."),
    dataset: str = typer.Option(None, "--dataset", help="Measure on DS@V (default: training)."),
    as_json: bool = JsonOption,
) -> None:
    """Convert a scikit-learn version to ONNX, measure the trade-off, register the result."""
    model, at, version = target.rpartition("@")
    if not at or not model:
        raise InvalidInput(f"Name the version as project/name@version. Got {target!r} instead.")
    if to != "onnx":
        raise InvalidInput(f"Only '--to onnx' is supported. Got {to!r}.")
    report = client(ctx).models.optimize(model, version, quantize, dataset)
    if as_json:
        emit_json(report)
        return
    lat, size = report["latency_ms"], report["size_bytes"]
    rows = [
        [
            "latency p50 (ms, 1 row)",
            f"{lat['original']['p50']:.3f}",
            f"{lat['optimized']['p50']:.3f}",
        ],
        [
            "latency p99 (ms, 1 row)",
            f"{lat['original']['p99']:.3f}",
            f"{lat['optimized']['p99']:.3f}",
        ],
        [
            "rows/s (batch)",
            f"{report['rows_per_s']['original']:,.0f}",
            f"{report['rows_per_s']['optimized']:,.0f}",
        ],
        ["size (bytes)", f"{size['original']:,}", f"{size['optimized']:,}"],
    ]
    if "metric" in report:
        metric = report["metric"]
        rows.append(
            [
                f"{metric['name']} on {report['rows']:,} rows",
                f"{metric['original']:.4g}",
                f"{metric['optimized']:.4g}",
            ]
        )
    table(
        f"{model} v{report['from_version']} -> v{report['version']} (onnx"
        + (", int8)" if report["quantize"] else ")"),
        ["", "original", "optimized"],
        rows,
    )
    console.print("agreement: " + ", ".join(f"{k} {v:.3g}" for k, v in report["agreement"].items()))
