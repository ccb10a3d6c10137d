"""Place a lineage graph on a plane, so a template can draw it as SVG without JavaScript.

Nodes sit in columns by their depth (upstream on the left, the root in the middle,
downstream on the right). Within a column, nodes are ordered by the mean position of
their neighbours in the column nearer the root, which keeps most edges from crossing.
Edges are cubic Bézier curves from the right side of their source to the left side of
their destination; an edge that runs backwards or stays in one column bends around.
Pure: no I/O, no templates, so it is unit-tested on its own.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from passline.core.entities import LineageEdge, LineageGraph, LineageNode

__all__ = ["Box", "Column", "EdgePath", "Layout", "layout"]

BOX_W = 200
BOX_H = 52
COL_GAP = 112  # room for an edge label between two columns
ROW_GAP = 22
MARGIN = 24
HEADER = 26  # column captions above the boxes
LABEL_CHARS = 24  # what fits in BOX_W at the template's font size
EDGE_CHAR_W = 6.6  # average glyph width of an edge label (11px sans-serif), generous
EDGE_LABEL_H = 14


@dataclass(frozen=True, slots=True)
class Box:
    """A node's rectangle; (x, y) is its top-left corner."""

    ref: str
    label: str
    short_label: str
    kind: str
    project: str | None
    depth: int
    x: float
    y: float
    width: float = BOX_W
    height: float = BOX_H
    root: bool = False

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def mid_y(self) -> float:
        return self.y + self.height / 2


@dataclass(frozen=True, slots=True)
class Column:
    """One depth: where its caption is centred."""

    depth: int
    x: float
    y: float
    caption: str


@dataclass(frozen=True, slots=True)
class EdgePath:
    """An edge as an SVG path ``d`` and the point its type label is drawn at."""

    id: str
    src: str
    dst: str
    type: str
    d: str
    label_x: float
    label_y: float

    @property
    def label_box(self) -> tuple[float, float, float, float]:
        """The label's (left, top, right, bottom); (label_x, label_y) is its baseline centre."""
        half = len(self.type) * EDGE_CHAR_W / 2
        return (self.label_x - half, self.label_y - EDGE_LABEL_H, self.label_x + half, self.label_y)


@dataclass(frozen=True, slots=True)
class Layout:
    """Everything the template needs: canvas size, columns, boxes and edges."""

    width: float
    height: float
    columns: list[Column]
    boxes: list[Box]
    edges: list[EdgePath]


def layout(graph: LineageGraph) -> Layout:
    """Lay out ``graph``: a box per node, a path per edge whose ends are both drawn."""
    ordered = _order_columns(graph)
    tallest = max((len(nodes) for nodes in ordered.values()), default=0)
    boxes: list[Box] = []
    for index, depth in enumerate(sorted(ordered)):
        boxes.extend(_place_column(ordered[depth], index, tallest, graph.root))
    by_ref = {b.ref: b for b in boxes}
    edges = _separate_labels(
        [
            _route(e, by_ref[e.src], by_ref[e.dst])
            for e in graph.edges
            if {e.src, e.dst} <= by_ref.keys()
        ]
    )
    width = 2 * MARGIN + len(ordered) * (BOX_W + COL_GAP) - (COL_GAP if ordered else 0)
    height = HEADER + 2 * MARGIN + max(tallest * (BOX_H + ROW_GAP) - ROW_GAP, 0)
    return Layout(
        width=width + (COL_GAP if _any_loop(boxes, edges) else 0),
        height=max([height] + [e.label_y + MARGIN / 2 for e in edges]),
        columns=[_column(d, i) for i, d in enumerate(sorted(ordered))],
        boxes=boxes,
        edges=edges,
    )


def caption(depth: int) -> str:
    """What a column is called: 'root', 'upstream 2', 'downstream 1'."""
    if depth == 0:
        return "root"
    return f"{'upstream' if depth < 0 else 'downstream'} {abs(depth)}"


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _column(depth: int, index: int) -> Column:
    x = MARGIN + index * (BOX_W + COL_GAP) + BOX_W / 2
    return Column(depth, x, MARGIN + HEADER / 2, caption(depth))


def _order_columns(graph: LineageGraph) -> dict[int, list[LineageNode]]:
    columns: dict[int, list[LineageNode]] = defaultdict(list)
    for node in graph.nodes:
        columns[node.depth].append(node)
    neighbours = _neighbours(graph.edges)
    rank: dict[str, float] = {}
    # Order outward from the root, so each column follows the one already placed beside it.
    for depth in sorted(columns, key=lambda d: (abs(d), d)):
        nodes = sorted(columns[depth], key=lambda n: _sort_key(n, neighbours, rank))
        columns[depth] = nodes
        rank.update({n.ref: float(i) - (len(nodes) - 1) / 2 for i, n in enumerate(nodes)})
    return dict(columns)


def _neighbours(edges: list[LineageEdge]) -> dict[str, set[str]]:
    linked: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        linked[edge.src].add(edge.dst)
        linked[edge.dst].add(edge.src)
    return linked


def _sort_key(
    node: LineageNode, neighbours: dict[str, set[str]], rank: dict[str, float]
) -> tuple[float, str, str, str]:
    placed = [rank[n] for n in neighbours.get(node.ref, ()) if n in rank]
    barycentre = sum(placed) / len(placed) if placed else 0.0
    return (barycentre, node.kind, node.label, node.ref)


def _place_column(nodes: list[LineageNode], index: int, tallest: int, root: str) -> list[Box]:
    x = MARGIN + index * (BOX_W + COL_GAP)
    # Centre shorter columns against the tallest one.
    top = MARGIN + HEADER + (tallest - len(nodes)) * (BOX_H + ROW_GAP) / 2
    return [_box(node, x, top + row * (BOX_H + ROW_GAP), root) for row, node in enumerate(nodes)]


def _box(node: LineageNode, x: float, y: float, root: str) -> Box:
    return Box(
        ref=node.ref,
        label=node.label,
        short_label=shorten(node.label),
        kind=node.kind,
        project=node.project,
        depth=node.depth,
        x=x,
        y=y,
        root=node.ref == root,
    )


def _route(edge: LineageEdge, src: Box, dst: Box) -> EdgePath:
    if src.x < dst.x:
        points = _forward(src, dst)
    elif src.x > dst.x:
        points = _backward(src, dst)
    else:
        points = _loop(src, dst)
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    label_x, label_y = _bezier_mid(points)
    label_y -= 4  # sit just above the curve, not on it
    return EdgePath(
        id=edge.id,
        src=edge.src,
        dst=edge.dst,
        type=edge.type,
        d=f"M{x0:g},{y0:g} C{x1:g},{y1:g} {x2:g},{y2:g} {x3:g},{y3:g}",
        label_x=round(label_x, 1),
        label_y=round(label_y, 1),
    )


Point = tuple[float, float]
Curve = tuple[Point, Point, Point, Point]


def _forward(src: Box, dst: Box) -> Curve:
    bend = (dst.x - src.right) / 2
    return (
        (src.right, src.mid_y),
        (src.right + bend, src.mid_y),
        (dst.x - bend, dst.mid_y),
        (dst.x, dst.mid_y),
    )


def _backward(src: Box, dst: Box) -> Curve:
    # Flow still reads source -> destination: leave from the left, enter from the right.
    bend = max((src.x - dst.right) / 2, COL_GAP / 2)
    return (
        (src.x, src.mid_y),
        (src.x - bend, src.mid_y),
        (dst.right + bend, dst.mid_y),
        (dst.right, dst.mid_y),
    )


def _loop(src: Box, dst: Box) -> Curve:
    # Same column: bulge out to the right, further the further apart the boxes are.
    bulge = min(COL_GAP / 2 + abs(dst.mid_y - src.mid_y) / 4, COL_GAP * 0.8)
    return (
        (src.right, src.mid_y),
        (src.right + bulge, src.mid_y),
        (dst.right + bulge, dst.mid_y),
        (dst.right, dst.mid_y),
    )


def _bezier_mid(points: Curve) -> Point:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    return (x0 + 3 * x1 + 3 * x2 + x3) / 8, (y0 + 3 * y1 + 3 * y2 + y3) / 8


def _separate_labels(edges: list[EdgePath]) -> list[EdgePath]:
    # Edges converging on one node put their midpoints close together; push each label
    # down until it clears the ones already placed, so no two labels print over each other.
    placed: list[EdgePath] = []
    for edge in sorted(edges, key=lambda e: (e.label_y, e.label_x)):
        while any(_collide(edge.label_box, other.label_box) for other in placed):
            edge = replace(edge, label_y=edge.label_y + EDGE_LABEL_H / 2)
        placed.append(edge)
    order = {e.id: i for i, e in enumerate(edges)}
    return sorted(placed, key=lambda e: order[e.id])


def _collide(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _any_loop(boxes: list[Box], edges: list[EdgePath]) -> bool:
    # A same-column edge in the rightmost column bulges past the canvas; widen it.
    right = max((b.x for b in boxes), default=0)
    by_ref = {b.ref: b for b in boxes}
    return any(by_ref[e.src].x == by_ref[e.dst].x == right for e in edges)
