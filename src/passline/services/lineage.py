"""The lineage graph: typed nodes (any Passline object) and typed, timestamped edges.

Edges point the way things flow (``dataset_version --used_by--> run``). "Upstream" of an
object is everything it came from; "downstream" is everything made from it. Walks use a
recursive CTE, so any depth costs one query, on SQLite and PostgreSQL alike. Edges are
recorded when the thing happens; a link that would close a cycle is refused, since
nothing can come from itself.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from sqlalchemy import insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.entities import LineageEdge, LineageGraph, LineageNode
from passline.core.ids import new_id
from passline.core.refs import Ref
from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound
from passline.services.base import BaseService
from passline.store.models import LineageEdgeRow, LineageNodeRow, ProjectRow

__all__ = ["LineageService", "ensure_node", "record_edges"]

Direction = Literal["up", "down", "both"]
EdgeSpec = tuple[str, str, str, dict[str, Any]]
_EDGE_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
MAX_DEPTH = 100
MAX_BATCH = 10_000


def insert_ignore(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, on whichever dialect the session uses."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # Rows as executemany parameters, not ``.values(rows)``: the statement is compiled once
    # and cached, and SQLAlchemy still sends multi-row VALUES ("insertmanyvalues"). A
    # 100-row ``.values()`` was compiled afresh every time: most of an OTLP batch's cost.
    session.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def record_edges(
    session: Session,
    actor: str,
    edges: list[tuple[str, str, str]] | list[tuple[str, str, str, dict[str, Any]]],
) -> None:
    """Insert ``(src, dst, type[, attrs])`` edges recorded by ``actor``, in one statement; an
    edge already there stays as it is (services call this when the thing happens)."""
    now = utcnow()
    rows = [
        {
            "id": new_id("edg"),
            "src_ref": edge[0],
            "dst_ref": edge[1],
            "type": edge[2],
            "actor": actor,
            "created_at": now,
            "attrs": edge[3] if len(edge) > 3 else {},
        }
        for edge in edges
    ]
    insert_ignore(session, LineageEdgeRow.__table__, rows)


def ensure_node(session: Session, ref: str, label: str, project_id: str | None) -> None:
    """Add ``ref`` to the graph if it is not there (services call this on create)."""
    insert_ignore(
        session,
        LineageNodeRow.__table__,
        [
            {
                "ref": ref,
                "kind": ref.split(":", 1)[0],
                "label": label[:255],
                "project_id": project_id,
                "created_at": utcnow(),
            }
        ],
    )


def _node(row: LineageNodeRow, depth: int, projects: dict[str, str]) -> LineageNode:
    return LineageNode(
        ref=row.ref,
        kind=row.kind,
        label=row.label,
        project=projects.get(row.project_id or ""),
        depth=depth,
    )


def _edge(row: LineageEdgeRow) -> LineageEdge:
    return LineageEdge(
        id=row.id,
        src=row.src_ref,
        dst=row.dst_ref,
        type=row.type,
        actor=row.actor,
        created_at=as_utc(row.created_at),
        attrs=row.attrs or {},
    )


def _check_edge_type(value: str) -> str:
    if not _EDGE_TYPE.match(value):
        raise InvalidInput(
            "The edge type must be a lowercase identifier such as 'used_by' or 'produced'. "
            f"Got {value!r} instead."
        )
    return value


def _check_depth(depth: int | None) -> int:
    if depth is None:
        return MAX_DEPTH
    if not 1 <= depth <= MAX_DEPTH:
        raise InvalidInput(
            f"The 'depth' must be an integer in [1, {MAX_DEPTH}]. Got {depth} instead."
        )
    return depth


_WALK_UP = """
WITH RECURSIVE walk(ref, depth) AS (
    SELECT CAST(:root AS VARCHAR(250)), 0
    UNION
    SELECT e.src_ref, w.depth + 1 FROM lineage_edges e JOIN walk w ON e.dst_ref = w.ref
    WHERE w.depth < :max_depth
)
SELECT ref, MIN(depth) FROM walk GROUP BY ref
"""
_WALK_DOWN = _WALK_UP.replace("e.src_ref, w.depth", "e.dst_ref, w.depth").replace(
    "e.dst_ref = w.ref", "e.src_ref = w.ref"
)


def walk(
    session: Session, root: str, direction: Literal["up", "down"], depth: int
) -> dict[str, int]:
    """Refs reachable from ``root`` with their distance (0 for the root itself)."""
    query = text(_WALK_UP if direction == "up" else _WALK_DOWN)
    rows = session.execute(query, {"root": root, "max_depth": depth}).all()
    return {ref: int(d) for ref, d in rows}


class LineageService(BaseService):
    def _node_row(self, session: Session, ref: str) -> LineageNodeRow:
        parsed = str(Ref.parse(ref))
        row = session.get(LineageNodeRow, parsed)
        if row is None:
            raise NotFound(
                f"No object {parsed!r} in the lineage graph.",
                hint="Check the reference; objects join the graph when Passline creates them, "
                "and 'passline lineage register' adds outside ones.",
            )
        return row

    def _require_on_node(
        self, session: Session, node: LineageNodeRow, role: Role, action: str
    ) -> None:
        if node.project_id is None:
            if role != Role.VIEWER:
                self._require_admin(action)
            return
        project = session.get(ProjectRow, node.project_id)
        if project is not None:
            self._require(session, project.name, role, action)

    def register(self, ref: str, label: str, project: str) -> LineageNode:
        """Add an object that no Passline service owns yet (an ERP table, a file share)."""
        parsed = Ref.parse(ref)
        with self.db.write() as session:
            row = self._require(session, project, Role.CONTRIBUTOR, "register lineage nodes")
            existing = session.get(LineageNodeRow, str(parsed))
            if existing is not None:
                raise Conflict(
                    f"{parsed} is already in the lineage graph (label {existing.label!r})."
                )
            ensure_node(session, str(parsed), label, row.id)
            self._audit(session, "lineage.register", str(parsed), project, {"label": label})
            return LineageNode(ref=str(parsed), kind=parsed.kind, label=label, project=project)

    def link(
        self, src: str, dst: str, type: str, attrs: dict[str, Any] | None = None
    ) -> LineageEdge:
        """Record that ``dst`` came from ``src``; idempotent for the same (src, dst, type)."""
        return self.link_many([{"src": src, "dst": dst, "type": type, "attrs": attrs or {}}])[0]

    def link_many(self, edges: list[dict[str, Any]]) -> list[LineageEdge]:
        """Record many edges in one transaction and one audit entry (batched writes)."""
        if not 1 <= len(edges) <= MAX_BATCH:
            raise InvalidInput(f"Send between 1 and {MAX_BATCH} edges at once. Got {len(edges)}.")
        specs = [_edge_spec(e) for e in edges]
        with self.db.write() as session:
            nodes = self._nodes_for(session, specs)
            project_ids = {n.project_id for n in nodes.values()}
            self._require_on_projects(session, project_ids, "record lineage")
            edges, new = self._insert_edges(session, specs)
            if new:  # a repeated link changes nothing, so it records nothing
                self._audit(
                    session,
                    "lineage.link",
                    new[0][1],
                    self._single_project_name(session, project_ids),
                    {"edges": [f"{s[0]} -{s[2]}-> {s[1]}" for s in new[:1000]], "count": len(new)},
                )
            return edges

    def _require_on_projects(
        self, session: Session, project_ids: set[str | None], action: str
    ) -> None:
        """One role check per project touched, however many nodes are linked."""
        if None in project_ids:
            self._require_admin(action)
        names = session.execute(
            select(ProjectRow.name).where(ProjectRow.id.in_([p for p in project_ids if p]))
        ).scalars()
        for name in names:
            self._require(session, name, Role.CONTRIBUTOR, action)

    def _nodes_for(self, session: Session, specs: list[EdgeSpec]) -> dict[str, LineageNodeRow]:
        refs = {s[0] for s in specs} | {s[1] for s in specs}
        rows = session.execute(select(LineageNodeRow).where(LineageNodeRow.ref.in_(refs))).scalars()
        found = {r.ref: r for r in rows}
        missing = sorted(refs - found.keys())
        if missing:
            raise NotFound(
                f"No object {missing[0]!r} in the lineage graph"
                + (f" (and {len(missing) - 1} more)." if len(missing) > 1 else "."),
                hint="Link objects that exist; 'passline lineage register' adds outside ones.",
            )
        return found

    def _insert_edges(
        self, session: Session, specs: list[EdgeSpec]
    ) -> tuple[list[LineageEdge], list[EdgeSpec]]:
        """All requested edges (existing or new) and the specs of those newly stored."""
        known = self._existing_edges(session, specs)
        has_parents = self._refs_with_incoming(session, {s[0] for s in specs})
        pending: list[dict[str, Any]] = []
        out: list[LineageEdge] = []
        new: list[EdgeSpec] = []
        for src, dst, type_, attrs in specs:
            if (src, dst, type_) not in known:
                # Only a source that already has parents can be reached from dst, so the
                # walk is skipped for every edge of a typical fan-in or fan-out batch.
                if src == dst or (src in has_parents and self._reaches(session, pending, src, dst)):
                    raise Conflict(
                        f"Linking {src} -> {dst} would make a cycle: "
                        f"{dst} is already upstream of {src}."
                    )
                row = {
                    "id": new_id("edg"),
                    "src_ref": src,
                    "dst_ref": dst,
                    "type": type_,
                    "actor": self.actor_name,
                    "created_at": utcnow(),
                    "attrs": attrs,
                }
                pending.append(row)
                new.append((src, dst, type_, attrs))
                has_parents.add(dst)
                known[(src, dst, type_)] = _edge(LineageEdgeRow(**row))
            out.append(known[(src, dst, type_)])
        if pending:
            session.execute(insert(LineageEdgeRow), pending)
        return out, new

    def _existing_edges(
        self, session: Session, specs: list[EdgeSpec]
    ) -> dict[tuple[str, str, str], LineageEdge]:
        found = _in_chunks(
            session, LineageEdgeRow, LineageEdgeRow.src_ref, list({s[0] for s in specs})
        )
        wanted = {(s[0], s[1], s[2]) for s in specs}
        return {
            (e.src_ref, e.dst_ref, e.type): _edge(e)
            for e in found
            if (e.src_ref, e.dst_ref, e.type) in wanted
        }

    def _refs_with_incoming(self, session: Session, refs: set[str]) -> set[str]:
        values, found = list(refs), set()
        for start in range(0, len(values), 500):
            query = select(LineageEdgeRow.dst_ref).where(
                LineageEdgeRow.dst_ref.in_(values[start : start + 500])
            )
            found.update(session.execute(query.distinct()).scalars())
        return found

    def _reaches(self, session: Session, pending: list[dict[str, Any]], src: str, dst: str) -> bool:
        """Is ``dst`` upstream of ``src``, counting stored edges and this batch's?"""
        if pending:
            session.execute(insert(LineageEdgeRow), pending)
            pending.clear()
        return dst in walk(session, src, "up", MAX_DEPTH)

    def _single_project_name(self, session: Session, project_ids: set[str | None]) -> str | None:
        ids = [p for p in project_ids if p]
        if len(ids) != 1:
            return None
        return session.execute(select(ProjectRow.name).where(ProjectRow.id == ids[0])).scalar_one()

    def graph(
        self, ref: str, direction: Direction = "up", depth: int | None = None
    ) -> LineageGraph:
        """Everything upstream, downstream or both of ``ref``, to ``depth`` hops."""
        if direction not in ("up", "down", "both"):
            raise InvalidInput(f"The direction must be 'up', 'down' or 'both'. Got {direction!r}.")
        max_depth = _check_depth(depth)
        with self.db.read() as session:
            root = self._node_row(session, ref)
            self._require_on_node(session, root, Role.VIEWER, "view lineage")
            depths: dict[str, int] = {}
            if direction in ("up", "both"):
                depths.update({r: -d for r, d in walk(session, root.ref, "up", max_depth).items()})
            if direction in ("down", "both"):
                depths.update(
                    {
                        r: d
                        for r, d in walk(session, root.ref, "down", max_depth).items()
                        if d or r not in depths
                    }
                )
            return self._assemble(session, root.ref, direction, depths)

    def _assemble(
        self, session: Session, root: str, direction: Direction, depths: dict[str, int]
    ) -> LineageGraph:
        refs = list(depths)
        node_rows = _in_chunks(session, LineageNodeRow, LineageNodeRow.ref, refs)
        project_ids = {n.project_id for n in node_rows if n.project_id}
        projects = (
            dict(
                session.execute(
                    select(ProjectRow.id, ProjectRow.name).where(ProjectRow.id.in_(project_ids))
                ).all()
            )
            if project_ids
            else {}
        )
        wanted = set(refs)
        edge_rows = [
            e
            for e in _in_chunks(session, LineageEdgeRow, LineageEdgeRow.dst_ref, refs)
            if e.src_ref in wanted
        ]
        kept = self._reachable_visible(session, root, node_rows, edge_rows)
        nodes = sorted(
            (_node(n, depths[n.ref], projects) for n in node_rows if n.ref in kept),
            key=lambda n: (n.depth, n.ref),
        )
        edges = sorted(
            (_edge(e) for e in edge_rows if e.src_ref in kept and e.dst_ref in kept),
            key=lambda e: e.id,
        )
        return LineageGraph(
            root=root,
            direction=direction,
            nodes=nodes,
            edges=edges,
            hidden=len(node_rows) - len(nodes),
        )

    def _reachable_visible(
        self, session: Session, root: str, nodes: list[LineageNodeRow], edges: list[LineageEdgeRow]
    ) -> set[str]:
        """Nodes the caller may see, reached from the root through nodes they may see.

        A walk crosses into other projects' objects; those are cut out, and so is whatever
        lies only beyond them, so that neither labels nor connections leak.
        """
        allowed = self._viewable_project_ids(session, {n.project_id for n in nodes})
        visible = {n.ref for n in nodes if n.project_id is None or n.project_id in allowed}
        neighbours: dict[str, set[str]] = {}
        for e in edges:
            if e.src_ref in visible and e.dst_ref in visible:
                neighbours.setdefault(e.src_ref, set()).add(e.dst_ref)
                neighbours.setdefault(e.dst_ref, set()).add(e.src_ref)
        kept, frontier = {root}, [root]
        while frontier:
            for ref in neighbours.get(frontier.pop(), ()):
                if ref not in kept:
                    kept.add(ref)
                    frontier.append(ref)
        return kept

    def _viewable_project_ids(self, session: Session, ids: set[str | None]) -> set[str | None]:
        if self.ctx.actor.is_admin:
            return set(ids)
        return {p for p in ids if p and self._role_in(session, p) is not None}

    def exists(self, ref: str) -> bool:
        with self.db.read() as session:
            return session.get(LineageNodeRow, str(Ref.parse(ref))) is not None


def _edge_spec(edge: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    try:
        src, dst, type_ = edge["src"], edge["dst"], edge["type"]
    except (KeyError, TypeError):
        raise InvalidInput("Each edge needs 'src', 'dst' and 'type'.") from None
    attrs = edge.get("attrs") or {}
    if not isinstance(attrs, dict):
        raise InvalidInput("The 'attrs' of an edge must be a JSON object.")
    return str(Ref.parse(src)), str(Ref.parse(dst)), _check_edge_type(type_), attrs


def _in_chunks(
    session: Session, model: Any, column: Any, values: list[str], size: int = 500
) -> list[Any]:
    # Keeps IN lists under SQLite's bound-parameter limit on very large graphs.
    out: list[Any] = []
    for start in range(0, len(values), size):
        out.extend(
            session.execute(select(model).where(column.in_(values[start : start + size]))).scalars()
        )
    return out
