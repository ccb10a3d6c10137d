"""passline lineage ..."""

from __future__ import annotations

import json
from typing import Any

import typer
from typer.core import TyperGroup

from passline.cli.common import JsonOption, client, console, emit_json, table
from passline.core.entities import LineageGraph
from passline.errors import InvalidInput


class _RefFirstGroup(TyperGroup):
    """Lets `passline lineage REF --up` mean `passline lineage show REF --up`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RefFirstGroup,
    no_args_is_help=True,
    help="The lineage graph: `passline lineage REF --up|--down [--json]`.",
)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="An object, e.g. project:retail or artifact:art_..."),
    up: bool = typer.Option(False, "--up", help="What REF came from (default)."),
    down: bool = typer.Option(False, "--down", help="What was made from REF."),
    depth: int = typer.Option(None, "--depth", help="Hops to follow (default: all)."),
    as_json: bool = JsonOption,
) -> None:
    """What REF came from (--up, default), what was made from it (--down), or both."""
    direction = "both" if up and down else "down" if down else "up"
    graph = client(ctx).lineage(ref, direction, depth)  # type: ignore[arg-type]
    if as_json:
        emit_json(graph)
    else:
        _print_graph(graph)


def _print_graph(graph: LineageGraph) -> None:
    table(
        f"Lineage of {graph.root} ({graph.direction})",
        ["depth", "ref", "kind", "label", "project"],
        [[n.depth, n.ref, n.kind, n.label, n.project] for n in graph.nodes],
    )
    table(
        "Edges",
        ["src", "type", "dst", "actor", "created_at"],
        [[e.src, e.type, e.dst, e.actor, e.created_at] for e in graph.edges],
    )


@app.command("link")
def link(
    ctx: typer.Context,
    src: str,
    dst: str,
    type: str = typer.Option(..., "--type", "-t", help="e.g. used_by, produced"),
    attrs: str = typer.Option(None, "--attrs", help="JSON object of edge attributes."),
    as_json: bool = JsonOption,
) -> None:
    """Record that DST came from SRC."""
    try:
        parsed = json.loads(attrs) if attrs else None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--attrs must be a JSON object: {exc}.") from None
    edge = client(ctx).link(src, dst, type, parsed)
    if as_json:
        emit_json(edge)
    else:
        console.print(f"{edge.src} --{edge.type}--> {edge.dst}")


@app.command("register")
def register(
    ctx: typer.Context,
    ref: str,
    label: str = typer.Option(..., "--label"),
    project: str = typer.Option(..., "--project", "-p"),
    as_json: bool = JsonOption,
) -> None:
    """Add an outside object (an ERP table, a file share) to the graph."""
    node = client(ctx).register_node(ref, label, project)
    if as_json:
        emit_json(node)
    else:
        console.print(f"Registered {node.ref} ({node.label}) in {project}.")
