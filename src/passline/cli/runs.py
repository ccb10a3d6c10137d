"""passline runs ... : list, show, compare, reproduce, experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from passline.cli.common import JsonOption, client, console, emit, emit_json, err_console, table
from passline.core.entities import Run

app = typer.Typer(help="Experiment runs: search, compare, reproduce.", no_args_is_help=True)


def _when(ms: int | None) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") if ms else ""


@app.command("experiments")
def experiments(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p"),
    as_json: bool = JsonOption,
) -> None:
    """Experiments you can see."""
    emit(
        client(ctx).runs.experiments(project),
        as_json,
        ["id", "project", "name", "created_by"],
        title="Experiments",
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p"),
    experiment: str = typer.Option(None, "--experiment", "-e", help="project/experiment"),
    filter: str = typer.Option(
        None, "--filter", "-f", help="e.g. \"metrics.auc > 0.8 and params.model = 'gbm'\""
    ),
    order_by: list[str] = typer.Option(None, "--order-by", help="e.g. 'metrics.auc DESC'"),
    limit: int = typer.Option(50, "--limit", "-n"),
    as_json: bool = JsonOption,
) -> None:
    """Runs, newest first, filtered and ordered like MLflow's search_runs."""
    pl = client(ctx)
    experiments = [pl.runs.experiment(experiment).id] if experiment else None
    page = pl.runs.search(project, experiments, filter, order_by or None, limit)
    if as_json:
        emit_json(page)
        return
    metrics = sorted({k for r in page.runs for k in r.metrics})[:6]
    table(
        "Runs",
        ["id", "experiment", "name", "status", "started", *metrics],
        [
            [
                r.id,
                r.experiment,
                r.name,
                r.status,
                _when(r.start_time),
                *[_fmt(r.metrics.get(m)) for m in metrics],
            ]
            for r in page.runs
        ],
    )


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))


@app.command("show")
def show(ctx: typer.Context, run_id: str, as_json: bool = JsonOption) -> None:
    """A run: params, metrics, tags, inputs, artifacts, code version."""
    run = client(ctx).runs.get(run_id)
    if as_json:
        emit_json(run)
        return
    _print_run(run)


def _print_run(run: Run) -> None:
    console.print(
        f"[bold]{run.experiment}/{run.name}[/bold] {run.id} {run.status} by {run.user}, "
        f"{_when(run.start_time)} to {_when(run.end_time) or '...'}"
    )
    code = run.code
    if code.get("git"):
        console.print(
            f"code: {code['git'][:12]}{' (dirty)' if code.get('dirty') else ''}"
            f" {code.get('entry_point') or ''}",
            markup=False,
        )
    table("Params", ["key", "value"], sorted(run.params.items()))
    table(
        "Metrics (latest)", ["key", "value"], [[k, _fmt(v)] for k, v in sorted(run.metrics.items())]
    )
    if run.inputs:
        table(
            "Inputs",
            ["dataset version", "context"],
            [[i["label"], i["context"]] for i in run.inputs],
        )
    if run.artifacts:
        table(
            "Artifacts",
            ["path", "size", "sha256"],
            [[a["path"], a["size"], a["digest"][:16]] for a in run.artifacts],
        )


@app.command("compare")
def compare(
    ctx: typer.Context,
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids."),
    as_json: bool = JsonOption,
) -> None:
    """Params and metrics side by side; differing rows marked with *."""
    result = client(ctx).runs.compare(run_ids)
    if as_json:
        emit_json(result)
        return
    names = [r["name"] for r in result["runs"]]
    table(
        "Params",
        ["", "key", *names],
        [["*" if p["differs"] else "", p["key"], *p["values"]] for p in result["params"]],
    )
    table(
        "Metrics",
        ["", "key", *names],
        [
            ["*" if m["differs"] else "", m["key"], *[_fmt(v) for v in m["values"]]]
            for m in result["metrics"]
        ],
    )


@app.command("reproduce")
def reproduce(
    ctx: typer.Context,
    run_id: str,
    repo: Path = typer.Option(Path("."), "--repo", help="A git clone that has the run's commit."),
    tolerance: float = typer.Option(1e-9, "--tolerance", help="Relative and absolute."),
    as_json: bool = JsonOption,
) -> None:
    """Re-run a run's entry point on its commit, diff and dataset versions; compare metrics."""
    from passline.sdk.reproduce import reproduce as run_again

    with console.status(f"Reproducing {run_id}..."):
        result = run_again(client(ctx), run_id, repo.resolve(), tolerance)
    if as_json:
        emit_json(
            {
                "original": result.original.id,
                "new": result.new.id if result.new else None,
                "returncode": result.returncode,
                "matches": result.matches,
                "metrics": result.metrics,
            }
        )
    else:
        _print_reproduction(result)
    if not result.matches:
        raise typer.Exit(1)


def _print_reproduction(result: Any) -> None:
    if result.new is None:
        err_console.print(
            f"The entry point exited {result.returncode} without a new run.\n{result.output}",
            markup=False,
        )
        return
    console.print(
        f"original {result.original.id} -> reproduced {result.new.id} "
        f"(exit {result.returncode}); inputs pinned: "
        f"{', '.join(i['label'] for i in result.original.inputs) or 'none'}"
    )
    table(
        "Metrics",
        ["metric", "original", "reproduced", "same"],
        [
            [m["metric"], _fmt(m["original"]), _fmt(m["reproduced"]), "yes" if m["same"] else "NO"]
            for m in result.metrics
        ],
    )
    verdict = "reproduced: every metric matches" if result.matches else "NOT reproduced"
    console.print(verdict)
