"""The maturity scorecard: DevOps, MLOps and LLMOps levels computed from what the platform
holds, and the PM's questions answered from it ("unknown — ask the team" where it cannot).

Every fact is one grouped query over the projects in scope (never a loop of queries over
models or prompts), so a scorecard costs the same few queries for 5 models or 5,000.
A level is the share of its signals that are met, on a 0-4 scale; the signals are listed
beside it so the level can be argued with.
"""

from __future__ import annotations

import html
import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.roles import Role
from passline.services.base import BaseService
from passline.store.models import (
    AliasMoveRow,
    EndpointRow,
    FeedbackRow,
    GuardPolicyRow,
    MembershipRow,
    ModelAliasRow,
    ModelVersionRow,
    MonitorRow,
    PredictionSummaryRow,
    ProjectRow,
    PromptApprovalRow,
    PromptLabelRow,
    PromptRow,
    PromptVersionRow,
    RegisteredModelRow,
    ReleasePolicyRow,
    TraceRow,
    UserRow,
)
from passline.store.models_eval import EvalRunRow
from passline.store.models_gates import GateRow
from passline.store.models_redteam import RedteamRunRow

__all__ = ["UNKNOWN", "MaturityService", "render_html", "render_markdown"]

UNKNOWN = "unknown — ask the team"
LEVELS = ["none", "initial", "repeatable", "managed", "optimised"]
DRIFT_METRICS = {"drift_share", "prediction_drift"}
RECENT = timedelta(days=30)


class MaturityService(BaseService):
    def scorecard(self, project: str | None = None) -> dict[str, Any]:
        """Levels, their signals, the facts behind them and the PM's questions answered."""
        with self.db.read() as session:
            ids = self._scope(session, project)
            facts = _facts(session, ids) if ids else _facts_empty()
        facts["logs"] = (
            str(self.ws.settings.home) if facts["endpoints"] or facts["traces"] else None
        )
        levels = {
            "devops": _level(_devops(facts)),
            "mlops": _level(_mlops(facts)),
            "llmops": _level(_llmops(facts)),
        }
        return {
            "scope": project or "workspace",
            "projects": len(ids),
            "generated_at": utcnow().isoformat(),
            "levels": levels,
            "facts": facts,
            "questions": _questions(facts),
        }

    def block_map(self, project: str) -> dict[str, Any]:
        """The five-block map of ``project``: what each block really uses and the links
        between blocks that exist (see ``passline.services.block_map``)."""
        from passline.services.block_map import block_facts

        with self.db.read() as session:
            row = self._require(session, project, Role.VIEWER, "read the block map")
            found = block_facts(session, row, self.db.dialect)
        return {"project": row.name, "generated_at": utcnow().isoformat(), **found}

    def _scope(self, session: Session, project: str | None) -> list[str]:
        if project:
            return [self._require(session, project, Role.VIEWER, "read the scorecard").id]
        if self.ctx.actor.is_admin:
            return list(session.execute(select(ProjectRow.id)).scalars())
        return list(
            session.execute(
                select(MembershipRow.project_id).where(
                    MembershipRow.user_id == self.ctx.actor.user_id
                )
            ).scalars()
        )


# -- facts: one query each, over every project in scope ------------------------------------


def _facts_empty() -> dict[str, Any]:
    return _facts(None, [])


def _facts(session: Session | None, ids: list[str]) -> dict[str, Any]:
    def rows(query: Any) -> list[Any]:
        return list(session.execute(query).all()) if session is not None and ids else []

    versions = rows(
        select(ModelVersionRow.model_id, ModelVersionRow.dataset_versions)
        .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.model_id)
        .where(RegisteredModelRow.project_id.in_(ids))
    )
    models = {m for m, _ in versions}
    with_lineage = {m for m, d in versions if d}
    model_count = rows(select(func.count()).where(RegisteredModelRow.project_id.in_(ids)))
    aliases = rows(
        select(ModelAliasRow.alias)
        .join(RegisteredModelRow, RegisteredModelRow.id == ModelAliasRow.model_id)
        .where(RegisteredModelRow.project_id.in_(ids))
        .distinct()
    )
    moves = rows(
        select(AliasMoveRow.kind, AliasMoveRow.evidence, AliasMoveRow.at, UserRow.kind)
        .join(RegisteredModelRow, RegisteredModelRow.id == AliasMoveRow.model_id)
        .outerjoin(UserRow, UserRow.name == AliasMoveRow.actor)
        .where(RegisteredModelRow.project_id.in_(ids))
    )
    rollbacks = [
        float(e["duration_ms"]) / 1000
        for k, e, _, _ in moves
        if k == "rollback" and isinstance((e or {}).get("duration_ms"), int | float)
    ]
    releases = [(k, actor_kind) for k, _, _, actor_kind in moves if k in ("set", "promote")]
    policies = rows(
        select(ReleasePolicyRow.alias, ReleasePolicyRow.checks).where(
            ReleasePolicyRow.project_id.in_(ids)
        )
    )
    endpoints = rows(select(EndpointRow.id).where(EndpointRow.project_id.in_(ids)))
    since = utcnow() - timedelta(days=7)
    with_traffic = rows(
        select(PredictionSummaryRow.endpoint_id)
        .join(EndpointRow, EndpointRow.id == PredictionSummaryRow.endpoint_id)
        .where(EndpointRow.project_id.in_(ids), PredictionSummaryRow.minute >= since)
        .distinct()
    )
    monitors = rows(
        select(
            MonitorRow.endpoint_id, MonitorRow.rule, MonitorRow.action, MonitorRow.webhook_url
        ).where(MonitorRow.project_id.in_(ids), MonitorRow.enabled.is_(True))
    )
    prompts = rows(
        select(PromptRow.id, PromptRow.name, ProjectRow.name, func.count(PromptVersionRow.id))
        .join(ProjectRow, ProjectRow.id == PromptRow.project_id)
        .outerjoin(PromptVersionRow, PromptVersionRow.prompt_id == PromptRow.id)
        .where(PromptRow.project_id.in_(ids))
        .group_by(PromptRow.id, PromptRow.name, ProjectRow.name)
    )
    prompt_labels = rows(
        select(PromptLabelRow.label)
        .join(PromptRow, PromptRow.id == PromptLabelRow.prompt_id)
        .where(PromptRow.project_id.in_(ids))
        .distinct()
    )
    prompt_approvers = rows(
        select(PromptApprovalRow.approver)
        .join(PromptVersionRow, PromptVersionRow.id == PromptApprovalRow.version_id)
        .join(PromptRow, PromptRow.id == PromptVersionRow.prompt_id)
        .where(PromptRow.project_id.in_(ids))
        .distinct()
    )
    evals = rows(
        select(EvalRunRow.target, EvalRunRow.aggregates, EvalRunRow.created_by).where(
            EvalRunRow.project_id.in_(ids), EvalRunRow.status == "completed"
        )
    )
    redteam = rows(
        select(RedteamRunRow.started_at, RedteamRunRow.attempts, RedteamRunRow.successes)
        .where(RedteamRunRow.project_id.in_(ids), RedteamRunRow.status == "completed")
        .order_by(RedteamRunRow.started_at.desc())
        .limit(1)
    )
    feedback = rows(
        select(func.count(FeedbackRow.id))
        .join(TraceRow, TraceRow.id == FeedbackRow.trace_id)
        .where(TraceRow.project_id.in_(ids))
    )
    traces = rows(select(func.count(TraceRow.id)).where(TraceRow.project_id.in_(ids)))
    guards = rows(select(GuardPolicyRow.policy).where(GuardPolicyRow.project_id.in_(ids)))
    gates = rows(select(func.count(GateRow.id)).where(GateRow.project_id.in_(ids)))

    evaluated = {_prompt_name(t) for t, _, _ in evals} - {""}
    prompt_names = {f"{p}/{n}" for _, n, p, _ in prompts}
    guard_types = sorted(
        {g.get("type", "?") for (p,) in guards for s in ("input", "output") for g in p.get(s) or []}
    )
    latest_rt = redteam[0] if redteam else None
    return {
        "models": model_count[0][0] if model_count else 0,
        "models_with_versions": len(models),
        "models_with_lineage": len(with_lineage),
        "environments": sorted({a for (a,) in aliases}),
        "releases": len(releases),
        "automated_releases": sum(1 for _, kind in releases if kind and kind != "user"),
        "rollbacks_measured": len(rollbacks),
        "rollback_seconds": round(statistics.mean(rollbacks), 3) if rollbacks else None,
        "release_policies": len(policies),
        "policies_with_gates": sum(
            1 for _, checks in policies if any(c.get("name") == "gate" for c in checks or [])
        ),
        "gates": gates[0][0] if gates else 0,
        "endpoints": len(endpoints),
        "endpoints_with_traffic": len(with_traffic),
        "monitored_endpoints": len({e for e, _, _, _ in monitors}),
        "drift_monitors": sum(1 for _, r, _, _ in monitors if r.get("metric") in DRIFT_METRICS),
        "incident_routes": sorted(
            {
                ("automatic rollback" if a == "rollback" else "webhook")
                for _, _, a, w in monitors
                if w or a == "rollback"
            }
        ),
        "prompts": len(prompts),
        "prompt_versions": sum(n for *_, n in prompts),
        "prompt_labels": sorted({label for (label,) in prompt_labels}),
        "prompt_approvers": sorted({a for (a,) in prompt_approvers}),
        "evaluation_runs": len(evals),
        "prompts_evaluated": len(prompt_names & evaluated),
        "scorers": sorted({s for _, agg, _ in evals for s in (agg or {}).get("scorers", {})}),
        "faithfulness": _latest_mean(evals, ("faithfulness", "groundedness")),
        "redteam_last": as_utc(latest_rt[0]).isoformat() if latest_rt else None,
        "redteam_asr": (latest_rt[2] / latest_rt[1]) if latest_rt and latest_rt[1] else None,
        "feedback": feedback[0][0] if feedback else 0,
        "traces": traces[0][0] if traces else 0,
        "guard_policies": len(guards),
        "guard_types": guard_types,
        "pii_guarded": sum(
            1
            for (p,) in guards
            if any(g.get("type") == "pii" for s in ("input", "output") for g in p.get(s) or [])
        ),
        "trace_content": sorted({p.get("content", "redacted") for (p,) in guards}),
    }


def _prompt_name(target: dict[str, Any]) -> str:
    return str(target.get("prompt") or "").removeprefix("prompt:").split("@")[0]


def _latest_mean(evals: list[Any], names: tuple[str, ...]) -> float | None:
    for _, agg, _ in reversed(evals):
        for name in names:
            mean = ((agg or {}).get("scorers", {}).get(name) or {}).get("mean")
            if mean is not None:
                return float(mean)
    return None


# -- levels --------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _signal(name: str, met: bool, value: Any) -> dict[str, Any]:
    return {"signal": name, "met": bool(met), "value": value}


def _devops(f: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _signal("models versioned in the registry", f["models_with_versions"], f["models"]),
        _signal(
            "two or more environments (aliases)", len(f["environments"]) >= 2, f["environments"]
        ),
        _signal("release policies on aliases", f["release_policies"], f["release_policies"]),
        _signal("rollback measured", f["rollbacks_measured"], f["rollback_seconds"]),
        _signal("automated releases", f["automated_releases"], f["automated_releases"]),
        _signal(
            "alerts routed (webhook or auto-rollback)", f["incident_routes"], f["incident_routes"]
        ),
    ]


def _mlops(f: dict[str, Any]) -> list[dict[str, Any]]:
    lineage = _share(f["models_with_lineage"], f["models"])
    monitored = _share(f["endpoints_with_traffic"], f["endpoints"])
    return [
        _signal("models with lineage to data (>= 80%)", lineage >= 0.8, round(lineage, 2)),
        _signal("endpoints with monitored traffic (>= 50%)", monitored >= 0.5, round(monitored, 2)),
        _signal("drift monitors", f["drift_monitors"], f["drift_monitors"]),
        _signal("monitors on endpoints", f["monitored_endpoints"], f["monitored_endpoints"]),
        _signal("release gates", f["gates"], f["gates"]),
        _signal("policies reference gates", f["policies_with_gates"], f["policies_with_gates"]),
    ]


def _llmops(f: dict[str, Any]) -> list[dict[str, Any]]:
    coverage = _share(f["prompts_evaluated"], f["prompts"])
    recent = (
        f["redteam_last"] is not None
        and utcnow() - datetime.fromisoformat(f["redteam_last"]) <= RECENT
    )
    return [
        _signal("versioned prompts", f["prompts"], f["prompt_versions"]),
        _signal("evaluation coverage of prompts (>= 50%)", coverage >= 0.5, round(coverage, 2)),
        _signal("red team in the last 30 days", recent, f["redteam_last"]),
        _signal("user feedback recorded", f["feedback"], f["feedback"]),
        _signal("PII guard policies", f["pii_guarded"], f["pii_guarded"]),
        _signal("traces recorded", f["traces"], f["traces"]),
    ]


def _level(signals: list[dict[str, Any]]) -> dict[str, Any]:
    met = sum(s["met"] for s in signals)
    level = round(4 * met / len(signals))
    return {
        "level": level,
        "name": LEVELS[level],
        "met": met,
        "of": len(signals),
        "signals": signals,
    }


# -- the PM's questions ---------------------------------------------------------------------


def _answer(area: str, question: str, answer: str | None) -> dict[str, str]:
    return {
        "area": area,
        "question": question,
        "answer": answer or UNKNOWN,
        "source": "platform" if answer else "team",
    }


def _questions(f: dict[str, Any]) -> list[dict[str, str]]:
    envs = f["environments"] + [x for x in f["prompt_labels"] if x not in f["environments"]]
    manual = f["releases"] - f["automated_releases"]
    return [
        _answer(
            "devops",
            "How many environments are there?",
            f"{len(envs)}: {', '.join(envs)} (model aliases and prompt labels)" if envs else None,
        ),
        _answer(
            "devops",
            "Are releases manual or automated?",
            f"{manual} manual and {f['automated_releases']} automated (by service accounts) "
            f"of {f['releases']} releases"
            if f["releases"]
            else None,
        ),
        _answer(
            "devops",
            "Where are the logs?",
            f"prediction logs and traces in the Passline workspace at {f['logs']}"
            if f["logs"]
            else None,
        ),
        _answer(
            "devops",
            "How long does a rollback take?",
            f"{f['rollback_seconds']:.3f} s on average over {f['rollbacks_measured']} measured "
            "rollback(s)"
            if f["rollback_seconds"] is not None
            else None,
        ),
        _answer(
            "devops",
            "Who handles incidents?",
            "alerts go to: " + ", ".join(f["incident_routes"]) + " (who is on call is not recorded)"
            if f["incident_routes"]
            else None,
        ),
        _answer(
            "genai",
            "What can the model fabricate?",
            f"latest measured faithfulness {f['faithfulness']:.2f}"
            if f["faithfulness"] is not None
            else None,
        ),
        _answer(
            "genai",
            "Who checks the answers?",
            "prompt approvers: "
            + ", ".join(f["prompt_approvers"])
            + (f"; {f['evaluation_runs']} evaluation run(s)" if f["evaluation_runs"] else "")
            if f["prompt_approvers"]
            else None,
        ),
        _answer(
            "genai",
            "Is the prompt versioned?",
            f"yes: {f['prompts']} prompt(s), {f['prompt_versions']} version(s)"
            if f["prompts"]
            else None,
        ),
        _answer(
            "genai",
            "Is there content filtering?",
            f"{f['guard_policies']} guard policy(ies): " + ", ".join(f["guard_types"])
            if f["guard_policies"]
            else None,
        ),
        _answer(
            "genai",
            "Do the logs capture sensitive data?",
            "traces store "
            + " / ".join(f["trace_content"])
            + " content"
            + (f"; {f['pii_guarded']} policy(ies) redact PII" if f["pii_guarded"] else "")
            if f["guard_policies"]
            else None,
        ),
        _answer(
            "genai",
            "Can users give feedback?",
            f"yes: {f['feedback']} feedback item(s) recorded" if f["feedback"] else None,
        ),
        _answer(
            "genai",
            "Which quality metrics are used?",
            ", ".join(f["scorers"]) if f["scorers"] else None,
        ),
    ]


# -- rendering -----------------------------------------------------------------------------


def render_markdown(card: dict[str, Any]) -> str:
    lines = [f"# Maturity scorecard: {card['scope']}", "", f"Generated {card['generated_at']}.", ""]
    lines += ["| Practice | Level | Signals met |", "|---|---|---|"]
    for name, level in card["levels"].items():
        score = f"{level['level']}/4 ({level['name']})"
        lines.append(f"| {_title(name)} | {score} | {level['met']}/{level['of']} |")
    for name, level in card["levels"].items():
        lines += ["", f"## {_title(name)}", ""]
        lines += [
            f"- [{'x' if s['met'] else ' '}] {s['signal']} ({_value(s['value'])})"
            for s in level["signals"]
        ]
    lines += ["", "## Questions", ""]
    lines += [f"- **{q['question']}** {q['answer']}" for q in card["questions"]]
    return "\n".join(lines) + "\n"


def render_html(card: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{_title(n)}</td><td>{lv['level']}/4 ({e(lv['name'])})</td>"
        f"<td><meter min='0' max='4' value='{lv['level']}'></meter></td>"
        f"<td>{lv['met']}/{lv['of']}</td></tr>"
        for n, lv in card["levels"].items()
    )
    signals = "".join(
        f"<h2>{_title(n)}</h2><ul>"
        + "".join(
            f"<li>{'&#10003;' if s['met'] else '&#10007;'} {e(s['signal'])} "
            f"({e(_value(s['value']))})</li>"
            for s in lv["signals"]
        )
        + "</ul>"
        for n, lv in card["levels"].items()
    )
    questions = "".join(
        f"<dt>{e(q['question'])}</dt><dd class='{q['source']}'>{e(q['answer'])}</dd>"
        for q in card["questions"]
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Maturity scorecard: {e(card['scope'])}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td{padding:.2em 1em}.team{color:#a40}</style></head><body>"
        f"<h1>Maturity scorecard: {e(card['scope'])}</h1>"
        f"<p>Generated {e(card['generated_at'])}.</p>"
        f"<table><tr><th>Practice</th><th>Level</th><th></th><th>Signals</th></tr>{rows}</table>"
        f"{signals}<h2>Questions</h2><dl>{questions}</dl></body></html>\n"
    )


def _title(name: str) -> str:
    return {"devops": "DevOps", "mlops": "MLOps", "llmops": "LLMOps"}[name]


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return "none" if value is None else str(value)
