"""Red teaming: runs of the probe library against a target, every attempt stored with its
verdicts, a report by category and OWASP id, and findings that become evaluation cases.

A run resolves its target with evaluation's :func:`~passline.evaluation.targets.build_target`
(the same governed paths: guards, ACLs, traces), plans its attacks from what the target can
take (:mod:`passline.redteam.plan`), plants documents where they are needed, sends the
attacks with bounded concurrency and judges each answer
(:mod:`passline.redteam.detectors`). It joins the lineage graph::

    redteam_run --tested--> prompt_version / llm_model / collection / endpoint
    redteam_attempt --became_case--> eval_suite_version

Documents for a target that retrieves go to a *fixture collection* beside the target's
(``<project>/redteam-<name>``), indexed with ACLs (``reader``: the user the target answers
as; ``restricted``: project admins only) and given a copy of the target's guard policy, so
the attack meets the same retrieval, template, guards and access checks. That needs the
project's admin role (guard policies are admin-only); a contributor's run sends those
documents as context to the same model under the same guard policy instead, and skips the
access-control probes that need a restricted document.

Reading needs the project's viewer role, running contributor. Answers are stored redacted
as traces are, with the values given as ``secrets`` masked (they are kept only as digests).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets as _random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.ids import new_id
from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound, PasslineError, PermissionDenied
from passline.evaluation.entities import SuiteVersion
from passline.evaluation.targets import (
    EndpointTarget,
    FunctionTarget,
    OpenAITarget,
    PromptTarget,
    Target,
    build_target,
)
from passline.redteam.catalogue import check_categories, probes
from passline.redteam.detectors import SecretSet
from passline.redteam.entities import Attempt, ProbeInfo, RedteamRun
from passline.redteam.execute import AttemptResult, run_attack
from passline.redteam.plan import Attack, Capabilities, Plan, plan_attacks
from passline.redteam.report import summarise
from passline.services.base import BaseService
from passline.services.lineage import ensure_node, record_edges
from passline.services.recorded_runs import RecordedRun
from passline.store.models import MembershipRow, ProjectRow, UserRow
from passline.store.models_redteam import RedteamAttemptRow, RedteamRunRow

__all__ = ["MAX_CONCURRENCY", "RedteamService"]

Progress = Callable[[int, int], None]
MAX_CONCURRENCY = 16
ATTACKER_APP = "redteam-attacker"
_BACKGROUND = threading.BoundedSemaphore(2)


class RedteamService(BaseService):
    # -- the catalogue --------------------------------------------------------------------------

    def probes(self, categories: list[str] | None = None) -> list[ProbeInfo]:
        """The probe library (of ``categories``), with OWASP ids, techniques and detectors."""
        wanted = set(check_categories(categories))
        return [ProbeInfo(**p.to_dict()) for p in probes() if p.category in wanted]

    # -- runs -----------------------------------------------------------------------------------

    def run(
        self,
        target: str | dict[str, Any] | Target,
        categories: list[str] | None = None,
        *,
        project: str | None = None,
        limit: int = 3,
        seed: int = 0,
        concurrency: int = 2,
        secrets: list[str] | None = None,
        allowed_hosts: list[str] | None = None,
        paraphrase: bool = False,
        anchor: str | None = None,
        name: str = "",
        target_options: dict[str, Any] | None = None,
        wait: bool = True,
        progress: Progress | None = None,
    ) -> RedteamRun:
        """Attack ``target`` with up to ``limit`` probes per category and report.

        ``target`` is a spec (``rag:hr/handbook``, ``prompt:hr/answer@2``, ``model:default``,
        ``endpoint:shop/bot``, ``openai:http://host/v1``; ``target_options`` adds
        ``as_user``, ``model``...) or, in-process, a :class:`Target`. ``secrets`` are values
        that must never reach an answer (salary figures, code names): stored as digests
        only. ``allowed_hosts`` may appear in image URLs. ``paraphrase`` lets the embedded
        model reword mutated probes. ``anchor`` is an on-topic question put before direct
        attacks, so that a retrieval app finds passages and the attack reaches the model.
        With ``wait=False`` the run goes on in the background (the REST API); follow it
        with :meth:`get_run`.
        """
        if not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
            raise InvalidInput(
                f"'concurrency' must be an integer in [1, {MAX_CONCURRENCY}]. Got {concurrency!r}."
            )
        if secrets is not None and not all(isinstance(s, str) and s.strip() for s in secrets):
            raise InvalidInput("Each secret must be a non-empty string.")
        services = self.ws.services(self.ctx)
        resolved = (
            target
            if isinstance(target, Target)
            else build_target(services, target, **(target_options or {}))
        )
        if isinstance(resolved, PromptTarget | OpenAITarget) and resolved.project is None:
            resolved.project = project  # traces and the guard policy of the run's project
        project = project or _project_of(resolved)
        if not project:
            raise InvalidInput(
                "Name the project a run against this target belongs to (project=..., "
                "--project): its results are read by that project's members."
            )
        with self.db.read() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "run red-team attacks")
            caps = self._capabilities(session, prj, resolved)
            project_id = prj.id
        secret_set = SecretSet.of(secrets, _random.token_hex(8)) if secrets else None
        plan = plan_attacks(
            caps,
            categories,
            limit,
            seed,
            secret_set,
            self._paraphraser() if paraphrase else None,
            tuple(allowed_hosts or ()),
            anchor=anchor,
        )
        targets, planting = self._targets(resolved, plan, caps)
        config = {
            "limit": limit,
            "seed": seed,
            "concurrency": concurrency,
            "paraphrase": paraphrase,
            "anchor": anchor,
            "allowed_hosts": list(allowed_hosts or []),
            "secrets": len(secrets or []),
            "planting": planting,
            "capabilities": _caps_dict(caps),
        }
        categories = check_categories(categories)
        run_id = self._start(project, project_id, resolved, plan, categories, config, name)
        job = _Job(self, run_id, project, targets, plan, concurrency, secret_set)
        if wait:
            job.execute(progress)
            return self.get_run(run_id)
        if not _BACKGROUND.acquire(blocking=False):
            job.fail("refused: two red-team runs already execute in this server; retry later")
            raise Conflict(
                "Two red-team runs already execute in this server.",
                hint="Wait for one to finish (passline redteam list), then start this one.",
            )
        threading.Thread(target=job.background, name=f"redteam-{run_id}", daemon=True).start()
        return self.get_run(run_id, results=False)

    def _capabilities(self, session: Session, prj: ProjectRow, target: Target) -> Capabilities:
        if isinstance(target, PromptTarget):
            return self._prompt_capabilities(session, prj, target)
        if isinstance(target, OpenAITarget):
            fragments = (target.system,) if target.system else ()
            return Capabilities(
                context=True, system_context=True, history=True, fragments=fragments
            )
        if isinstance(target, FunctionTarget):
            return Capabilities(context=True)
        return Capabilities()  # an endpoint: one record in, one prediction out

    def _prompt_capabilities(
        self, session: Session, prj: ProjectRow, target: PromptTarget
    ) -> Capabilities:
        system = [
            m.get("content", "")
            for m in (target.version.template if target.version else [])
            if m.get("role") == "system"
        ]
        if target.collection:
            from passline.services.rag_answers import SYSTEM

            reader = target.as_user or self.actor_name
            return Capabilities(
                collection=target.collection,
                history=bool(target.prompt),
                restricted=not _reads_as_admin(session, prj.id, reader),
                fragments=tuple(system) if target.prompt else (SYSTEM,),
            )
        if target.prompt:
            declared = target.version is not None and "context" in target.version.variables
            in_system = declared and any("context" in s for s in system)
            return Capabilities(
                context=declared, system_context=in_system, history=True, fragments=tuple(system)
            )
        return Capabilities(context=True, system_context=True, history=True)

    def _targets(
        self, target: Target, plan: Plan, caps: Capabilities
    ) -> tuple[dict[str, Target], str]:
        """The target of each route, planting the documents of the collection route."""
        documents = plan.documents("collection")
        if not documents:
            return {"main": target}, "context" if plan.documents("context") else "none"
        assert isinstance(target, PromptTarget) and target.collection
        try:
            fixture = self._fixture(target, documents)
        except (PermissionDenied, ImportError, PasslineError) as exc:
            twin = self._context_twin(target)
            return {"main": target, "context": twin}, _fallback(plan, exc)
        return {"main": target, "collection": fixture}, f"fixture collection {fixture.collection}"

    def _fixture(self, target: PromptTarget, documents: dict[str, Any]) -> PromptTarget:
        """The fixture collection beside the target's, with the planted documents and a copy
        of the target's guard policy; the target re-pointed at it."""
        services = self.ws.services(self.ctx)
        project, _, name = (target.collection or "").partition("/")
        fixture = f"redteam-{name}"[:63].rstrip("-.")
        with self.db.read() as session:
            self._require(session, project, Role.ADMIN, "plant documents for a red-team run")
        try:
            services.rag.create_collection(
                project, fixture, "Red-team fixture: documents planted by passline redteam runs"
            )
        except Conflict:
            pass
        try:
            policy: Any = services.guards.get_policy(project, target.app).policy
        except NotFound:
            policy = {}
        services.guards.set_policy(project, fixture, policy)
        reader = target.as_user or self.actor_name
        rules = {
            path: {"users": [reader]} if doc.access == "reader" else {"roles": ["admin"]}
            for path, doc in documents.items()
        }
        payload = [
            {"path": path, "content": base64.b64encode(doc.text.encode()).decode()}
            for path, doc in documents.items()
        ]
        services.rag.add_documents(f"{project}/{fixture}", payload, rules=rules)
        spec = {**target.spec(), "collection": f"{project}/{fixture}"}
        built = build_target(services, spec)
        assert isinstance(built, PromptTarget)
        return built

    def _context_twin(self, target: PromptTarget) -> Target:
        """The target's model and guard policy (its app) without retrieval: planted
        documents travel as context."""
        return PromptTarget(
            self.ws.services(self.ctx),
            model=target.model,
            project=target.project,
            app=target.app,
            as_user=target.as_user,
            params=target.params,
        )

    def _paraphraser(self) -> Callable[[str], str]:
        llm = self.ws.services(self.ctx).llm

        def reword(text: str) -> str:
            reply = llm.chat(
                [{"role": "user", "content": text}],
                params={"temperature": 0.0, "max_tokens": 120},
                app=ATTACKER_APP,
                guard=False,
                cache=False,
            )
            return reply.text

        return reword

    def _start(
        self,
        project: str,
        project_id: str,
        target: Target,
        plan: Plan,
        categories: list[str],
        config: dict[str, Any],
        name: str,
    ) -> str:
        run_id = new_id("rtr")
        refs = target.lineage()
        with self.db.write() as session:
            session.add(
                RedteamRunRow(
                    id=run_id,
                    project_id=project_id,
                    name=name,
                    target=target.spec(),
                    target_ref=refs[0][0] if refs else None,
                    status="running",
                    categories=categories,
                    config=config,
                    attempts=len(plan.attacks),
                    successes=0,
                    errored=0,
                    summary={},
                    skipped=plan.skipped,
                    message="",
                    created_by=self.actor_name,
                    started_at=utcnow(),
                )
            )
            ref = f"redteam_run:{run_id}"
            ensure_node(session, ref, f"red team {name or target.label}", project_id)
            for target_ref, label in refs:
                ensure_node(session, target_ref, label, project_id)
            record_edges(
                session, self.actor_name, [(ref, target_ref, "tested") for target_ref, _ in refs]
            )
            self._audit(
                session,
                "redteam.run.start",
                ref,
                project,
                {"target": target.spec(), "attempts": len(plan.attacks), **config},
            )
        return run_id

    # -- reading ----------------------------------------------------------------------------------

    def runs(self, project: str | None = None, limit: int = 50) -> list[RedteamRun]:
        """Runs, newest first, without their attempts."""
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidInput(f"'limit' must be in [1, 1000]. Got {limit!r}.")
        with self.db.read() as session:
            query = select(RedteamRunRow, ProjectRow.name).join(
                ProjectRow, ProjectRow.id == RedteamRunRow.project_id
            )
            if project:
                self._require(session, project, Role.VIEWER, "read red-team runs")
                query = query.where(ProjectRow.name == project)
            rows = session.execute(
                query.order_by(RedteamRunRow.started_at.desc()).limit(limit)
            ).all()
            visible = [r for r in rows if self._role_in(session, r[0].project_id) is not None]
            return [self._entity(session, row, name, False) for row, name in visible]

    def get_run(self, run_id: str, results: bool = True) -> RedteamRun:
        """A run with its report and (by default) every attempt."""
        with self.db.read() as session:
            row, project = self._run_row(session, run_id)
            return self._entity(session, row, project, results)

    def attempt(self, attempt_id: str) -> Attempt:
        """One attempt with its transcript and verdicts."""
        with self.db.read() as session:
            row = session.get(RedteamAttemptRow, attempt_id)
            if row is None:
                raise NotFound(
                    f"No red-team attempt {attempt_id!r}.",
                    hint="See a run's attempts with 'passline redteam show RUN --all'.",
                )
            self._run_row(session, row.run_id)
            return _attempt(row)

    def _run_row(self, session: Session, run_id: str) -> tuple[RedteamRunRow, str]:
        found = session.execute(
            select(RedteamRunRow, ProjectRow.name)
            .join(ProjectRow, ProjectRow.id == RedteamRunRow.project_id)
            .where(RedteamRunRow.id == run_id)
        ).first()
        if found is None:
            raise NotFound(
                f"No red-team run {run_id!r}.", hint="List them with 'passline redteam list'."
            )
        self._require(session, found[1], Role.VIEWER, "read red-team runs")
        return found[0], found[1]

    def _entity(
        self, session: Session, row: RedteamRunRow, project: str, results: bool
    ) -> RedteamRun:
        attempts = (
            session.execute(
                select(RedteamAttemptRow)
                .where(RedteamAttemptRow.run_id == row.id)
                .order_by(RedteamAttemptRow.position)
            )
            .scalars()
            .all()
            if results
            else []
        )
        done = (
            len(attempts)
            if results
            else row.attempts
            if row.status != "running"
            else session.execute(
                select(func.count()).where(RedteamAttemptRow.run_id == row.id)
            ).scalar_one()
        )
        return _run(row, project, done, [_attempt(a) for a in attempts])

    # -- findings become tests --------------------------------------------------------------------

    def to_case(self, attempt_id: str, suite: str, case_id: str | None = None) -> SuiteVersion:
        """A successful attack as a case of evaluation suite ``project/name`` (created when
        missing): its message, its planted documents as context, ``refuse`` where a refusal
        is the right answer, and the ``attack_resisted`` scorer, which re-runs the
        attempt's detectors on the evaluated answer."""
        from passline.services.evaluation import split_suite

        found = self.attempt(attempt_id)
        if not found.success:
            raise Conflict(
                f"Attempt {attempt_id} did not succeed ({found.outcome}); only a successful "
                "attack becomes an evaluation case.",
                hint="List the successful ones with 'passline redteam show RUN'.",
            )
        if found.category == "bias":
            raise InvalidInput(
                f"Attempt {attempt_id} is a counterfactual set ({len(found.transcript) // 2} "
                "questions compared together); an evaluation case asks one question.",
                hint="Re-run the bias probes with 'passline redteam run --categories bias'.",
            )
        project, name, _ = split_suite(suite)
        case = _case(found, case_id)
        source = found.ref
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "add evaluation cases")
            ensure_node(session, source, f"red-team finding {found.probe}", prj.id)
        version = self._save_case(f"{project}/{name}", case, found, source)
        with self.db.write() as session:
            self._audit(
                session,
                "redteam.finding.case",
                source,
                project,
                {"suite": version.label, "case": case["id"]},
            )
        return version

    def _save_case(
        self, suite: str, case: dict[str, Any], found: Attempt, source: str
    ) -> SuiteVersion:
        evaluation = self.ws.services(self.ctx).evaluation
        note = f"red-team finding {found.probe} ({found.category}) from run {found.run_id}"
        try:
            current = evaluation.suite(suite)
        except NotFound:
            current = None
        if current is not None and any(
            s.get("name", s.get("type")) == "attack_resisted" for s in current.scorers
        ):
            return evaluation.add_cases(suite, [case], note, sources=[source])
        cases = [c for c in (current.cases if current else []) if c.get("id") != case["id"]]
        existing = [s.get("name", s.get("type")) for s in (current.scorers if current else [])]
        if existing:  # the new scorer is for the finding only: the others keep theirs
            cases = [c if c.get("scorers") else {**c, "scorers": existing} for c in cases]
            case = {**case, "scorers": ["attack_resisted"]}
        scorers = [*(current.scorers if current else []), {"type": "attack_resisted"}]
        version = evaluation.create_suite(suite, [*cases, case], scorers, note)
        with self.db.write() as session:
            record_edges(session, self.actor_name, [(source, version.ref, "became_case")])
        return version


# -- executing a run --------------------------------------------------------------------------


class _Job(RecordedRun[AttemptResult]):
    """One run's execution: the pool, batched writes, the report."""

    run_table = RedteamRunRow
    flush_every = 10
    slots = _BACKGROUND

    def __init__(
        self,
        service: RedteamService,
        run_id: str,
        project: str,
        targets: dict[str, Target],
        plan: Plan,
        concurrency: int,
        secrets: SecretSet | None,
    ) -> None:
        super().__init__(service.db, run_id)
        self.service = service
        self.project = project
        self.targets = targets
        self.plan = plan
        self.concurrency = concurrency
        self.secrets = secrets

    def total(self) -> int:
        return len(self.plan.attacks)

    def results(self) -> Iterator[AttemptResult]:
        embed = _embedder() if any(a.variants for a in self.plan.attacks) else None
        return self._results(embed)

    def kept(self, result: AttemptResult) -> tuple[str, str | None, str]:
        return (result.attack.category, result.attack.owasp, result.outcome)

    def _results(self, embed: Any) -> Any:
        attacks = list(enumerate(self.plan.attacks, 1))
        if self.concurrency == 1:
            for position, attack in attacks:
                yield run_attack(self.targets, attack, position, embed)
            return
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="passline-redteam") as pool:
            futures = [pool.submit(run_attack, self.targets, a, p, embed) for p, a in attacks]
            for future in as_completed(futures):
                yield future.result()

    def write(self, results: list[AttemptResult]) -> None:
        rows = _stored([_attempt_row(self.run_id, r) for r in results], self.secrets)
        with self.db.write() as session:
            session.add_all(RedteamAttemptRow(**r) for r in rows)

    def finish(self, rows: list[tuple[str, str | None, str]], duration_s: float) -> None:
        summary = summarise(rows)
        with self.db.write() as session:
            session.execute(
                update(RedteamRunRow)
                .where(RedteamRunRow.id == self.run_id)
                .values(
                    status="completed",
                    summary=summary,
                    successes=summary["success"],
                    errored=summary["errored"],
                    duration_s=duration_s,
                    finished_at=utcnow(),
                )
            )
            self.service._audit(
                session,
                "redteam.run.complete",
                f"redteam_run:{self.run_id}",
                self.project,
                {
                    "attempts": summary["attempts"],
                    "successes": summary["success"],
                    "errored": summary["errored"],
                    "asr": summary["asr"],
                },
            )


def _embedder() -> Any:
    """Local sentence embeddings for the bias comparison, when installed."""
    try:
        from passline.llm.embeddings import embedder

        model = embedder()
        return model.embed
    except (ImportError, PasslineError, OSError):
        return None


def _attempt_row(run_id: str, result: AttemptResult) -> dict[str, Any]:
    attack = result.attack
    return {
        "id": new_id("rta"),
        "run_id": run_id,
        "position": result.position,
        "probe": attack.probe,
        "category": attack.category,
        "owasp": attack.owasp,
        "technique": attack.technique[:200],
        "mutation": attack.mutation,
        "prompt": attack.prompt,
        "transcript": result.transcript,
        "context": [d.text for d in attack.documents],
        "answer": result.answer,
        "outcome": result.outcome,
        "success": result.success,
        "detections": json.loads(json.dumps([d.to_dict() for d in result.detections], default=str)),
        "spec": {
            "attack": attack.id,
            "turns": list(attack.turns),
            **attack.to_spec(),
        },
        "error": result.error,
        "latency_ms": result.latency_ms,
        "trace_ids": result.trace_ids,
    }


def _stored(rows: list[dict[str, Any]], secrets: SecretSet | None) -> list[dict[str, Any]]:
    """Answers (and the assistant's turns) with secret values masked, then redacted as
    traces are, in one batch."""
    from passline.guard.pii import redact_texts

    texts: list[str] = []
    slots: list[tuple[dict[str, Any], str | int]] = []
    for row in rows:
        if row["answer"] is not None:
            texts.append(row["answer"])
            slots.append((row, "answer"))
        for i, message in enumerate(row["transcript"]):
            if message["role"] == "assistant":
                texts.append(message["content"])
                slots.append((row, i))
    if not texts:
        return rows
    if secrets is not None:
        texts = [_mask(t, secrets) for t in texts]
    clean = redact_texts(texts)
    out = [{**r, "transcript": [dict(m) for m in r["transcript"]]} for r in rows]
    index = {id(r): o for r, o in zip(rows, out, strict=True)}
    for (row, slot), text in zip(slots, clean, strict=True):
        target = index[id(row)]
        if slot == "answer":
            target["answer"] = text
        else:
            target["transcript"][slot]["content"] = text
    return out


def _mask(text: str, secrets: SecretSet) -> str:
    for start, end in sorted(secrets.find(text), reverse=True):
        text = text[:start] + "[SECRET]" + text[end:]
    return text


def _case(found: Attempt, case_id: str | None) -> dict[str, Any]:
    spec = found.spec
    turns = spec.get("turns") or [found.prompt]
    refuse = bool(spec.get("refuse", True))
    return {
        "id": case_id or f"redteam-{found.probe}-{found.id[-6:].lower()}",
        "question": found.prompt,
        "context": found.context,
        "refuse": refuse,
        "tags": ["redteam", found.category, *([found.owasp] if found.owasp else [])],
        "scorers": ["attack_resisted"],
        "metadata": {
            "source": found.ref,
            "redteam": {
                "run": found.run_id,
                "probe": found.probe,
                "category": found.category,
                "owasp": found.owasp,
                "detectors": spec.get("detectors", []),
                "route": spec.get("route"),
                "earlier_turns": turns[:-1],
                "answer_then": found.answer,
                "why": [d["reason"] for d in found.detections if d.get("hit")],
            },
        },
    }


def _project_of(target: Target) -> str | None:
    if isinstance(target, PromptTarget | OpenAITarget):
        return target.project
    if isinstance(target, EndpointTarget):
        return target.endpoint.partition("/")[0]
    return None


def _reads_as_admin(session: Session, project_id: str, user: str) -> bool:
    """Whether ``user`` may read every document of the project (workspace or project admin)."""
    row = session.execute(select(UserRow).where(UserRow.name == user)).scalar_one_or_none()
    if row is None:
        return False
    if row.is_admin:
        return True
    role = session.execute(
        select(MembershipRow.role).where(
            MembershipRow.project_id == project_id, MembershipRow.user_id == row.id
        )
    ).scalar_one_or_none()
    return role == Role.ADMIN.value


def _fallback(plan: Plan, exc: BaseException) -> str:
    """Re-route the collection's attacks to context (restricted ones are dropped: without
    retrieval there is no access check to test); what the run notes about it."""
    kept: list[Attack] = []
    for attack in plan.attacks:
        if attack.route != "collection":
            kept.append(attack)
        elif any(d.access == "restricted" for d in attack.documents):
            plan.skipped.append(
                {
                    "probe": attack.probe,
                    "category": attack.category,
                    "reason": "no fixture collection to hold a restricted document",
                }
            )
        else:
            kept.append(dataclasses.replace(attack, route="context"))
    plan.attacks[:] = kept
    why = getattr(exc, "message", str(exc))
    return f"context (no fixture collection: {why})"[:500]


def _caps_dict(caps: Capabilities) -> dict[str, Any]:
    out = dataclasses.asdict(caps)
    out["fragments"] = len(caps.fragments)
    return out


def _attempt(row: RedteamAttemptRow) -> Attempt:
    return Attempt(
        id=row.id,
        run_id=row.run_id,
        position=row.position,
        probe=row.probe,
        category=row.category,
        owasp=row.owasp,
        technique=row.technique,
        mutation=row.mutation,
        prompt=row.prompt,
        transcript=row.transcript or [],
        context=row.context or [],
        answer=row.answer,
        outcome=row.outcome,
        success=row.success,
        detections=row.detections or [],
        spec=row.spec or {},
        error=row.error,
        latency_ms=row.latency_ms,
        trace_ids=row.trace_ids or [],
    )


def _run(row: RedteamRunRow, project: str, done: int, attempts: list[Attempt]) -> RedteamRun:
    target = row.target or {}
    main = next(
        (
            target[k]
            for k in ("prompt", "endpoint", "base_url", "collection", "model", "name")
            if target.get(k)
        ),
        "",
    )
    summary = row.summary or {}
    return RedteamRun(
        id=row.id,
        project=project,
        name=row.name,
        target=target,
        target_label=f"{target.get('type', '?')}:{main}" if main else str(target.get("type", "")),
        status=row.status,
        categories=row.categories or [],
        config=row.config or {},
        attempts=row.attempts,
        done=done,
        successes=row.successes,
        errored=row.errored,
        asr=summary.get("asr"),
        summary=summary,
        skipped=row.skipped or [],
        duration_s=row.duration_s,
        message=row.message,
        created_by=row.created_by,
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at) if row.finished_at else None,
        results=attempts,
    )
