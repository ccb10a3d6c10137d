"""passline pipeline ...: run pipelines (with a live view of their steps), list them, show a
run's steps with cache hits, schedule them and trigger them on new data or alerts."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

from passline.cli.common import (
    JsonOption,
    client,
    console,
    counting_progress,
    emit_json,
    err_console,
    table,
)
from passline.core.pipelines import PipelineRun
from passline.errors import InvalidInput

app = typer.Typer(
    help="Pipelines: steps declared in Python, cached by code, parameters and inputs; run "
    "locally or on Ray; scheduled or triggered by new dataset versions and alerts.",
    no_args_is_help=True,
)

STATUS = {
    "succeeded": "[green]succeeded[/green]",
    "cached": "[cyan]cached[/cyan]",
    "failed": "[red]failed[/red]",
    "skipped": "[yellow]skipped[/yellow]",
    "running": "running",
    "pending": "pending",
    "queued": "queued",
}


def _params(items: list[str] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--param takes NAME=VALUE. Got {item!r} instead.")
        try:
            values[key] = json.loads(text)
        except ValueError:
            values[key] = text
    return values


@app.command("run")
def run(
    ctx: typer.Context,
    pipeline: str = typer.Argument(
        ..., help="file.py:variable, package.module:variable, or PROJECT/NAME once recorded."
    ),
    param: list[str] = typer.Option(None, "--param", "-p", help="NAME=VALUE (JSON values)."),
    executor: str = typer.Option("local", "--executor", "-e", help="local or ray."),
    as_json: bool = JsonOption,
) -> None:
    """Run a pipeline with a live view of its steps; exit 1 when it fails."""
    with counting_progress(as_json) as bar:
        task = bar.add_task(f"pipeline {pipeline}", total=None)

        def show(event: Any) -> None:
            bar.update(task, completed=event.done, total=event.total)
            if event.status in ("cached", "succeeded", "failed", "skipped", "retrying"):
                label = STATUS.get(event.status, event.status)
                bar.console.print(f"  {escape(event.step)}: {label} {escape(event.detail)}")

        result = client(ctx).pipelines.run(pipeline, _params(param), executor, show)
    if as_json:
        emit_json(result)
    else:
        _print_run(result)
    if result.status == "failed":
        raise typer.Exit(1)


@app.command("list")
def list_pipelines(
    ctx: typer.Context, project: str = typer.Argument(...), as_json: bool = JsonOption
) -> None:
    """The project's pipelines (recorded by their first run)."""
    found = client(ctx).pipelines.list(project)
    if as_json:
        emit_json(found)
        return
    table(
        None,
        ["pipeline", "steps", "source", "updated"],
        [
            [
                f"{p.project}/{p.name}",
                len(p.definition.get("steps", [])),
                p.source,
                p.updated_at.strftime("%Y-%m-%d %H:%M"),
            ]
            for p in found
        ],
    )


@app.command("runs")
def runs(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="PROJECT or PROJECT/PIPELINE"),
    limit: int = typer.Option(20, "--limit", "-n"),
    as_json: bool = JsonOption,
) -> None:
    """The newest runs."""
    found = client(ctx).pipelines.runs(ref, limit)
    if as_json:
        emit_json(found)
        return
    table(
        None,
        ["run", "pipeline", "status", "trigger", "executor", "queued", "ms"],
        [
            [
                r.id,
                r.pipeline,
                STATUS.get(r.status, r.status),
                r.trigger.get("kind"),
                r.executor,
                r.queued_at.strftime("%Y-%m-%d %H:%M:%S"),
                r.duration_ms,
            ]
            for r in found
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="A run id, or PROJECT/PIPELINE for its latest run."),
    as_json: bool = JsonOption,
) -> None:
    """A run: each step's status, attempts, time and cache hit; outputs and errors."""
    api = client(ctx).pipelines
    if "/" in target:
        latest = api.runs(target, limit=1)
        if not latest:
            raise InvalidInput(f"Pipeline {target} has no runs yet.")
        target = latest[0].id
    result = api.get_run(target)
    if as_json:
        emit_json(result)
        return
    _print_run(result)


def _print_run(run: PipelineRun) -> None:
    console.print(
        f"Run {run.id} of {run.pipeline}: {STATUS.get(run.status, run.status)} on {run.executor}"
        f" in {run.duration_ms or 0:.0f} ms ({run.cache_hits} of {len(run.steps)} steps cached)"
    )
    table(
        None,
        ["step", "status", "kind", "attempts", "ms", "output"],
        [
            [
                s.step,
                STATUS.get(s.status, s.status),
                s.kind,
                s.attempts,
                s.duration_ms,
                (s.output_digest or "")[:12],
            ]
            for s in run.steps
        ],
    )
    for name, spec in run.inputs.items():
        console.print(f"input {name}: {spec.get('ref')}")
    for model in run.outputs.get("models", []):
        state = "new version" if model.get("new") else "unchanged, already registered"
        console.print(f"model: {model['model']} v{model['version']} ({state})")
    for key, value in run.outputs.get("metrics", {}).items():
        console.print(f"metric {key}: {value:.4g}")
    for release in run.outputs.get("releases", []):
        console.print(
            f"release to {release['to']}: {release['status']} {escape(release.get('message', ''))}"
        )
    if run.error:
        err_console.print(escape(run.error))


@app.command("schedule")
def schedule(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="PROJECT/PIPELINE (recorded by a first run)"),
    cron: str = typer.Option(..., "--cron", help="When to run, e.g. '0 6 * * 1'."),
    param: list[str] = typer.Option(None, "--param", "-p", help="NAME=VALUE"),
    executor: str = typer.Option("local", "--executor", "-e"),
    as_json: bool = JsonOption,
) -> None:
    """Run a pipeline on a cron schedule (`passline up` queues and runs it)."""
    trigger = client(ctx).pipelines.add_trigger(ref, "schedule", cron, _params(param), executor)
    _print_trigger(trigger, as_json)


@app.command("trigger")
def trigger(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="PROJECT/PIPELINE"),
    on_dataset: str = typer.Option(None, "--on-dataset", help="PROJECT/DATASET: each new version."),
    on_alert: str = typer.Option(None, "--on-alert", help="PROJECT/MONITOR: each alert."),
    param: list[str] = typer.Option(None, "--param", "-p", help="NAME=VALUE"),
    executor: str = typer.Option("local", "--executor", "-e"),
    as_json: bool = JsonOption,
) -> None:
    """Queue a run on each new version of a dataset, or on each alert of a monitor."""
    if bool(on_dataset) == bool(on_alert):
        raise InvalidInput("Give one of --on-dataset or --on-alert.")
    kind, target = ("dataset", on_dataset) if on_dataset else ("alert", on_alert)
    found = client(ctx).pipelines.add_trigger(ref, kind, target, _params(param), executor)
    _print_trigger(found, as_json)


def _print_trigger(found: Any, as_json: bool) -> None:
    if as_json:
        emit_json(found)
        return
    when = f", next at {found.next_run_at:%Y-%m-%d %H:%M} UTC" if found.next_run_at else ""
    console.print(f"Trigger {found.id}: {found.pipeline} on {found.kind} {found.target}{when}.")


@app.command("triggers")
def triggers(
    ctx: typer.Context, project: str = typer.Argument(...), as_json: bool = JsonOption
) -> None:
    """The project's schedules and triggers."""
    found = client(ctx).pipelines.triggers(project)
    if as_json:
        emit_json(found)
        return
    table(
        None,
        ["id", "pipeline", "on", "target", "executor", "last fired"],
        [[t.id, t.pipeline, t.kind, t.target, t.executor, t.last_fired_at] for t in found],
    )


@app.command("untrigger")
def untrigger(ctx: typer.Context, trigger_id: str = typer.Argument(...)) -> None:
    """Remove a schedule or trigger."""
    client(ctx).pipelines.remove_trigger(trigger_id)
    console.print(f"Removed {trigger_id}.")


@app.command("score")
def score(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="PROJECT/DATASET[@vN]"),
    model: str = typer.Argument(..., help="PROJECT/MODEL@ALIAS or @N (production by default)"),
    output: str = typer.Option(None, "--output", "-o", help="Store rows and scores here."),
    executor: str = typer.Option("local", "--executor", "-e", help="local or ray."),
    chunk_rows: int = typer.Option(500_000, "--chunk-rows"),
    as_json: bool = JsonOption,
) -> None:
    """Batch-score a dataset version with a registered model, in chunks on the executor."""
    with counting_progress(as_json) as bar:
        task = bar.add_task(f"scoring {dataset}", total=None)
        found = client(ctx).pipelines.score(
            dataset,
            model,
            output,
            executor,
            chunk_rows,
            lambda done, total: bar.update(task, completed=done, total=total),
        )
    found.pop("scores", None)
    if as_json:
        emit_json(found)
        return
    peak = found["peak_rss_mb"]
    console.print(
        f"Scored {found['rows']:,} rows of {found['dataset']} with {found['model']} on "
        f"{found['executor']}: {found['seconds']} s, {found['rows_per_s']:,} rows/s, peak "
        f"{peak['driver']:.0f} MB (driver), {peak['worker']:.0f} MB (worker)"
        + (f"; stored as {found['output']}" if found.get("output") else "")
    )


@app.command("drift")
def drift(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="PROJECT/DATASET@vN"),
    current: str = typer.Argument(..., help="PROJECT/DATASET@vN"),
    column: list[str] = typer.Option(None, "--column", "-c", help="Only these (repeat)."),
    executor: str = typer.Option("local", "--executor", "-e", help="local or ray."),
    chunk_rows: int = typer.Option(500_000, "--chunk-rows"),
    as_json: bool = JsonOption,
) -> None:
    """Drift of one dataset version against another, profiled in chunks on the executor."""
    found = client(ctx).pipelines.drift(reference, current, column or None, executor, chunk_rows)
    if as_json:
        emit_json(found)
        return
    console.print(f"{current} against {reference} on {found['executor']}: {found['seconds']} s")
    console.print_json(
        data={
            k: v
            for k, v in found.items()
            if k not in ("reference", "current", "executor", "seconds")
        }
    )


@app.command("run-queued")
def run_queued(ctx: typer.Context) -> None:
    """Run the queued runs now (embedded; `passline up` does this on every tick)."""
    outcomes = client(ctx).pipelines.run_queued()
    if not outcomes:
        console.print("Nothing queued.")
    for ref, outcome in outcomes:
        console.print(f"{ref}: {outcome}")
