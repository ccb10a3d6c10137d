"""The five-block map of a project: data entry, storage, app-model interaction, model
operation, and security & monitoring, each with what the project really uses.

Like the scorecard, every count is one grouped query over the project (never a loop over
its datasets or models), and a link between two blocks is drawn only when a row joins
them: a source that fills a dataset, a model version trained on a dataset version, an
endpoint serving a model, a monitor watching an endpoint, a gate checking a model.
"""

from __future__ import annotations

import html
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from passline.store.models import (
    ArtifactRow,
    AuditEventRow,
    CollectionRow,
    DatasetRow,
    DatasetVersionRow,
    EndpointRow,
    GuardPolicyRow,
    LlmModelRow,
    ModelAliasRow,
    ModelVersionRow,
    MonitorRow,
    PromptRow,
    PromptVersionRow,
    RegisteredModelRow,
    SourceRow,
    TraceRow,
)
from passline.store.models_eval import EvalRunRow
from passline.store.models_gates import GateRow
from passline.store.models_redteam import RedteamRunRow

__all__ = ["BLOCKS", "block_facts", "render_markdown", "render_svg"]

BLOCKS = {
    "data_entry": "Data entry",
    "storage": "Storage",
    "app_model": "App-model interaction",
    "model_operation": "Model operation",
    "security": "Security & monitoring",
}
DRIFT_METRICS = {"drift_share", "prediction_drift"}
# written by the platform itself (creating the project is audited): not a sign of use
PASSIVE = {"audit entries"}


def block_facts(session: Session, project: Any, database: str) -> dict[str, Any]:
    """The five blocks of ``project`` (its row), their items (``label``, ``count``) and the
    links that exist between them."""
    project_id = project.id

    def one(query: Any) -> int:
        return int(session.execute(query).scalar() or 0)

    def rows(query: Any) -> list[Any]:
        return list(session.execute(query).all())

    sources = rows(select(SourceRow.kind).where(SourceRow.project_id == project_id))
    versions = rows(
        select(DatasetVersionRow.id, DatasetVersionRow.rows, DatasetVersionRow.bytes)
        .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
        .where(DatasetRow.project_id == project_id)
    )
    datasets = one(select(func.count(DatasetRow.id)).where(DatasetRow.project_id == project_id))
    artifacts = rows(
        select(func.count(ArtifactRow.id), func.coalesce(func.sum(ArtifactRow.size), 0)).where(
            ArtifactRow.project_id == project_id
        )
    )[0]
    model_versions = rows(
        select(ModelVersionRow.model_id, ModelVersionRow.dataset_versions)
        .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.model_id)
        .where(RegisteredModelRow.project_id == project_id)
    )
    models = one(
        select(func.count(RegisteredModelRow.id)).where(RegisteredModelRow.project_id == project_id)
    )
    aliases = one(
        select(func.count())
        .select_from(ModelAliasRow)
        .join(RegisteredModelRow, RegisteredModelRow.id == ModelAliasRow.model_id)
        .where(RegisteredModelRow.project_id == project_id)
    )
    endpoints = rows(select(EndpointRow.id).where(EndpointRow.project_id == project_id))
    monitors = rows(
        select(MonitorRow.rule).where(MonitorRow.project_id == project_id, MonitorRow.enabled)
    )
    prompts = rows(
        select(func.count(func.distinct(PromptRow.id)), func.count(PromptVersionRow.id))
        .select_from(PromptRow)
        .outerjoin(PromptVersionRow, PromptVersionRow.prompt_id == PromptRow.id)
        .where(PromptRow.project_id == project_id)
    )[0]
    llm_models = rows(select(LlmModelRow.provider))
    collections = one(
        select(func.count(CollectionRow.id)).where(CollectionRow.project_id == project_id)
    )
    traces = one(select(func.count(TraceRow.id)).where(TraceRow.project_id == project_id))
    evals = one(select(func.count(EvalRunRow.id)).where(EvalRunRow.project_id == project_id))
    redteam = one(
        select(func.count(RedteamRunRow.id)).where(RedteamRunRow.project_id == project_id)
    )
    gates = one(select(func.count(GateRow.id)).where(GateRow.project_id == project_id))
    guards = rows(select(GuardPolicyRow.policy).where(GuardPolicyRow.project_id == project_id))
    audit = one(select(func.count(AuditEventRow.seq)).where(AuditEventRow.project == project.name))

    kinds: dict[str, int] = {}
    for (kind,) in sources:
        kinds[kind] = kinds.get(kind, 0) + 1
    pii = any(
        g.get("type") == "pii"
        for (p,) in guards
        for s in ("input", "output")
        for g in p.get(s) or []
    )
    trained = sum(1 for _, used in model_versions if used)
    drift = sum(1 for (rule,) in monitors if (rule or {}).get("metric") in DRIFT_METRICS)
    llm = len(llm_models) if prompts[0] or collections or traces else 0

    blocks = {
        "data_entry": _items(
            [(f"{kind} sources", n) for kind, n in sorted(kinds.items())]
            + [("records ingested", sum(r for _, r, _ in versions))]
        ),
        "storage": _items(
            [
                ("datasets", datasets),
                ("dataset versions", len(versions)),
                ("dataset bytes", sum(b for *_, b in versions)),
                ("artifacts", artifacts[0]),
                ("artifact bytes", int(artifacts[1])),
            ]
        ),
        "app_model": _items(
            [
                ("endpoints", len(endpoints)),
                ("LLM models", llm),
                ("prompts", prompts[0]),
                ("prompt versions", prompts[1]),
                ("RAG collections", collections),
                ("traces", traces),
            ]
        ),
        "model_operation": _items(
            [
                ("registered models", models),
                ("model versions", len(model_versions)),
                ("aliases", aliases),
                ("monitors", len(monitors)),
                ("drift monitors", drift),
                ("evaluation runs", evals),
            ]
        ),
        "security": _items(
            [
                ("guard policies", len(guards)),
                ("PII redaction", int(pii)),
                ("audit entries", audit),
                ("red-team runs", redteam),
                ("release gates", gates),
            ]
        ),
    }
    result = {
        name: {
            "title": BLOCKS[name],
            "used": any(i["label"] not in PASSIVE for i in items),
            "items": items,
        }
        for name, items in blocks.items()
    }
    result["storage"]["backend"] = database
    links = [
        ("data_entry", "storage", "dataset versions ingested", len(versions)),
        ("storage", "model_operation", "model versions trained on dataset versions", trained),
        ("model_operation", "app_model", "endpoints serve registered models", len(endpoints)),
        ("model_operation", "app_model", "monitors watch endpoints", len(monitors)),
        ("security", "model_operation", "gates check models and prompts", gates),
        ("app_model", "security", "guard policies filter LLM calls", len(guards)),
    ]
    return {
        "blocks": result,
        "links": [
            {"from": a, "to": b, "label": label, "count": n} for a, b, label, n in links if n
        ],
    }


def _items(pairs: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"label": label, "count": int(n)} for label, n in pairs if n]


# -- rendering -----------------------------------------------------------------------------


def render_markdown(found: dict[str, Any]) -> str:
    lines = [f"# Five-block map: {found['project']}", ""]
    for block in found["blocks"].values():
        lines += [f"## {block['title']}", ""]
        if not block["used"]:
            lines += ["not used", ""]
            continue
        lines += [f"- {i['label']}: {i['count']}" for i in block["items"]]
        lines += [f"- metadata backend: {block['backend']}"] if "backend" in block else []
        lines.append("")
    lines += ["## Links", ""]
    lines += [
        f"- {BLOCKS[k['from']]} -> {BLOCKS[k['to']]}: {k['label']} ({k['count']})"
        for k in found["links"]
    ] or ["none"]
    return "\n".join(lines) + "\n"


# where each block sits on a 760 x 420 canvas: x, y of its top-left corner
_PLACES = {
    "data_entry": (10, 20),
    "storage": (270, 20),
    "model_operation": (530, 20),
    "app_model": (530, 240),
    "security": (140, 240),
}
_W, _H = 220, 160


def render_svg(found: dict[str, Any]) -> str:
    """The five blocks as boxes with their contents, an arrow for each link that exists;
    an empty block is grey and says "not used"."""
    e = html.escape
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="block-map" viewBox="0 0 770 420" '
        f'role="img" aria-label="Five-block map of {e(found["project"])}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#4a5468"/>'
        "</marker></defs>",
    ]
    for name, block in found["blocks"].items():
        parts.append(_box(name, block))
    seen: set[tuple[str, str]] = set()
    for link in found["links"]:
        pair = (link["from"], link["to"])
        parts.append(_arrow(link, offset=8 if pair in seen else 0))
        seen.add(pair)
    parts.append("</svg>")
    return "".join(parts) + "\n"


def _box(name: str, block: dict[str, Any]) -> str:
    e = html.escape
    x, y = _PLACES[name]
    used = block["used"]
    fill, stroke, ink = ("#eef3fc", "#7ea2e6", "#1d2433") if used else ("#f0f0f0", "#bbb", "#999")
    out = [
        f'<g class="block {"used" if used else "unused"}" id="block-{name}">'
        f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="8" fill="{fill}" '
        f'stroke="{stroke}"/>'
        f'<text x="{x + 10}" y="{y + 20}" font-weight="600" fill="{ink}">'
        f"{e(block['title'])}</text>"
    ]
    lines = [f"{i['label']}: {i['count']}" for i in block["items"]] if used else ["not used"]
    if used and "backend" in block:
        lines.append(f"metadata: {block['backend']}")
    for n, line in enumerate(lines[:7]):
        out.append(f'<text x="{x + 10}" y="{y + 40 + 16 * n}" fill="{ink}">{e(line)}</text>')
    out.append("</g>")
    return "".join(out)


def _arrow(link: dict[str, Any], offset: int) -> str:
    (x1, y1), (x2, y2) = _PLACES[link["from"]], _PLACES[link["to"]]
    ax, ay = _edge(x1, y1, x2, y2)
    bx, by = _edge(x2, y2, x1, y1)
    title = html.escape(f"{link['label']} ({link['count']})")
    return (
        f'<line class="link" x1="{ax + offset}" y1="{ay + offset}" x2="{bx + offset}" '
        f'y2="{by + offset}" stroke="#4a5468" stroke-width="1.5" marker-end="url(#arrow)">'
        f"<title>{title}</title></line>"
    )


def _edge(x: int, y: int, ox: int, oy: int) -> tuple[int, int]:
    """The point on box (x, y)'s border facing the box at (ox, oy)."""
    cx, cy = x + _W // 2, y + _H // 2
    if abs(ox - x) >= abs(oy - y) * 2:
        return (x + _W if ox > x else x), cy
    return cx, (y + _H if oy > y else y)
