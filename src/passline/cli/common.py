"""What every command shares: the client, output as table or JSON, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from passline.sdk.client import Client, connect

__all__ = [
    "JsonOption",
    "Options",
    "client",
    "console",
    "counting_progress",
    "emit",
    "err_console",
    "table",
]

# Piped output gets a wide console so ids and digests are not cut; use --json for machines.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False)

JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


@dataclass
class Options:
    url: str | None = None
    token: str | None = None
    home: str | None = None
    _client: Client | None = None


def _options(ctx: typer.Context) -> Options:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = Options()
    return root.obj  # type: ignore[no-any-return]


def client(ctx: typer.Context) -> Client:
    """The SDK client for this invocation: a server when --url is given, else embedded."""
    opts = _options(ctx)
    if opts._client is None:
        opts._client = connect(opts.url, opts.token, home=opts.home, origin="cli")
        ctx.find_root().call_on_close(opts._client.close)
    return opts._client


def plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(plain(value), indent=2, default=str) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    grid = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*("" if v is None else str(v) for v in row))
    console.print(grid)


def emit(value: Any, as_json: bool, columns: Sequence[str], title: str | None = None) -> None:
    """Print a model or list of models as a table of ``columns``, or as JSON."""
    if as_json:
        emit_json(value)
        return
    items = value if isinstance(value, list) else [value]
    rows = [[_field(item, c) for c in columns] for item in items]
    table(title, columns, rows)


def _field(item: Any, column: str) -> Any:
    data = plain(item)
    return data.get(column) if isinstance(data, dict) else getattr(item, column, None)


def counting_progress(disable: bool = False) -> Progress:
    """A bar of items done out of a total, with the time spent, on stderr; it disappears
    when done, and is off for ``--json`` so machine output stays clean."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=disable,
    )
