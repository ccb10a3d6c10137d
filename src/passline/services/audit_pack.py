"""The audit pack's content: everything a regulator asks about one model or prompt version,
read through the services as the caller.

Lineage, the data versions with their quality and sensitivity, approvals, gate evaluations
with their evidence, evaluation and red-team runs, the model card and the audit entries.
Rendering and the digest are in :mod:`passline.gates.pack`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from passline.core.clock import utcnow
from passline.errors import PasslineError

if TYPE_CHECKING:
    from passline.services.gates import Subject
    from passline.services.workspace import Services

__all__ = ["collect_pack"]


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if dump else value


def collect_pack(svc: Services, subject: Subject) -> dict[str, Any]:
    short = subject.name.split("/", 1)[1]
    gates = svc.gates.evaluations_for(subject.ref)
    return {
        "format": "passline-audit-pack/1",
        "generated_at": utcnow().isoformat(),
        "generated_by": svc.ctx.actor.name,
        "subject": subject.model_dump(mode="json"),
        "lineage": _plain(svc.lineage.graph(subject.ref, "up")),
        "data": [_data_version(svc, label) for label in subject.dataset_versions],
        "approvals": subject.approvals,
        "gates": [_plain(e) for e in gates],
        "evaluations": [
            _plain(r)
            for r in svc.evaluation.runs(subject.project, limit=200)
            if short in (r.target_label or str(r.target))
        ],
        "redteam": [
            _plain(r)
            for r in svc.redteam.runs(subject.project, limit=200)
            if short in (r.target_label or str(r.target))
        ],
        "model_card": _card(svc, subject),
        "audit": [_plain(e) for e in _audit(svc, subject, gates)],
    }


def _data_version(svc: Services, label: str) -> dict[str, Any]:
    try:
        version, dataset = svc.datasets.version(label), svc.datasets.get(label)
    except PasslineError as exc:
        return {"version": label, "error": str(exc)}
    return {
        "version": label,
        "rows": version.rows,
        "status": version.status,
        "quality": version.quality,
        "pii": version.pii,
        "sensitivity": dataset.sensitivity,
        "sensitivity_reason": dataset.sensitivity_reason,
        "owner": dataset.owner,
        "profile_digest": version.profile_digest,
    }


def _card(svc: Services, subject: Subject) -> str | None:
    if subject.kind != "model":
        return None
    return svc.registry.card(subject.name, subject.version)["markdown"]


def _audit(svc: Services, subject: Subject, gates: list[Any]) -> list[Any]:
    """Entries on the version and its model or prompt, and the checks of gates for it."""
    kind = "model" if subject.kind == "model" else "prompt"
    refs = [subject.ref, f"{kind}:{subject.name}"]
    entries = [e for ref in refs for e in svc.audit.log(object=ref, limit=500)]
    for gate in sorted({g.gate for g in gates}):
        checks = svc.audit.log(object=f"gate:{gate}", action="gate.check", limit=500)
        entries += [e for e in checks if e.changes.get("subject") == subject.ref]
    return sorted({e.seq: e for e in entries}.values(), key=lambda e: e.seq)
