"""passline artifacts ..."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TransferSpeedColumn

from passline.cli.common import JsonOption, client, console, emit, emit_json, err_console
from passline.errors import IntegrityError

app = typer.Typer(help="Content-addressed artifacts.", no_args_is_help=True)
COLUMNS = ["id", "name", "digest", "size", "created_by", "created_at"]


@app.command("put")
def put(
    ctx: typer.Context,
    project: str,
    path: Path,
    name: str = typer.Option(None, "--name", help="Defaults to the file name."),
    media_type: str = typer.Option(None, "--media-type"),
    as_json: bool = JsonOption,
) -> None:
    """Store a file in a project (streamed; the same bytes are stored once)."""
    total = path.stat().st_size if path.is_file() else None
    with _bar(total) as (bar, task):
        stored = client(ctx).put_artifact(
            project, path, name, media_type, lambda n: bar.advance(task, n)
        )
    emit(stored, as_json, COLUMNS)


@contextmanager
def _bar(total: int | None) -> Iterator[tuple[Progress, TaskID]]:
    """A transfer bar on stderr, shown only for files big enough to wait for."""
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console,
        disable=(total or 0) < 32 * 1024 * 1024,
    )
    with bar:
        yield bar, bar.add_task("Storing", total=total)


@app.command("get")
def get(ctx: typer.Context, artifact_id: str, dest: Path) -> None:
    """Write an artifact to DEST after checking its SHA-256."""
    written = client(ctx).download_artifact(artifact_id, dest)
    console.print(f"Wrote {written}.")


@app.command("list")
def list_(ctx: typer.Context, project: str, as_json: bool = JsonOption) -> None:
    """A project's artifacts, newest first."""
    emit(client(ctx).list_artifacts(project), as_json, COLUMNS, title=f"Artifacts of {project}")


@app.command("verify")
def verify(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Re-hash every stored artifact and report any that were altered, truncated or lost."""
    pl = client(ctx)
    transport = pl.transport
    services = getattr(transport, "services", None)
    if services is not None and not as_json:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=err_console,
        ) as bar:
            task = bar.add_task("Verifying", total=None)
            report = services.artifacts.verify(
                lambda done, total: bar.update(task, completed=done, total=total)
            )
    else:
        report = pl.verify_artifacts()
    if as_json:
        emit_json(report)
    else:
        _print_report(report)
    if report["bad"]:
        raise typer.Exit(IntegrityError.exit_code)


def _print_report(report: dict) -> None:  # type: ignore[type-arg]
    if not report["bad"]:
        console.print(f"All {report['checked']} stored blobs match their SHA-256.")
        return
    for bad in report["bad"]:
        ids = ", ".join(bad["artifacts"])
        err_console.print(f"[red]{bad['problem']}[/red] {bad['digest'][:16]}... ({ids})")
    err_console.print(
        f"{len(report['bad'])} of {report['checked']} blobs are damaged. "
        "Restore them from a backup or store them again."
    )
