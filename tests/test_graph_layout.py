"""The lineage drawing's geometry: columns by depth, no overlaps, a path for every edge."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

from passline.core.entities import LineageEdge, LineageGraph, LineageNode
from passline.server.graph_layout import LABEL_CHARS, Box, caption, layout, shorten

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def node(ref: str, depth: int) -> LineageNode:
    return LineageNode(ref=ref, kind=ref.split(":")[0], label=ref.split(":")[1], depth=depth)


def edge(src: str, dst: str, type_: str = "derived_into") -> LineageEdge:
    return LineageEdge(
        id=f"edg_{src}_{dst}", src=src, dst=dst, type=type_, actor="alice", created_at=NOW
    )


def graph(nodes: list[LineageNode], edges: list[LineageEdge], root: str) -> LineageGraph:
    return LineageGraph(root=root, direction="both", nodes=nodes, edges=edges)


def demo_like() -> LineageGraph:
    """Two sources -> two raw files -> features (root) -> two models."""
    nodes = [
        node("source:erp", -2),
        node("source:sftp", -2),
        node("artifact:sales", -1),
        node("artifact:stock", -1),
        node("artifact:features", 0),
        node("run:train1", 1),
        node("run:train2", 1),
    ]
    edges = [
        edge("source:erp", "artifact:sales", "ingested_as"),
        edge("source:sftp", "artifact:stock", "ingested_as"),
        edge("artifact:sales", "artifact:features"),
        edge("artifact:stock", "artifact:features"),
        edge("artifact:features", "run:train1", "used_by"),
        edge("artifact:features", "run:train2", "used_by"),
    ]
    return graph(nodes, edges, "artifact:features")


def overlaps(a: Box, b: Box) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


def test_columns_follow_depth_from_left_to_right() -> None:
    drawing = layout(demo_like())
    x_of = {b.ref: b.x for b in drawing.boxes}
    assert x_of["source:erp"] == x_of["source:sftp"] < x_of["artifact:sales"]
    assert x_of["artifact:sales"] == x_of["artifact:stock"] < x_of["artifact:features"]
    assert x_of["artifact:features"] < x_of["run:train1"] == x_of["run:train2"]
    assert [c.caption for c in drawing.columns] == [
        "upstream 2",
        "upstream 1",
        "root",
        "downstream 1",
    ]


def test_only_the_root_is_highlighted() -> None:
    drawing = layout(demo_like())
    assert [b.ref for b in drawing.boxes if b.root] == ["artifact:features"]


def test_no_two_boxes_overlap_and_all_fit_on_the_canvas() -> None:
    nodes = [node(f"artifact:up{i}", -1) for i in range(9)] + [node("artifact:root", 0)]
    nodes += [node(f"run:down{i}", 1 + i % 3) for i in range(7)]
    drawing = layout(graph(nodes, [], "artifact:root"))
    assert len(drawing.boxes) == len(nodes)
    for a, b in itertools.combinations(drawing.boxes, 2):
        assert not overlaps(a, b), (a.ref, b.ref)
    for box in drawing.boxes:
        assert 0 <= box.x and box.right <= drawing.width
        assert 0 <= box.y and box.bottom <= drawing.height


def test_every_edge_has_a_path_between_its_boxes() -> None:
    g = demo_like()
    drawing = layout(g)
    assert {(e.src, e.dst) for e in drawing.edges} == {(e.src, e.dst) for e in g.edges}
    boxes = {b.ref: b for b in drawing.boxes}
    for path in drawing.edges:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.d)]
        assert path.d.startswith("M") and " C" in path.d and len(numbers) == 8
        src, dst = boxes[path.src], boxes[path.dst]
        assert (numbers[0], numbers[1]) == (src.right, src.mid_y)
        assert (numbers[6], numbers[7]) == (dst.x, dst.mid_y)
        assert src.right < path.label_x < dst.x


def test_neighbours_are_ordered_to_avoid_crossings() -> None:
    # Alphabetical order would cross these edges (zz feeds sales, aa feeds stock);
    # ordering by the neighbours' positions does not.
    nodes = [
        node("source:zz", -2),
        node("source:aa", -2),
        node("artifact:sales", -1),
        node("artifact:stock", -1),
        node("artifact:root", 0),
    ]
    edges = [
        edge("source:zz", "artifact:sales"),
        edge("source:aa", "artifact:stock"),
        edge("artifact:sales", "artifact:root"),
        edge("artifact:stock", "artifact:root"),
    ]
    y_of = {b.ref: b.y for b in layout(graph(nodes, edges, "artifact:root")).boxes}
    assert y_of["artifact:sales"] < y_of["artifact:stock"]
    assert y_of["source:zz"] < y_of["source:aa"]


def test_same_column_and_backward_edges_still_get_paths() -> None:
    # root -> a, root -> b, a -> b: a and b share depth 1 (a same-column edge); an upstream
    # node that also feeds a farther node draws a right-to-left edge.
    nodes = [
        node("artifact:far", -2),
        node("artifact:near", -1),
        node("artifact:root", 0),
        node("run:a", 1),
        node("run:b", 1),
    ]
    edges = [
        edge("artifact:far", "artifact:near"),
        edge("artifact:near", "artifact:root"),
        edge("artifact:root", "run:a"),
        edge("artifact:root", "run:b"),
        edge("run:a", "run:b", "feeds"),
    ]
    drawing = layout(graph(nodes, edges, "artifact:root"))
    assert len(drawing.edges) == len(edges)
    loop = next(e for e in drawing.edges if e.type == "feeds")
    boxes = {b.ref: b for b in drawing.boxes}
    assert loop.label_x > boxes["run:a"].right  # bulges out to the right
    assert loop.label_x < drawing.width  # and the canvas was widened to hold it


def test_edges_to_nodes_outside_the_graph_are_dropped() -> None:
    g = graph([node("artifact:root", 0)], [edge("artifact:root", "run:gone")], "artifact:root")
    assert layout(g).edges == []


def test_a_lone_root_is_one_centred_column() -> None:
    drawing = layout(graph([node("project:retail", 0)], [], "project:retail"))
    assert len(drawing.boxes) == 1 and drawing.boxes[0].root
    assert [c.caption for c in drawing.columns] == ["root"]


def test_long_labels_are_shortened_with_an_ellipsis() -> None:
    assert shorten("short") == "short"
    long = "a_very_long_artifact_name_that_does_not_fit.csv"
    assert shorten(long).endswith("…") and len(shorten(long)) == LABEL_CHARS
    drawing = layout(graph([node(f"artifact:{long}", 0)], [], f"artifact:{long}"))
    assert drawing.boxes[0].label == long and drawing.boxes[0].short_label == shorten(long)


def test_captions_name_the_side_and_distance() -> None:
    assert (caption(-3), caption(0), caption(2)) == ("upstream 3", "root", "downstream 2")


def test_edge_labels_do_not_print_over_each_other() -> None:
    # Five edges converging on the root put their midpoints close together.
    nodes = [node(f"artifact:in{i}", -1) for i in range(5)] + [node("artifact:root", 0)]
    edges = [edge(f"artifact:in{i}", "artifact:root", "derived_into") for i in range(5)]
    drawing = layout(graph(nodes, edges, "artifact:root"))
    for a, b in itertools.combinations(drawing.edges, 2):
        left, top, right, bottom = a.label_box
        other = b.label_box
        assert right <= other[0] or other[2] <= left or bottom <= other[1] or other[3] <= top
    assert all(e.label_y <= drawing.height for e in drawing.edges)
