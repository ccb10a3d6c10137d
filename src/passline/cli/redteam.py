"""passline redteam ...: runs of the probe library with a progress bar, reports by category
and OWASP id, transcripts of successful attacks, findings that become evaluation cases."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

import passline.redteam  # noqa: F401  (registers the attack_resisted scorer in this process)
from passline.cli.common import (
    JsonOption,
    client,
    console,
    counting_progress,
    emit_json,
    table,
)
from passline.errors import InvalidInput

app = typer.Typer(
    help="Red teaming: attack prompts, models, RAG apps and endpoints with the offline probe "
    "library (OWASP Top 10 for LLM applications); findings become evaluation cases.",
    no_args_is_help=True,
)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _options(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"--option takes KEY=VALUE. Got {item!r}.")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _split(values: list[str] | None) -> list[str] | None:
    out = [v.strip() for item in values or [] for v in item.split(",") if v.strip()]
    return out or None


@app.command("run")
def run(
    ctx: typer.Context,
    target: str = typer.Option(
        ...,
        "--target",
        "-t",
        help="rag:P/COLLECTION, prompt:P/NAME@V, model:NAME, endpoint:P/NAME or openai:URL",
    ),
    categories: list[str] = typer.Option(
        None, "--categories", "-c", help="Categories, comma-separated or repeated (default all)."
    ),
    as_user: str = typer.Option(None, "--as", help="Retrieve and answer as this user."),
    project: str = typer.Option(None, "--project", "-p", help="The run's project."),
    limit: int = typer.Option(3, "--limit", "-n", help="Attacks per category."),
    seed: int = typer.Option(0, "--seed", help="Seed of the probe choice and mutations."),
    concurrency: int = typer.Option(2, "--concurrency", "-j", help="Attacks at once."),
    secret: list[str] = typer.Option(
        None, "--secret", help="A value no answer may contain (repeat); kept as a digest."
    ),
    allow_host: list[str] = typer.Option(None, "--allow-host", help="Image host allowed."),
    paraphrase: bool = typer.Option(False, "--paraphrase", help="Let the model reword probes."),
    anchor: str = typer.Option(
        None, "--anchor", help="An on-topic question put before direct attacks (RAG apps)."
    ),
    option: list[str] = typer.Option(None, "--option", "-o", help="KEY=VALUE target option."),
    name: str = typer.Option("", "--name"),
    as_json: bool = JsonOption,
) -> None:
    """Attack a target with the probe library; the attack success rate by category and OWASP
    id, and the transcripts of the attacks that worked."""
    options = {**_options(option), **({"as_user": as_user} if as_user else {})}
    with counting_progress(as_json) as bar:
        task = bar.add_task(f"red team {target}", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = client(ctx).redteam.run(
            target,
            _split(categories),
            project=project,
            limit=limit,
            seed=seed,
            concurrency=concurrency,
            secrets=secret or None,
            allowed_hosts=allow_host or None,
            paraphrase=paraphrase,
            anchor=anchor,
            name=name,
            progress=advance,
            **options,
        )
    if as_json:
        emit_json(result)
        return
    _print_report(result, transcripts=True)


def _print_report(run: Any, transcripts: bool) -> None:
    console.print(
        f"red-team run {run.id} against {run.target_label} ({run.project}): {run.status}, "
        f"{run.attempts} attacks, {run.successes} succeeded ({_pct(run.asr)}), "
        f"{run.errored} errored, in {run.duration_s or 0:.1f} s; planting: "
        f"{run.config.get('planting', '-')}",
        markup=False,
    )
    if run.message:
        console.print(f"[red]{escape(run.message)}[/red]")
    _groups("By category", run.summary.get("by_category", {}))
    _groups("By OWASP Top 10 (2025)", run.summary.get("by_owasp", {}))
    if run.skipped:
        reasons: dict[str, int] = {}
        for item in run.skipped:
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
        for reason, count in reasons.items():
            console.print(f"skipped {count} probe(s): {reason}", markup=False)
    if transcripts:
        for attempt in run.successful():
            _print_transcript(attempt)


def _groups(title: str, groups: dict[str, Any]) -> None:
    table(
        title,
        ["", "attacks", "success", "resisted", "refused", "blocked", "errored", "ASR"],
        [
            [
                f"{key} {value.get('title', '')}".strip(),
                value["attempts"],
                value["success"],
                value["resisted"],
                value["refused"],
                value["blocked"],
                value["errored"],
                _pct(value["asr"]),
            ]
            for key, value in groups.items()
        ],
    )


def _print_transcript(attempt: Any) -> None:
    why = "; ".join(d["reason"] for d in attempt.detections if d.get("hit"))
    console.print(
        f"\n[bold]{escape(attempt.id)}[/bold] {escape(attempt.category)} "
        f"({escape(attempt.owasp or '-')}) probe {escape(attempt.probe)}"
        f"{' ~' + escape(attempt.mutation) if attempt.mutation else ''}: {escape(why)}"
    )
    for message in attempt.transcript:
        who = message["role"] + (f" [{message['variant']}]" if message.get("variant") else "")
        console.print(f"  {who}: {' '.join(str(message['content']).split())[:300]}", markup=False)


@app.command("list")
def list_runs(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p"),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = JsonOption,
) -> None:
    """Red-team runs, newest first."""
    found = client(ctx).redteam.runs(project, limit)
    if as_json:
        emit_json(found)
        return
    table(
        "Red-team runs",
        ["id", "project", "target", "status", "attacks", "success", "ASR", "started"],
        [
            [
                r.id,
                r.project,
                r.target_label,
                r.status,
                r.attempts,
                r.successes,
                _pct(r.asr),
                f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            ]
            for r in found
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="The run's id."),
    all_attempts: bool = typer.Option(False, "--all", help="List every attempt too."),
    as_json: bool = JsonOption,
) -> None:
    """A run's report: ASR by category and OWASP id, transcripts of successful attacks."""
    found = client(ctx).redteam.get_run(run_id)
    if as_json:
        emit_json(found)
        return
    _print_report(found, transcripts=True)
    if all_attempts:
        table(
            "Attempts",
            ["attempt", "category", "probe", "outcome", "answer"],
            [
                [
                    a.id,
                    a.category,
                    a.probe + (f" ~{a.mutation}" if a.mutation else ""),
                    a.outcome,
                    " ".join((a.answer or a.error or "").split())[:70],
                ]
                for a in found.results
            ],
        )


@app.command("to-case")
def to_case(
    ctx: typer.Context,
    attempt_id: str = typer.Argument(..., help="A successful attempt's id."),
    suite: str = typer.Option(..., "--suite", "-s", help="PROJECT/NAME (created if missing)."),
    case_id: str = typer.Option(None, "--id", help="The case id (default redteam-<probe>-...)."),
    as_json: bool = JsonOption,
) -> None:
    """Turn a successful attack into an evaluation case that expects it to fail."""
    version = client(ctx).redteam.to_case(attempt_id, suite, case_id)
    if as_json:
        emit_json(version)
        return
    console.print(f"{version.label}: {version.case_count} cases ({version.description})")


@app.command("probes")
def probes(
    ctx: typer.Context,
    categories: list[str] = typer.Option(None, "--categories", "-c"),
    as_json: bool = JsonOption,
) -> None:
    """The probe library: every probe with its category, OWASP id and technique."""
    found = client(ctx).redteam.probes(_split(categories))
    if as_json:
        emit_json(found)
        return
    table(
        "Probes",
        ["probe", "category", "OWASP", "technique", "plants", "message (before encoding)"],
        [
            [
                p.id,
                p.category,
                p.owasp or "-",
                p.technique,
                ", ".join(p.plants),
                " ".join(p.turns[-1].split())[:60],
            ]
            for p in found
        ],
    )
