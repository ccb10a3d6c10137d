"""Stories linked to gate criteria, so the PM sees which story is done for real.

A link names a gate (``project/name``) and one of its criteria by number (1-based, in the
order ``passline gate show`` lists them). A story is *done for real* when every criterion
it links to passed in its gate's latest evaluation. The statuses of a list of stories cost
two queries, whatever their number: the gates named, then their latest evaluations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from passline.backlog.entities import Story
from passline.errors import InvalidInput, NotFound
from passline.store.models import ProjectRow
from passline.store.models_gates import GateEvaluationRow, GateRow

__all__ = ["checked_link", "with_statuses"]


def checked_link(session: Session, gate: str, criterion: int) -> tuple[str, dict[str, Any]]:
    """The link to criterion ``criterion`` of gate ``project/name``, and the gate's project;
    NotFound or InvalidInput naming what is wrong."""
    project, _, name = gate.partition("/")
    if not project or not name:
        raise InvalidInput(f"A gate is named PROJECT/NAME. Got {gate!r} instead.")
    row = session.execute(
        select(GateRow)
        .join(ProjectRow, ProjectRow.id == GateRow.project_id)
        .where(ProjectRow.name == project, GateRow.name == name)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(
            f"No gate {gate!r}.", hint=f"List gates with 'passline gate list {project}'."
        )
    if not 1 <= criterion <= len(row.criteria):
        raise InvalidInput(
            f"The 'criterion' of gate {gate} must be a number in [1, {len(row.criteria)}]. "
            f"Got {criterion} instead.",
            hint=f"See its criteria with 'passline gate show {gate}'.",
        )
    return project, {"gate": gate, "criterion": criterion}


def with_statuses(session: Session, stories: list[Story]) -> list[Story]:
    """The stories, each link given its ``type`` and its ``status`` in the gate's latest
    evaluation (``pass``, ``fail``, ``missing_evidence``, or ``not evaluated``)."""
    names = {tuple(g["gate"].split("/", 1)) for s in stories for g in s.gate_links}
    if not names:
        return stories
    gates = {
        f"{p}/{n}": (gid, criteria)
        for gid, p, n, criteria in session.execute(
            select(GateRow.id, ProjectRow.name, GateRow.name, GateRow.criteria)
            .join(ProjectRow, ProjectRow.id == GateRow.project_id)
            .where(tuple_(ProjectRow.name, GateRow.name).in_(names))
        ).all()
    }
    latest_at = (
        select(GateEvaluationRow.gate_id, func.max(GateEvaluationRow.at).label("at"))
        .where(GateEvaluationRow.gate_id.in_([gid for gid, _ in gates.values()]))
        .group_by(GateEvaluationRow.gate_id)
        .subquery()
    )
    results = dict(
        session.execute(
            select(GateEvaluationRow.gate_id, GateEvaluationRow.results).join(
                latest_at,
                (latest_at.c.gate_id == GateEvaluationRow.gate_id)
                & (latest_at.c.at == GateEvaluationRow.at),
            )
        ).all()
    )
    return [
        s.model_copy(update={"gate_links": [_status(g, gates, results) for g in s.gate_links]})
        for s in stories
    ]


def _status(link: dict[str, Any], gates: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    gid, criteria = gates.get(link["gate"], (None, []))
    n = int(link["criterion"])
    found = results.get(gid) or []
    kind = criteria[n - 1].get("type") if 0 < n <= len(criteria) else None
    status = found[n - 1].get("status") if 0 < n <= len(found) else "not evaluated"
    return {**link, "type": kind, "status": status if gid else "gate deleted"}
