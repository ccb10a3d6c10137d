"""passline eval ...: suites, runs with a progress bar, comparisons, online evaluation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from passline.cli.common import (
    JsonOption,
    client,
    console,
    counting_progress,
    emit,
    emit_json,
    table,
)
from passline.errors import InvalidInput

app = typer.Typer(
    help="Evaluation: suites of cases, runs against prompts, models and endpoints, "
    "comparisons, release checks, online hallucination rates.",
    no_args_is_help=True,
)
suite_app = typer.Typer(help="Evaluation suites and their versions.", no_args_is_help=True)
online_app = typer.Typer(
    help="Online evaluation: production traces scored into hallucination rates.",
    no_args_is_help=True,
)
app.add_typer(suite_app, name="suite")
app.add_typer(online_app, name="online")

RUN_COLUMNS = ["id", "suite", "target_label", "status", "cases", "errored", "started_at"]
#: Exit code of `eval run` when its release check fails (a CI gate).
CHECK_FAILED = 1


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


# -- suites -----------------------------------------------------------------------------------


@suite_app.command("create")
def suite_create(
    ctx: typer.Context,
    suite: str = typer.Argument(..., help="PROJECT/NAME"),
    file: Path = typer.Option(..., "--file", "-f", help="The suite: YAML or JSON."),
    description: str = typer.Option("", "--description"),
    as_json: bool = JsonOption,
) -> None:
    """Save a suite file as a version of PROJECT/NAME (the same content: the same version)."""
    version = client(ctx).evaluation.create_suite(suite, file=file, description=description)
    if as_json:
        emit_json(version)
        return
    console.print(
        f"{version.label}: {version.case_count} cases, scorers "
        f"{', '.join(s.get('name', s['type']) for s in version.scorers) or 'none'} "
        f"({version.digest[:19]})"
    )


@suite_app.command("list")
def suite_list(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p"),
    as_json: bool = JsonOption,
) -> None:
    """Suites of the projects you can view."""
    suites = client(ctx).evaluation.suites(project)
    emit(suites, as_json, ["project", "name", "latest_version", "cases", "description"], "Suites")


@suite_app.command("show")
def suite_show(
    ctx: typer.Context,
    suite: str = typer.Argument(..., help="PROJECT/NAME or PROJECT/NAME@N"),
    as_json: bool = JsonOption,
) -> None:
    """A suite version's scorers and cases."""
    version = client(ctx).evaluation.suite(suite)
    if as_json:
        emit_json(version)
        return
    console.print(f"{version.label} by {version.author}: {version.description}", markup=False)
    console.print(
        "scorers: " + ", ".join(json.dumps(s, sort_keys=True) for s in version.scorers),
        markup=False,
    )
    table(
        None,
        ["id", "question", "expected", "refuse", "tags", "scorers"],
        [
            [
                c["id"],
                (c.get("question") or json.dumps(c.get("inputs", {})))[:60],
                str(c.get("expected", ""))[:40],
                "yes" if c.get("refuse") else "",
                ", ".join(c.get("tags", [])),
                ", ".join(c.get("scorers") or []) or "all",
            ]
            for c in version.cases
        ],
    )


@suite_app.command("add-trace")
def suite_add_trace(
    ctx: typer.Context,
    suite: str = typer.Argument(..., help="PROJECT/NAME"),
    trace_id: str = typer.Argument(..., help="The trace that becomes a case."),
    expected: str = typer.Option(None, "--expected", help="The right answer."),
    refuse: bool = typer.Option(None, "--refuse/--answer", help="Should it be refused?"),
    case_id: str = typer.Option(None, "--id", help="The case id (default trace-<id>)."),
    fact: list[str] = typer.Option(None, "--fact", help="A reference fact (repeat)."),
    as_json: bool = JsonOption,
) -> None:
    """Turn a trace (a thumbs down, a bad answer) into a case: a new suite version."""
    version = client(ctx).evaluation.case_from_trace(
        trace_id, suite, expected, refuse, case_id, fact or None
    )
    if as_json:
        emit_json(version)
        return
    console.print(f"{version.label}: {version.case_count} cases ({version.description})")


# -- runs -------------------------------------------------------------------------------------


@app.command("run")
def run(
    ctx: typer.Context,
    suite: str = typer.Argument(..., help="PROJECT/NAME or PROJECT/NAME@N"),
    target: str = typer.Option(
        ...,
        "--target",
        "-t",
        help="prompt:P/NAME@V, model:NAME, rag:P/COLLECTION, endpoint:P/NAME or openai:URL",
    ),
    model: str = typer.Option(None, "--model", "-m", help="The model (prompt, rag, openai)."),
    collection: str = typer.Option(None, "--collection", "-c", help="Retrieve from P/NAME."),
    as_user: str = typer.Option(None, "--as", help="Retrieve and answer as this user."),
    option: list[str] = typer.Option(None, "--option", "-o", help="KEY=VALUE target option."),
    scorer: list[str] = typer.Option(None, "--scorer", "-s", help="Add a scorer (name or JSON)."),
    concurrency: int = typer.Option(4, "--concurrency", "-j", help="Cases at once."),
    check: str = typer.Option(None, "--check", help="A release check; exit 1 if it fails."),
    name: str = typer.Option("", "--name"),
    as_json: bool = JsonOption,
) -> None:
    """Run a suite against a target, with a progress bar; per-scorer results and the check."""
    options: dict[str, Any] = {"model": model, "collection": collection, "as_user": as_user}
    for item in option or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"--option takes KEY=VALUE. Got {item!r}.")
        options[key] = _value(value)
    specs = [json.loads(s) if s.startswith("{") else s for s in scorer or []]
    evaluation = client(ctx).evaluation
    with counting_progress(as_json) as bar:
        task = bar.add_task(f"eval {suite}", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = evaluation.run(
            suite,
            target,
            specs or None,
            concurrency,
            check,
            name,
            advance,
            **{k: v for k, v in options.items() if v is not None},
        )
    if as_json:
        emit_json(result)
    else:
        _print_run(result)
    if result.check and result.check.get("passed") is False:
        raise typer.Exit(CHECK_FAILED)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _print_run(run: Any) -> None:
    console.print(
        f"run {run.id}: {run.suite}@v{run.suite_version} against {run.target_label}, "
        f"{run.status}, {run.cases} cases ({run.errored} errored) in "
        f"{_fmt(run.duration_s, 1)} s, {_fmt(run.cases_per_s, 2)} cases/s",
        markup=False,
    )
    table(
        "Scorers",
        ["scorer", "mean", "std", "pass rate", "scored", "unscored"],
        [
            [k, _fmt(v["mean"]), _fmt(v["std"]), _fmt(v["pass_rate"]), v["scored"], v["unscored"]]
            for k, v in run.aggregates.get("scorers", {}).items()
        ],
    )
    figures = run.aggregates
    console.print(
        f"tokens {run.input_tokens}+{run.output_tokens}, cost ${run.cost_usd:.4f} "
        f"(judge ${run.judge_cost_usd:.4f}), p50 {_fmt(figures.get('p50_latency_ms'), 0)} ms, "
        f"p95 {_fmt(figures.get('p95_latency_ms'), 0)} ms",
        markup=False,
    )
    if run.message:
        console.print(f"[red]{escape(run.message)}[/red]")
    if run.check:
        _print_check(run.check)


def _print_check(check: dict[str, Any]) -> None:
    verdict = "[green]passed[/green]" if check.get("passed") else "[red]FAILED[/red]"
    console.print(f"release check {verdict}: {escape(check['expression'])}")
    for term in check.get("terms", []):
        mark = "[green]pass[/green]" if term["passed"] else "[red]fail[/red]"
        value = f" (value {_fmt(term['value'])})" if "value" in term else ""
        console.print(f"  {mark} {escape(term['term'])}{value}")
        for reg in term.get("regressions", []):
            console.print(
                f"       regression in {escape(reg['scorer'])}: {reg['diff']:+.3f}, 95% CI "
                f"[{reg['ci'][0]:+.3f}, {reg['ci'][1]:+.3f}] against run {term['baseline_run']}",
                markup=False,
            )
        if term.get("message"):
            console.print(f"       {escape(term['message'])}")


@app.command("runs")
def runs(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p"),
    suite: str = typer.Option(None, "--suite"),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = JsonOption,
) -> None:
    """Evaluation runs, newest first."""
    found = client(ctx).evaluation.runs(project, suite, limit)
    if as_json:
        emit_json(found)
        return
    table(
        "Evaluation runs",
        ["id", "suite", "target", "status", "cases", "errored", "check", "labels", "started"],
        [
            [
                r.id,
                f"{r.suite}@v{r.suite_version}",
                r.target_label,
                r.status,
                r.cases,
                r.errored,
                "-" if not r.check else "passed" if r.check.get("passed") else "failed",
                ", ".join(r.labels),
                f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            ]
            for r in found
        ],
    )


@app.command("show")
def show(ctx: typer.Context, run_id: str, as_json: bool = JsonOption) -> None:
    """A run: its figures, release check and every case's answer and scores."""
    found = client(ctx).evaluation.get_run(run_id)
    if as_json:
        emit_json(found)
        return
    _print_run(found)
    names = list(found.aggregates.get("scorers", {}))
    table(
        "Cases",
        ["case", "status", "answer", *names],
        [
            [
                r.case_id,
                r.status,
                (r.answer or r.error or "")[:70],
                *(_fmt((r.scores.get(n) or {}).get("value"), 2) for n in names),
            ]
            for r in found.results
        ],
    )


@app.command("label")
def label(ctx: typer.Context, run_id: str, name: str, as_json: bool = JsonOption) -> None:
    """Name a completed run (production): the baseline of later release checks."""
    found = client(ctx).evaluation.label_run(run_id, name)
    if as_json:
        emit_json(found)
        return
    console.print(f"{found.id} is now {', '.join(found.labels)} of {found.suite}")


@app.command("compare")
def compare(
    ctx: typer.Context,
    baseline: str = typer.Argument(..., help="The baseline run (A)."),
    candidate: str = typer.Argument(..., help="The candidate run (B)."),
    confidence: float = typer.Option(0.95, "--confidence"),
    resamples: int = typer.Option(2000, "--resamples"),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = JsonOption,
) -> None:
    """B against A per scorer: mean difference, bootstrap interval, regressions in red."""
    result = client(ctx).evaluation.compare(baseline, candidate, confidence, resamples, seed)
    if as_json:
        emit_json(result)
        return
    colour = {"regression": "red", "improvement": "green"}
    table(
        f"{candidate} vs {baseline} ({result.suite}, {confidence:.0%} interval)",
        ["scorer", "n", "A", "B", "B - A", "interval", "verdict"],
        [
            [
                d.scorer,
                d.n,
                _fmt(d.mean_baseline),
                _fmt(d.mean_candidate),
                "-" if d.diff is None else f"{d.diff:+.3f}",
                "-" if d.ci_low is None else f"[{d.ci_low:+.3f}, {d.ci_high:+.3f}]",
                f"[{colour[d.verdict]}]{d.verdict}[/]" if d.verdict in colour else d.verdict,
            ]
            for d in result.scorers
        ],
    )
    for scorer_name, cases in result.newly_failing.items():
        console.print(f"newly failing on {scorer_name}: {', '.join(cases)}", markup=False)


@app.command("scorers")
def scorers(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """The scorer types suites can name (built-in and installed)."""
    found = client(ctx).evaluation.scorers()
    if as_json:
        emit_json(found)
        return
    table("Scorers", ["type", "what it measures"], sorted(found.items()))


# -- online -------------------------------------------------------------------------------------


@online_app.command("run")
def online_run(
    ctx: typer.Context,
    project: str,
    sample: int = typer.Option(50, "--sample", help="Traces to score (not scored yet)."),
    app_name: str = typer.Option(None, "--app", help="Only this app's traces."),
    threshold: float = typer.Option(0.5, "--threshold", help="Groundedness below: hallucinated."),
    since_hours: float = typer.Option(24.0, "--since-hours"),
    seed: int = typer.Option(None, "--seed"),
    as_json: bool = JsonOption,
) -> None:
    """Score a sample of recent production traces now."""
    report = client(ctx).evaluation.online_evaluate(
        project, sample, app_name, threshold, since_hours, seed
    )
    emit(
        report,
        as_json,
        [
            "project",
            "sampled",
            "scored",
            "hallucinated",
            "hallucination_rate",
            "guard_hits",
            "negative_feedback",
            "duration_s",
        ],
    )


@online_app.command("rates")
def online_rates(
    ctx: typer.Context,
    project: str,
    bucket: str = typer.Option("day", "--bucket", help="hour or day"),
    since_hours: float = typer.Option(24.0 * 30, "--since-hours"),
    prompt: str = typer.Option(None, "--prompt", help="PROJECT/NAME@V: one prompt version."),
    as_json: bool = JsonOption,
) -> None:
    """The hallucination rate per prompt version over time."""
    points = client(ctx).evaluation.hallucination_rate(project, bucket, since_hours, prompt)
    if as_json:
        emit_json(points)
        return
    table(
        f"Hallucination rate, {project}",
        [
            "bucket",
            "prompt version",
            "traces",
            "grounded",
            "hallucinated",
            "rate",
            "groundedness",
            "guard hits",
            "thumbs down",
        ],
        [
            [
                f"{p.bucket:%Y-%m-%d %H:00}",
                p.prompt_version or "(no prompt)",
                p.traces,
                p.grounded_traces,
                p.hallucinated,
                _fmt(p.hallucination_rate),
                _fmt(p.mean_groundedness),
                _fmt(p.guard_hit_rate),
                _fmt(p.negative_feedback_rate),
            ]
            for p in points
        ],
    )


@online_app.command("schedule")
def online_schedule(
    ctx: typer.Context,
    project: str,
    cron: str = typer.Option("*/15 * * * *", "--cron", help="When to score (cron)."),
    sample: int = typer.Option(50, "--sample"),
    app_name: str = typer.Option(None, "--app"),
    threshold: float = typer.Option(0.5, "--threshold"),
    disable: bool = typer.Option(False, "--disable", help="Stop scheduled scoring."),
    as_json: bool = JsonOption,
) -> None:
    """Score the project's traces on a schedule (run by `passline up`)."""
    config = client(ctx).evaluation.schedule_online(
        project, cron, sample, app_name, threshold, not disable
    )
    emit(config, as_json, ["project", "schedule", "sample", "threshold", "enabled", "next_run_at"])
