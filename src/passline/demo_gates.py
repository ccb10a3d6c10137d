"""The gates part of ``passline demo``: a release gate on the retail forecast, and a
maturity scorecard per demo project.

The gate ``retail-demand/release`` asks for the training data, the MAE bound, an approval by
someone other than the author, a complete model card and a rollback rehearsed in under a
minute; the production policy names it. Alice's promotion is refused (the rollback was never
rehearsed), she rehearses one on the ``rehearsal`` alias, and the promotion goes through
with the gate's evidence. The scorecards are written as Markdown and HTML under the home.
"""

from __future__ import annotations

from pathlib import Path

from passline.errors import PasslineError, PermissionDenied
from passline.services.maturity import render_html, render_markdown
from passline.services.workspace import Services, Workspace

__all__ = ["GATE", "gates_demo"]

PROJECT = "retail-demand"
MODEL = "retail-demand/demand-forecast"
GATE = [
    {"type": "training_data_recorded"},
    {"type": "metric", "name": "mae", "op": "<=", "threshold": 40.0},
    {"type": "approved_by_non_author"},
    {"type": "model_card_complete"},
    {"type": "rollback_rehearsed", "max_seconds": 60},
]


def gates_demo(workspace: Workspace, admin: Services, home: Path) -> list[str]:
    """Gate the retail forecast's promotion; score every demo project. Summary lines."""
    lines = _retail_gate(workspace, admin)
    return lines + _scorecards(admin, Path(home) / "maturity")


def _retail_gate(workspace: Workspace, admin: Services) -> list[str]:
    try:
        version = admin.registry.version(MODEL, "production").version
    except PasslineError:
        return ["gate:      skipped (the retail forecast is not in production)"]
    from passline.demo_models import _as

    alice = _as(workspace, "alice")
    admin.gates.create(PROJECT, "release", GATE, "what the forecast needs in production", True)
    policy = next(p for p in admin.registry.policies(PROJECT) if p.alias == "production")
    checks = [c for c in policy.checks if c.get("name") != "gate"]
    admin.registry.set_policy(
        PROJECT,
        "production",
        policy.require_approval,
        [*checks, {"name": "gate", "gate": f"{PROJECT}/release"}],
    )
    lines = []
    try:
        alice.registry.promote(MODEL, version, reason="re-release behind the gate")
    except PermissionDenied as exc:
        failing = exc.message.split("gate retail-demand/release fails: ")[-1].split(" (")[0]
        lines.append(f"gate:      {MODEL} v{version} blocked by {PROJECT}/release: {failing}")
        _rehearse_rollback(alice, version)
        alice.registry.promote(MODEL, version, reason="gate passes: rollback rehearsed")
    latest = admin.gates.evaluations(PROJECT, "release", limit=1)[0]
    rollback = next(r for r in latest.results if r["type"] == "rollback_rehearsed")
    lines.append(
        f"gate:      {PROJECT}/release passes for v{version} ({rollback['message']}); "
        f"promoted, evaluation {latest.id}"
    )
    return lines


def _rehearse_rollback(alice: Services, version: int) -> None:
    """Move ``rehearsal`` to another version and back to ``version``, then roll back: the
    registry times the rollback."""
    others = [v.version for v in alice.registry.versions(MODEL) if v.version != version]
    if not others:
        from passline.demo_models import _train_demand

        others = [_train_demand(alice, MODEL).version]
    alice.registry.set_alias(MODEL, "rehearsal", version, "rollback rehearsal")
    alice.registry.set_alias(MODEL, "rehearsal", others[-1], "rollback rehearsal")
    alice.registry.rollback(MODEL, "rehearsal", "rollback rehearsal")


def _scorecards(admin: Services, folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for project in admin.projects.list():
        card = admin.maturity.scorecard(project.name)
        (folder / f"{project.name}.md").write_text(render_markdown(card), "utf-8")
        (folder / f"{project.name}.html").write_text(render_html(card), "utf-8")
        levels = ", ".join(
            f"{name} {level['level']}/4" for name, level in _titled(card["levels"]).items()
        )
        lines.append(f"maturity:  {project.name}: {levels} ({folder}/{project.name}.html)")
    return lines


def _titled(levels: dict) -> dict:
    names = {"devops": "DevOps", "mlops": "MLOps", "llmops": "LLMOps"}
    return {names[k]: v for k, v in levels.items()}
