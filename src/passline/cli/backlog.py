"""passline backlog ...: stories drafted from transcripts, their review, Jira export and
import, the meeting summary and the backlog analysis. AI drafts only: nothing is exported
before a person accepts it (or asks for --accept-all)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from passline.backlog.entities import DraftBatch, MeetingSummary, Story
from passline.cli.common import JsonOption, client, console, emit_json, err_console, table
from passline.errors import InvalidInput, NotFound

app = typer.Typer(
    help="Backlog enrichment: draft stories from meeting transcripts and requirement "
    "documents (TO BE DEFINED where the source is silent), review them, export to Jira.",
    no_args_is_help=True,
)

DEFAULT_PROJECT = "backlog"
FormatOption = typer.Option("jira-csv", "--format", "-f", help="jira-csv, jira-json, json or csv.")


def _project(ctx: typer.Context, project: str | None) -> str:
    """The named project, or the 'backlog' project (created on first use)."""
    if project:
        return project
    sdk = client(ctx)
    try:
        sdk.get_project(DEFAULT_PROJECT)
    except NotFound:
        sdk.create_project(DEFAULT_PROJECT)
    return DEFAULT_PROJECT


def _stories_table(title: str, stories: list[Story]) -> None:
    table(
        title,
        ["id", "status", "title", "priority", "points", "criteria", "lines"],
        [
            [
                s.id,
                s.status,
                escape(s.title),
                s.priority,
                s.points,
                len([c for c in s.acceptance_criteria if c != "TO BE DEFINED"]),
                ",".join(map(str, s.source_lines)),
            ]
            for s in stories
        ],
    )


def _summary(summary: MeetingSummary) -> None:
    for label, items in (
        ("Decisions", [f"{d['text']} (line {d['line']})" for d in summary.decisions]),
        ("Action items", [f"{a.owner}: {a.text} (line {a.line})" for a in summary.action_items]),
        ("Open questions", [f"{q['text']} (line {q['line']})" for q in summary.open_questions]),
    ):
        if items:
            console.print(f"[bold]{label}[/bold]")
            for item in items:
                console.print(f"  - {escape(item)}")


@app.command("draft")
def draft(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A transcript or document: txt, md, vtt, srt, docx."),
    project: str = typer.Option(None, "--project", "-p", help="Project (default 'backlog')."),
    mode: str = typer.Option("rules", "--mode", "-m", help="rules (no model) or llm."),
    model: str = typer.Option(None, "--model", help="llm mode: a configured model name."),
    fmt: str = FormatOption,
    out: Path = typer.Option(None, "--output", "-o", help="Write the export here."),
    accept_all: bool = typer.Option(
        False, "--accept-all", help="Accept every draft without review (needed for -o)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Draft stories from FILE; they wait for review unless --accept-all is given."""
    if not file.is_file():
        raise InvalidInput(f"{file} is not a readable file.", hint="Check the path.")
    sdk = client(ctx)
    batch = sdk.backlog.draft_file(_project(ctx, project), file, mode, model, accept_all)
    if as_json:
        emit_json(batch)
    else:
        _stories_table(f"{batch.source_name}: {len(batch.stories)} stories", batch.stories)
        _summary(batch.summary)
        console.print(batch.message)
    if out is None:
        return
    if not accept_all:
        err_console.print(
            f"Nothing written to {out}: AI drafts are exported only after review. Accept "
            f"stories with 'passline backlog accept ID' then 'passline backlog export -p "
            f"{batch.project} -o {out}', or draft again with --accept-all."
        )
        return
    if batch.stories:
        _write(sdk.backlog.export(batch.project, fmt, batch.id)["content"], out, fmt)


def _write(content: str, out: Path, fmt: str) -> None:
    out.write_text(content, encoding="utf-8", newline="")
    err_console.print(f"Wrote {fmt} to {out}.")


@app.command("list")
def list_(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p", help="Project (default 'backlog')."),
    status: str = typer.Option(None, "--status", "-s", help="draft, accepted or rejected."),
    batch: str = typer.Option(None, "--batch", help="Only this draft batch."),
    batches: bool = typer.Option(False, "--batches", help="List the draft batches instead."),
    as_json: bool = JsonOption,
) -> None:
    """The project's stories (or draft batches) with their review status."""
    sdk = client(ctx)
    name = _project(ctx, project)
    if batches:
        found = sdk.backlog.batches(name)
        if as_json:
            emit_json(found)
            return
        table(
            "Draft batches",
            ["id", "source", "mode", "created_by", "created_at", "message"],
            [[b.id, b.source_name, b.mode, b.created_by, b.created_at, b.message] for b in found],
        )
        return
    stories = sdk.backlog.stories(name, status, batch)
    emit_json(stories) if as_json else _stories_table(f"Backlog of {name}", stories)


@app.command("show")
def show(ctx: typer.Context, story_id: str, as_json: bool = JsonOption) -> None:
    """One story with every field, its source lines and the grounding notes."""
    story = client(ctx).backlog.story(story_id)
    if as_json:
        emit_json(story)
        return
    console.print(f"[bold]{escape(story.title)}[/bold]  ({story.id}, {story.status})")
    console.print(
        f"Priority: {story.priority}   Points: {story.points}   "
        f"Labels: {', '.join(story.labels) or '-'}"
    )
    console.print(escape(story.description))
    console.print("Acceptance criteria:")
    for criterion in story.acceptance_criteria:
        console.print(f"  - {escape(criterion)}")
    console.print(f"Source lines: {', '.join(map(str, story.source_lines)) or '-'}")
    for note in story.notes:
        console.print(f"[dim]note: {escape(note)}[/dim]")


@app.command("accept")
def accept(ctx: typer.Context, story_ids: list[str], as_json: bool = JsonOption) -> None:
    """Accept drafts: they will be exported."""
    done = [client(ctx).backlog.accept(s) for s in story_ids]
    emit_json(done) if as_json else console.print(f"Accepted {len(done)} stories.")


@app.command("reject")
def reject(ctx: typer.Context, story_ids: list[str], as_json: bool = JsonOption) -> None:
    """Reject drafts: they are kept, never exported."""
    done = [client(ctx).backlog.reject(s) for s in story_ids]
    emit_json(done) if as_json else console.print(f"Rejected {len(done)} stories.")


@app.command("edit")
def edit(
    ctx: typer.Context,
    story_id: str,
    title: str = typer.Option(None, "--title"),
    priority: str = typer.Option(None, "--priority", help="Highest, High, Medium, Low, Lowest."),
    points: str = typer.Option(None, "--points", help="1, 2, 3, 5, 8, 13 or 21."),
    description: str = typer.Option(None, "--description"),
    criterion: list[str] = typer.Option(
        None, "--criterion", help="An acceptance criterion (repeat; replaces them all)."
    ),
    label: list[str] = typer.Option(None, "--label", help="A label (repeat; replaces them all)."),
    as_json: bool = JsonOption,
) -> None:
    """Change a story's fields; its review status stays as it was."""
    fields = {
        k: v
        for k, v in {
            "title": title,
            "priority": priority,
            "points": points,
            "description": description,
            "acceptance_criteria": criterion or None,
            "labels": label or None,
        }.items()
        if v is not None
    }
    if not fields:
        raise InvalidInput(
            "Say what to change: --title, --priority, --points, --description, "
            "--criterion or --label."
        )
    story = client(ctx).backlog.edit(story_id, **fields)
    emit_json(story) if as_json else console.print(f"Edited {story.id}: {escape(story.title)}")


@app.command("link")
def link(
    ctx: typer.Context,
    story_id: str,
    gate: str = typer.Option(..., "--gate", help="The gate, PROJECT/NAME."),
    criterion: int = typer.Option(..., "--criterion", help="The criterion's number, from 1."),
    remove: bool = typer.Option(False, "--remove", help="Unlink instead."),
    as_json: bool = JsonOption,
) -> None:
    """Link a story to a gate criterion: the story is done for real once every criterion it
    links to passes in its gate's latest evaluation."""
    story = client(ctx).backlog.link(story_id, gate, criterion, remove)
    if as_json:
        emit_json(story)
        return
    for g in story.gate_links:
        console.print(f"{g['gate']} #{g['criterion']} ({g['type']}): {g['status']}")
    done = "done for real" if story.done_for_real else "not done for real yet"
    console.print(f"{story.id}: {len(story.gate_links)} gate criteria linked; {done}.")


@app.command("export")
def export(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p", help="Project (default 'backlog')."),
    fmt: str = FormatOption,
    out: Path = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    batch: str = typer.Option(None, "--batch", help="Only this draft batch."),
    jira_project: str = typer.Option(None, "--jira-project", help="Jira project key (JSON)."),
) -> None:
    """The accepted stories as Jira CSV, Jira REST JSON, JSON or CSV."""
    result = client(ctx).backlog.export(_project(ctx, project), fmt, batch, jira_project)
    if out is None:
        typer.echo(result["content"], nl=False)
    else:
        _write(result["content"], out, fmt)


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A jira-csv, jira-json, json or csv export."),
    project: str = typer.Option(None, "--project", "-p", help="Project (default 'backlog')."),
    fmt: str = typer.Option(None, "--format", "-f", help="Detected when not given."),
    accept_all: bool = typer.Option(False, "--accept-all", help="Import as accepted."),
    as_json: bool = JsonOption,
) -> None:
    """Stories from an export, stored as drafts for review (or accepted)."""
    if not file.is_file():
        raise InvalidInput(f"{file} is not a readable file.", hint="Check the path.")
    batch: DraftBatch = client(ctx).backlog.import_stories(
        _project(ctx, project), file.read_text("utf-8"), fmt, file.name, accept_all
    )
    if as_json:
        emit_json(batch)
    else:
        _stories_table(f"Imported from {file.name}", batch.stories)


@app.command("analyse")
def analyse(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p", help="Project (default 'backlog')."),
    threshold: float = typer.Option(0.85, "--threshold", help="Near-duplicate similarity."),
    as_json: bool = JsonOption,
) -> None:
    """Near-duplicate stories, missing acceptance criteria or estimates, open fields."""
    result = client(ctx).backlog.analyse(_project(ctx, project), threshold)
    if as_json:
        emit_json(result)
        return
    console.print(f"{result.stories} stories in {result.project}")
    table(
        f"Near-duplicates ({result.similarity})",
        ["a", "b", "similarity"],
        [
            [escape(p["title_a"]), escape(p["title_b"]), p["similarity"]]
            for p in result.near_duplicates
        ],
    )
    console.print(f"Missing acceptance criteria: {len(result.missing_acceptance_criteria)}")
    console.print(f"Missing estimates: {len(result.missing_estimates)}")
    table(
        "Fields still TO BE DEFINED",
        ["story", "fields"],
        [[k, ", ".join(v)] for k, v in result.open_fields.items()],
    )


@app.command("summary")
def summary(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A transcript: txt, md, vtt, srt."),
    as_json: bool = JsonOption,
) -> None:
    """A meeting's decisions, action items with owners, and open questions."""
    if not file.is_file():
        raise InvalidInput(f"{file} is not a readable file.", hint="Check the path.")
    result = client(ctx).backlog.summary(file.read_text("utf-8", errors="replace"), file.name)
    if as_json:
        emit_json(result)
    else:
        _summary(result)
