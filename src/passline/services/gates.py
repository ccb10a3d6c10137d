"""Release gates: named lists of criteria, checked against the platform's real state.

A check reads the registry, tracking, datasets, serving, monitoring, evaluation, red
teaming and LLM ops through their services (as the caller, so a gate never shows what the
caller may not read), and stores one evaluation with a status per criterion:

- ``pass``: the evidence is there and meets the threshold;
- ``fail``: the evidence is there and does not;
- ``missing_evidence``: there is nothing to judge by (no such metric, no endpoint, no run).

A release policy names a gate with the ``gate`` release check, so an alias (or a prompt
label) does not move until the gate passes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from passline.core.clock import as_utc, utcnow
from passline.core.entities import Entity
from passline.core.ids import new_id
from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound, PasslineError
from passline.gates import criteria as C
from passline.gates.acceptance import acceptance_criteria, as_gate_yaml, as_markdown
from passline.gates.entities import Gate, GateEvaluation
from passline.services.base import BaseService
from passline.services.release_checks import CheckResult, release_check
from passline.store.models import ProjectRow
from passline.store.models_gates import GateEvaluationRow, GateRow

__all__ = ["GateService", "Subject", "split_gate"]

PASS, FAIL, MISSING = "pass", "fail", "missing_evidence"
OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


class Subject(Entity):
    """What a gate is checked for: a model version or a prompt version, read once."""

    kind: str  # model | prompt
    ref: str
    label: str  # project/name/vN or project/name@N
    project: str
    name: str  # project/name
    version: int
    author: str
    approvals: list[dict[str, Any]] = []
    metrics: dict[str, Any] = {}
    dataset_versions: list[str] = []
    run_id: str | None = None


def _result(status: str, message: str, evidence: list[str] | None = None, **details: Any) -> dict:
    return {"status": status, "message": message, "evidence": evidence or [], "details": details}


def split_gate(gate: str) -> tuple[str, str]:
    project, sep, name = gate.partition("/")
    if not sep or not project or not name or "/" in name:
        raise InvalidInput(f"A gate is named PROJECT/NAME. Got {gate!r} instead.")
    return project, name


class GateService(BaseService):
    # -- definitions ---------------------------------------------------------------------

    def create(
        self,
        project: str,
        name: str,
        criteria: list[dict[str, Any]],
        description: str = "",
        replace: bool = False,
    ) -> Gate:
        """Define (or, with ``replace``, redefine) a gate; criteria are validated first."""
        checked = [
            c.model_dump(exclude_defaults=True) | {"type": c.type}
            for c in C.parse_criteria(criteria)
        ]
        if not name or "/" in name:
            raise InvalidInput(f"A gate name is one path segment. Got {name!r} instead.")
        with self.db.write() as session:
            prj = self._require(session, project, Role.ADMIN, "define release gates")
            row = self._row(session, prj.id, name)
            if row is not None and not replace:
                raise Conflict(
                    f"Gate {project}/{name} already exists.",
                    hint="Pass --replace to redefine it.",
                )
            before = row.criteria if row else None
            if row is None:
                row = GateRow(
                    id=new_id("gat"),
                    project_id=prj.id,
                    name=name,
                    created_by=self.actor_name,
                    created_at=utcnow(),
                )
                session.add(row)
            row.criteria, row.description, row.updated_at = checked, description, utcnow()
            self._audit(
                session,
                "gate.define",
                f"gate:{project}/{name}",
                project,
                {"from": before, "to": checked, "description": description},
            )
            session.flush()
            return _gate(row, project)

    def _row(self, session: Any, project_id: str, name: str) -> GateRow | None:
        return session.execute(
            select(GateRow).where(GateRow.project_id == project_id, GateRow.name == name)
        ).scalar_one_or_none()

    def _get_row(self, session: Any, project: str, name: str) -> tuple[GateRow, str]:
        prj = self._require(session, project, Role.VIEWER, "read release gates")
        row = self._row(session, prj.id, name)
        if row is None:
            raise NotFound(
                f"No gate {project}/{name}.",
                hint=f"List them with 'passline gate list {project}'.",
            )
        return row, project

    def get(self, project: str, name: str) -> Gate:
        with self.db.read() as session:
            row, project = self._get_row(session, project, name)
            return _gate(row, project)

    def list(self, project: str) -> list[Gate]:
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "read release gates")
            rows = session.execute(
                select(GateRow).where(GateRow.project_id == prj.id).order_by(GateRow.name)
            ).scalars()
            return [_gate(r, project) for r in rows]

    def types(self) -> list[dict[str, Any]]:
        """Every criterion type with its parameters and their defaults."""
        return C.catalogue()

    def acceptance(self, genai: bool = False, feature: str = "the AI feature") -> dict[str, Any]:
        """The AI acceptance criteria (Given/When/Then), as Markdown and as a gate file."""
        found = acceptance_criteria(genai)
        return {
            "criteria": [c.to_dict() for c in found],
            "markdown": as_markdown(found, feature),
            "gate_yaml": as_gate_yaml(found),
        }

    # -- checks --------------------------------------------------------------------------

    def subject(self, target: str) -> Subject:
        """``P/N@V`` or ``model:P/N@V`` (a model version), ``prompt:P/N@V`` (a prompt's)."""
        kind, sep, rest = target.partition(":")
        if not sep:
            kind, rest = "model", target
        svc = self.ws.services(self.ctx)
        if kind == "prompt":
            v = svc.prompts.version(rest)
            project, name = v.prompt.split("/", 1)
            return Subject(
                kind="prompt",
                ref=v.ref,
                label=v.label,
                project=project,
                name=v.prompt,
                version=v.version,
                author=v.author,
                approvals=v.approvals,
                metrics=dict(v.metrics),
                dataset_versions=v.dataset_versions,
                run_id=v.run_id,
            )
        if kind != "model":
            raise InvalidInput(
                f"--for takes MODEL@VERSION, model:MODEL@VERSION or prompt:PROMPT@VERSION. "
                f"Got {target!r} instead."
            )
        model, _, version = rest.rpartition("@")
        if not model:
            model, version = rest, ""
        if not version:
            latest = svc.registry.get_model(model).latest_version
            if latest is None:
                raise NotFound(f"Model {model} has no version yet.")
            version = str(latest)
        mv = svc.registry.version(model, int(version) if version.isdigit() else version)
        return _model_subject(mv)

    def check(self, project: str, name: str, target: str | Subject) -> GateEvaluation:
        """Check every criterion of the gate for ``target``; store and audit the evaluation."""
        with self.db.read() as session:
            row, project = self._get_row(session, project, name)
            criteria, gate_id = list(row.criteria), row.id
        subject = target if isinstance(target, Subject) else self.subject(target)
        results = [
            self._one(C.parse_criterion(spec, i), subject) for i, spec in enumerate(criteria)
        ]
        passed = all(r["status"] == PASS for r in results)
        evaluation = GateEvaluationRow(
            id=new_id("gev"),
            gate_id=gate_id,
            subject_ref=subject.ref,
            subject_label=subject.label,
            passed=passed,
            criteria=criteria,
            results=results,
            actor=self.actor_name,
            at=utcnow(),
        )
        with self.db.write() as session:
            session.add(evaluation)
            self._audit(
                session,
                "gate.check",
                f"gate:{project}/{name}",
                project,
                {
                    "subject": subject.ref,
                    "label": subject.label,
                    "passed": passed,
                    "statuses": [r["status"] for r in results],
                    "evaluation": evaluation.id,
                },
            )
            session.flush()
            return _evaluation(evaluation, f"{project}/{name}")

    def evaluations(self, project: str, name: str, limit: int = 20) -> list[GateEvaluation]:
        """The gate's evaluations, newest first."""
        with self.db.read() as session:
            row, project = self._get_row(session, project, name)
            rows = session.execute(
                select(GateEvaluationRow)
                .where(GateEvaluationRow.gate_id == row.id)
                .order_by(GateEvaluationRow.at.desc(), GateEvaluationRow.id.desc())
                .limit(limit)
            ).scalars()
            return [_evaluation(r, f"{project}/{row.name}") for r in rows]

    def audit_pack(self, target: str) -> dict[str, Any]:
        """What a regulator asks about a model or prompt version, as one JSON document
        (``passline audit pack`` writes it with its HTML and digest); audited."""
        from passline.services.audit_pack import collect_pack

        subject = self.subject(target)
        pack = collect_pack(self.ws.services(self.ctx), subject)
        with self.db.write() as session:
            self._audit(session, "audit.pack", subject.ref, subject.project, {})
        return pack

    def evaluations_for(self, subject_ref: str) -> list[GateEvaluation]:
        """Every stored gate evaluation of one subject, newest first (the audit pack's)."""
        with self.db.read() as session:
            rows = session.execute(
                select(GateEvaluationRow, GateRow.name, GateRow.project_id, ProjectRow.name)
                .join(GateRow, GateRow.id == GateEvaluationRow.gate_id)
                .join(ProjectRow, ProjectRow.id == GateRow.project_id)
                .where(GateEvaluationRow.subject_ref == subject_ref)
                .order_by(GateEvaluationRow.at.desc())
            ).all()
            return [
                _evaluation(r, f"{p}/{n}")
                for r, n, pid, p in rows
                if self._role_in(session, pid) is not None
            ]

    def _one(self, criterion: C.Criterion, subject: Subject) -> dict[str, Any]:
        check = getattr(self, f"_check_{criterion.type}")
        try:
            result = check(criterion, subject)
        except NotFound as exc:  # the object the criterion reads is not there: no evidence
            result = _result(MISSING, str(exc))
        except PasslineError as exc:
            result = _result(MISSING, f"could not be read: {exc}")
        return {"type": criterion.type, "criterion": C.describe(criterion), **result}

    # -- one method per criterion type ---------------------------------------------------

    def _check_training_data_recorded(self, c: C.TrainingDataRecorded, s: Subject) -> dict:
        if not s.dataset_versions:
            return _result(MISSING, f"{s.label} records no training dataset version")
        evidence = [self._dataset_ref(d) for d in s.dataset_versions]
        if not c.quality_checks:
            return _result(PASS, "trained on " + ", ".join(s.dataset_versions), evidence)
        datasets = self.ws.services(self.ctx).datasets
        quality = [(d, datasets.version(d).quality) for d in s.dataset_versions]
        if not any(results for _, results in quality):
            return _result(MISSING, "no quality checks ran on the training data", evidence)
        failed = [
            f"{d}: {r.get('message') or r.get('type')}"
            for d, results in quality
            for r in results
            if r.get("passed") is False and r.get("level", "error") != "warning"
        ]
        if failed:
            return _result(FAIL, "quality checks fail: " + "; ".join(failed), evidence)
        checked = sum(len(results) for _, results in quality)
        return _result(PASS, f"{checked} quality check(s) pass on the training data", evidence)

    def _dataset_ref(self, label: str) -> str:
        try:
            return self.ws.services(self.ctx).datasets.version(label).ref
        except PasslineError:  # deleted or unreadable: the label is still evidence
            return f"dataset_version:{label}"

    def _check_approved_by_non_author(self, c: C.ApprovedByNonAuthor, s: Subject) -> dict:
        approvers = sorted({a["approver"] for a in s.approvals if a["approver"] != s.author})
        if len(approvers) >= c.min_approvals:
            return _result(
                PASS, "approved by " + ", ".join(approvers), [s.ref], approvers=approvers
            )
        status = FAIL if s.approvals else MISSING
        return _result(
            status,
            f"{len(approvers)} approval(s) by someone other than the author {s.author} "
            f"(needs {c.min_approvals})",
        )

    def _check_metric(self, c: C.Metric, s: Subject) -> dict:
        evidence = [f"run:{s.run_id}"] if s.run_id else []
        if c.dataset and not any(d.startswith(c.dataset) for d in s.dataset_versions):
            return _result(MISSING, f"{s.label} has no metric measured on {c.dataset}", evidence)
        value = s.metrics.get(c.name)
        if not isinstance(value, int | float):
            known = ", ".join(sorted(s.metrics)) or "none"
            return _result(
                MISSING, f"{s.label} has no metric {c.name!r} (it has {known})", evidence
            )
        ok = OPS[c.op](float(value), c.threshold)
        return _result(
            PASS if ok else FAIL,
            f"{c.name} = {value:g} (needs {c.op} {c.threshold:g})",
            evidence,
            value=value,
        )

    def _endpoints(self, s: Subject, name: str | None) -> list[Any]:
        svc = self.ws.services(self.ctx)
        if name:
            return [svc.endpoints.get(name)]
        return [e for e in svc.endpoints.list(s.project) if e.model == s.name]

    def _check_no_drift(self, c: C.NoDrift, s: Subject) -> dict:
        endpoints = self._endpoints(s, c.endpoint)
        if not endpoints:
            return _result(MISSING, f"no endpoint serves {s.name}")
        svc = self.ws.services(self.ctx)
        drifted, evidence, rows = [], [], 0
        for e in endpoints:
            report = svc.drift.endpoint_drift(
                f"{e.project}/{e.name}", c.window, reference=c.reference
            )
            evidence.append(e.ref)
            rows += report.get("rows", 0)
            if report.get("drifted"):
                drifted.append(f"{e.project}/{e.name}")
        if not rows:
            return _result(MISSING, f"no traffic in the last {c.window} to compare", evidence)
        if drifted:
            return _result(FAIL, "drift on " + ", ".join(drifted), evidence)
        return _result(PASS, f"no drift over {rows:,} rows in {c.window}", evidence, rows=rows)

    def _check_dashboard_traffic(self, c: C.DashboardTraffic, s: Subject) -> dict:
        endpoints = self._endpoints(s, c.endpoint)
        if not endpoints:
            return _result(MISSING, f"no endpoint serves {s.name}")
        svc = self.ws.services(self.ctx)
        minutes, requests, errors, evidence = 0, 0, 0, []
        for e in endpoints:
            board = svc.monitoring.dashboard(f"{e.project}/{e.name}", c.window)
            evidence.append(e.ref)
            series = [
                m
                for m in board["series"]
                if m["requests"]
                and m["p95_ms"] is not None
                and (c.role == "any" or m["role"] == c.role)
                and m.get("version") in (None, s.version)
            ]
            minutes += len({m["minute"] for m in series})
            requests += sum(m["requests"] for m in series)
            errors += sum(m["errors"] for m in series)
        role = "" if c.role == "any" else f"{c.role} "
        if not minutes:
            return _result(MISSING, f"no {role}traffic of v{s.version} in {c.window}", evidence)
        rate = errors / requests if requests else 0.0
        message = (
            f"{minutes} minute(s) of {role}traffic with latency and error metrics "
            f"({requests:,} requests, error rate {rate:.1%}); needs {c.minutes}"
        )
        ok = minutes >= c.minutes and (c.max_error_rate is None or rate <= c.max_error_rate)
        return _result(PASS if ok else FAIL, message, evidence, minutes=minutes, error_rate=rate)

    def _check_rollback_rehearsed(self, c: C.RollbackRehearsed, s: Subject) -> dict:
        if s.kind == "prompt":
            moves = self.ws.services(self.ctx).prompts.history(s.name)
            timed = [(m, None) for m in moves if m.kind == "rollback"]
        else:
            moves = self.ws.services(self.ctx).registry.history(s.name)
            timed = [(m, m.evidence.get("duration_ms")) for m in moves if m.kind == "rollback"]
        if not timed:
            return _result(MISSING, f"{s.name} has never been rolled back (no rehearsal)")
        measured = [(m, d) for m, d in timed if isinstance(d, int | float)]
        if not measured:
            return _result(FAIL, "rolled back, but no rollback was timed", [])
        move, best = min(measured, key=lambda item: item[1])
        seconds = best / 1000
        ok = seconds <= c.max_seconds
        return _result(
            PASS if ok else FAIL,
            f"rollback of {move.alias} measured at {seconds:.3f} s (needs <= {c.max_seconds:g} s)",
            [f"alias_move:{move.id}"],
            seconds=seconds,
        )

    def _check_model_card_complete(self, c: C.ModelCardComplete, s: Subject) -> dict:
        if s.kind != "model":
            return _result(MISSING, "a prompt version has no model card")
        model = self.ws.services(self.ctx).registry.get_model(s.name)
        values = {"description": model.description, "owner": model.owner, **model.intended_use}
        empty = [f for f in c.fields if not str(values.get(f) or "").strip()]
        evidence = [model.ref]
        if empty:
            return _result(FAIL, "model card lacks " + ", ".join(empty), evidence, missing=empty)
        return _result(PASS, "model card has " + ", ".join(c.fields), evidence)

    def _check_eval_metric(self, c: C.EvalMetric, s: Subject) -> dict:
        svc = self.ws.services(self.ctx)
        runs = svc.evaluation.runs(suite=c.suite) if c.suite else svc.evaluation.runs(s.project)
        short = f"{s.name}@{s.version}"
        mine = [
            r
            for r in runs
            if r.status == "completed"
            and (s.kind == "model" or _targets_prompt(r.target, s.name, s.version, short))
        ]
        if not mine:
            return _result(MISSING, f"no completed evaluation run of {short}")
        run = mine[0]  # newest first
        mean = (run.aggregates.get("scorers", {}).get(c.scorer) or {}).get("mean")
        if mean is None:
            return _result(
                MISSING, f"evaluation run {run.id} has no scorer {c.scorer!r}", [run.ref]
            )
        ok = mean >= c.min
        return _result(
            PASS if ok else FAIL,
            f"{c.scorer} = {mean:.3f} on {run.suite}@{run.suite_version} (needs >= {c.min:g})",
            [run.ref],
            value=mean,
        )

    def _check_attack_success_max(self, c: C.AttackSuccessMax, s: Subject) -> dict:
        runs = [
            r
            for r in self.ws.services(self.ctx).redteam.runs(s.project)
            if r.status == "completed" and r.asr is not None
        ]
        mine = [r for r in runs if s.name.split("/", 1)[1] in (r.target_label or str(r.target))]
        chosen = (mine or runs)[:1]
        if not chosen:
            return _result(MISSING, f"no completed red-team run in {s.project}")
        run = chosen[0]
        if c.max_age_days and as_utc(run.started_at) < utcnow() - timedelta(days=c.max_age_days):
            return _result(FAIL, f"the latest red-team run is older than {c.max_age_days} days")
        ok = run.asr <= c.max  # type: ignore[operator]
        return _result(
            PASS if ok else FAIL,
            f"attack success {run.asr:.0%} on {run.target_label} (needs <= {c.max:.0%})",
            [run.ref],
            value=run.asr,
        )

    def _check_pii_redaction_on(self, c: C.PiiRedactionOn, s: Subject) -> dict:
        svc = self.ws.services(self.ctx)
        app = c.app or s.name.split("/", 1)[1]
        policy = svc.guards.get_policy(s.project, app).policy
        stages = [
            stage
            for stage in ("input", "output")
            if any(g.get("type") == "pii" for g in policy.get(stage) or [])
        ]
        content = policy.get("content", "redacted")
        evidence = [f"guard_policy:{s.project}/{app}"]
        if stages and content in ("redacted", "metrics_only"):
            return _result(
                PASS, f"pii guard on {', '.join(stages)}; traces store {content}", evidence
            )
        return _result(FAIL, f"the guard policy of {app} has no pii guard", evidence)

    def _check_prompt_versioned(self, c: C.PromptVersioned, s: Subject) -> dict:
        if s.kind == "prompt" and not c.prompt:
            return _result(PASS, f"{s.label} is a registered prompt version", [s.ref])
        prompts = self.ws.services(self.ctx).prompts
        if c.prompt:
            versions = prompts.versions(c.prompt)
            return _result(
                PASS if versions else MISSING,
                f"{c.prompt} has {len(versions)} version(s)",
                [v.ref for v in versions[:1]],
            )
        found = prompts.list(s.project)
        if not found:
            return _result(MISSING, f"project {s.project} has no registered prompt")
        return _result(PASS, f"{len(found)} versioned prompt(s) in {s.project}")

    def _check_feedback_enabled(self, c: C.FeedbackEnabled, s: Subject) -> dict:
        summary = self.ws.services(self.ctx).tracing.feedback_summary(s.project)
        if s.kind == "prompt":
            summary = [
                f for f in summary if f["prompt_version"] in (s.label, f"{s.name}@{s.version}")
            ] or summary
        count = sum(f["feedback"] for f in summary)
        if not count:
            return _result(MISSING, f"no feedback recorded in {s.project}")
        ok = count >= c.min_feedback
        return _result(
            PASS if ok else FAIL, f"{count} feedback item(s) (needs {c.min_feedback})", count=count
        )


def _targets_prompt(target: dict[str, Any], name: str, version: int, short: str) -> bool:
    prompt = str(target.get("prompt") or "")
    return prompt in (short, f"prompt:{short}") or (prompt == name and version > 0)


def _model_subject(mv: Any) -> Subject:
    project, name = mv.model.split("/", 1)
    return Subject(
        kind="model",
        ref=mv.ref,
        label=mv.label,
        project=project,
        name=mv.model,
        version=mv.version,
        author=mv.author,
        approvals=mv.approvals,
        metrics=dict(mv.metrics),
        dataset_versions=mv.dataset_versions,
        run_id=mv.run_id,
    )


def _gate(row: GateRow, project: str) -> Gate:
    return Gate(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        criteria=row.criteria,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def _evaluation(row: GateEvaluationRow, gate: str) -> GateEvaluation:
    return GateEvaluation(
        id=row.id,
        gate=gate,
        subject=row.subject_ref,
        subject_label=row.subject_label,
        passed=row.passed,
        results=row.results,
        actor=row.actor,
        at=as_utc(row.at),
    )


@release_check("gate")
def gate_check(version: Any, gate: str, services: Any = None) -> CheckResult:
    """The release check a policy names (``{"name": "gate", "gate": "P/NAME"}``): the gate
    is checked for the version and the evaluation stored; failing criteria are named."""
    if services is None:
        return CheckResult("gate", False, {"gate": gate}, "the gate check needs the caller")
    if hasattr(version, "prompt"):
        subject = services.gates.subject(f"prompt:{version.prompt}@{version.version}")
    else:
        subject = _model_subject(version)
    evaluation = services.gates.check(*split_gate(gate), subject)
    failing = [f"{r['criterion']} ({r['status']}: {r['message']})" for r in evaluation.failing()]
    return CheckResult(
        "gate",
        evaluation.passed,
        {
            "gate": gate,
            "evaluation": evaluation.id,
            "failing": [r["type"] for r in evaluation.failing()],
        },
        f"gate {gate} passes" if evaluation.passed else f"gate {gate} fails: " + "; ".join(failing),
    )
