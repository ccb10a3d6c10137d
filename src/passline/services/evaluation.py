"""Evaluation: suites of cases with immutable versions, runs of a suite against a target,
comparisons with bootstrap intervals, release checks, and findings that become cases.

A suite version is content-addressed like a dataset version: saving the same cases and
scorers again returns the version that holds them. A run pins one suite version and one
target (a prompt version, not a label), scores every case, stores each result and the
aggregates, evaluates its release check, and joins the lineage graph::

    eval_suite_version --used_by--> eval_run --evaluates--> prompt_version / llm_model /
                                                            endpoint / collection

Reading needs the project's viewer role, writing suites and running them contributor.
Answers and contexts are stored redacted, as traces are: a run's results are read by every
viewer of the project.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound, PasslineError
from passline.evaluation.cases import Case, SuiteFile, load_suite_file, parse_cases, parse_suite
from passline.evaluation.checks import parse_check
from passline.evaluation.entities import (
    CaseResult,
    Comparison,
    EvalRun,
    OnlineConfig,
    OnlinePoint,
    OnlineReport,
    ScorerDifference,
    Suite,
    SuiteVersion,
)
from passline.evaluation.runner import MAX_CONCURRENCY, Outcome, aggregate, figures, run_cases
from passline.evaluation.scorers import (
    ScoringEnv,
    build_scorers,
    fitting,
    register_scorer,
    scorer_types,
)
from passline.evaluation.stats import bootstrap_difference
from passline.evaluation.targets import Target, build_target
from passline.services.base import BaseService, next_version
from passline.services.lineage import ensure_node, record_edges
from passline.services.recorded_runs import RecordedRun
from passline.store.db import retry_on_conflict
from passline.store.models import ProjectRow
from passline.store.models_eval import (
    EvalCaseResultRow,
    EvalRunLabelRow,
    EvalRunRow,
    EvalSuiteRow,
    EvalSuiteVersionRow,
)

__all__ = ["EvaluationService", "split_suite"]

Progress = Callable[[int, int], None]
#: Runs started over the API execute in the server's background; at most this many at once.
_BACKGROUND = threading.BoundedSemaphore(2)
JUDGE_APP = "evaluation-judge"


def split_suite(suite: str) -> tuple[str, str, str | None]:
    """``project/name[@version]`` as (project, name, version selector or None)."""
    path, _, selector = str(suite).partition("@")
    project, _, name = path.partition("/")
    if not project or not name or "/" in name:
        raise InvalidInput(
            f"Name a suite as project/name[@version]. Got {suite!r} instead.",
            hint="List suites with 'passline eval suite list'.",
        )
    return project, name, selector.removeprefix("v") or None


def _digest(cases: list[dict[str, Any]], scorers: list[dict[str, Any]]) -> str:
    canonical = json.dumps({"cases": cases, "scorers": scorers}, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class EvaluationService(BaseService):
    # -- suites ------------------------------------------------------------------------------

    def create_suite(
        self,
        suite: str,
        cases: list[dict[str, Any]] | None = None,
        scorers: list[dict[str, Any] | str] | None = None,
        description: str = "",
        file: str | None = None,
    ) -> SuiteVersion:
        """A version of ``project/name`` holding ``cases`` and ``scorers`` (or a suite
        ``file`` on this machine); the same content returns the existing version."""
        if file is not None:
            loaded = load_suite_file(file)
            cases = cases or [c.model_dump() for c in loaded.cases]
            scorers = scorers or loaded.scorers
            description = description or loaded.description
        content = parse_suite({"cases": cases, "scorers": scorers or []}, "The suite")
        return self._save_version(suite, content, description or content.description, [])

    def add_cases(
        self,
        suite: str,
        cases: list[dict[str, Any] | Case],
        description: str = "",
        sources: list[str] | None = None,
    ) -> SuiteVersion:
        """A new version of an existing suite with ``cases`` added (a case with an id the
        suite has replaces it). ``sources`` are lineage refs the cases came from (a trace,
        a red-team finding): each gets an edge ``--became_case--> suite version``."""
        current = self.suite(f"{split_suite(suite)[0]}/{split_suite(suite)[1]}")
        added = parse_cases([c.model_dump() if isinstance(c, Case) else c for c in cases])
        ids = {c.id for c in added}
        kept = [c for c in current.cases if c["id"] not in ids]
        content = parse_suite(
            {"cases": [*kept, *(c.model_dump() for c in added)], "scorers": current.scorers}
        )
        note = description or f"added {', '.join(sorted(ids))}"
        return self._save_version(suite, content, note, sources or [])

    @retry_on_conflict
    def _save_version(
        self, suite: str, content: SuiteFile, description: str, sources: list[str]
    ) -> SuiteVersion:
        project, name, _ = split_suite(suite)
        check_name("suite", name)
        built = build_scorers(content.scorers, content.cases)
        scorers = [s.spec() for s in built]
        cases = [c.model_dump(mode="json", exclude_defaults=True) for c in content.cases]
        digest = _digest(cases, scorers)
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "write evaluation suites")
            row = self._suite_row(session, prj.id, name, lock=True)
            if row is None:
                row = EvalSuiteRow(
                    id=new_id("evs"),
                    project_id=prj.id,
                    name=name,
                    description=description,
                    created_by=self.actor_name,
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
                ensure_node(session, f"eval_suite:{project}/{name}", f"suite {name}", prj.id)
            same = session.execute(
                select(EvalSuiteVersionRow).where(
                    EvalSuiteVersionRow.suite_id == row.id, EvalSuiteVersionRow.digest == digest
                )
            ).scalar_one_or_none()
            if same is not None:
                return _version(same, f"{project}/{name}")
            number = next_version(
                session, EvalSuiteVersionRow.version, EvalSuiteVersionRow.suite_id == row.id
            )
            version = EvalSuiteVersionRow(
                id=new_id("esv"),
                suite_id=row.id,
                version=number,
                digest=digest,
                cases=cases,
                scorers=scorers,
                case_count=len(cases),
                description=description,
                author=self.actor_name,
                created_at=utcnow(),
            )
            session.add(version)
            session.flush()
            ref = f"eval_suite_version:{version.id}"
            ensure_node(session, ref, f"{project}/{name}@v{number}", prj.id)
            edges = [(f"eval_suite:{project}/{name}", ref, "has_version")]
            edges += [(source, ref, "became_case") for source in sources]
            record_edges(session, self.actor_name, edges)
            self._audit(
                session,
                "eval.suite.version",
                ref,
                project,
                {"suite": f"{project}/{name}", "version": number, "cases": len(cases)},
            )
            return _version(version, f"{project}/{name}")

    def suites(self, project: str | None = None) -> list[Suite]:
        with self.db.read() as session:
            query = select(EvalSuiteRow, ProjectRow.name).join(
                ProjectRow, ProjectRow.id == EvalSuiteRow.project_id
            )
            if project:
                self._require(session, project, Role.VIEWER, "read evaluation suites")
                query = query.where(ProjectRow.name == project)
            rows = session.execute(query.order_by(ProjectRow.name, EvalSuiteRow.name)).all()
            latest = dict(
                session.execute(
                    select(
                        EvalSuiteVersionRow.suite_id, func.max(EvalSuiteVersionRow.version)
                    ).group_by(EvalSuiteVersionRow.suite_id)
                ).all()
            )
            out = []
            for row, name in rows:
                if self._role_in(session, row.project_id) is None:
                    continue
                count = session.execute(
                    select(EvalSuiteVersionRow.case_count).where(
                        EvalSuiteVersionRow.suite_id == row.id,
                        EvalSuiteVersionRow.version == latest.get(row.id),
                    )
                ).scalar()
                out.append(_suite(row, name, latest.get(row.id), count or 0))
            return out

    def suite(self, suite: str) -> SuiteVersion:
        """``project/name`` (the latest version) or ``project/name@N``, with its cases."""
        with self.db.read() as session:
            row, _ = self._version_row(session, suite, Role.VIEWER)
            return _version(row, "/".join(split_suite(suite)[:2]))

    def suite_versions(self, suite: str) -> list[SuiteVersion]:
        """Every version of a suite, newest first (without their cases)."""
        project, name, _ = split_suite(suite)
        with self.db.read() as session:
            suite_row = self._suite_or_404(session, project, name, Role.VIEWER)
            rows = session.execute(
                select(EvalSuiteVersionRow)
                .where(EvalSuiteVersionRow.suite_id == suite_row.id)
                .order_by(EvalSuiteVersionRow.version.desc())
            ).scalars()
            return [_version(r, f"{project}/{name}", with_cases=False) for r in rows]

    def _suite_row(
        self, session: Session, project_id: str, name: str, lock: bool = False
    ) -> EvalSuiteRow | None:
        """The suite; ``lock`` holds its row until commit, so versions are numbered in turn."""
        query = select(EvalSuiteRow).where(
            EvalSuiteRow.project_id == project_id, EvalSuiteRow.name == name
        )
        return session.execute(query.with_for_update() if lock else query).scalar_one_or_none()

    def _suite_or_404(self, session: Session, project: str, name: str, role: Role) -> EvalSuiteRow:
        prj = self._require(session, project, role, "use evaluation suites")
        row = self._suite_row(session, prj.id, name)
        if row is None:
            raise NotFound(
                f"Project {project!r} has no evaluation suite named {name!r}.",
                hint="Create one with 'passline eval suite create'.",
            )
        return row

    def _version_row(
        self, session: Session, suite: str, role: Role
    ) -> tuple[EvalSuiteVersionRow, EvalSuiteRow]:
        project, name, selector = split_suite(suite)
        suite_row = self._suite_or_404(session, project, name, role)
        query = select(EvalSuiteVersionRow).where(EvalSuiteVersionRow.suite_id == suite_row.id)
        if selector is None:
            query = query.order_by(EvalSuiteVersionRow.version.desc()).limit(1)
        elif selector.isdigit():
            query = query.where(EvalSuiteVersionRow.version == int(selector))
        else:
            raise InvalidInput(f"A suite version is a number (@3 or @v3). Got {selector!r}.")
        row = session.execute(query).scalars().first()
        if row is None:
            raise NotFound(f"Suite {project}/{name} has no version {selector}.")
        return row, suite_row

    # -- scorers ------------------------------------------------------------------------------

    def scorers(self) -> dict[str, str]:
        """Every scorer type that suites can name, with its description."""
        return scorer_types()

    def register_scorer(self, name: str, scorer: Any) -> dict[str, str]:
        """Register a custom scorer in this process (a function or a Scorer subclass)."""
        register_scorer(name, scorer)
        return {"name": name}

    # -- runs -----------------------------------------------------------------------------------

    def run(
        self,
        suite: str,
        target: str | dict[str, Any] | Target,
        scorers: list[dict[str, Any] | str] | None = None,
        concurrency: int = 4,
        check: str | None = None,
        name: str = "",
        target_options: dict[str, Any] | None = None,
        wait: bool = True,
        progress: Progress | None = None,
    ) -> EvalRun:
        """Run a suite (``project/name[@N]``) against a target and score every case.

        ``target`` is a spec (``prompt:hr/answer@2``, a mapping with ``type``) or, in-process,
        a :class:`Target`. ``scorers`` are added to the suite's own for this run. ``check``
        is a release check evaluated on the results and stored with the run. With
        ``wait=False`` the run goes on in the background and its id comes back at once
        (what the REST API does); follow it with :meth:`get_run`.
        """
        if not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
            raise InvalidInput(
                f"'concurrency' must be an integer in [1, {MAX_CONCURRENCY}]. Got {concurrency!r}."
            )
        with self.db.read() as session:
            version, suite_row = self._version_row(session, suite, Role.CONTRIBUTOR)
            project = session.get_one(ProjectRow, suite_row.project_id).name
        cases = [Case.model_validate(c) for c in version.cases]
        built = build_scorers([*version.scorers, *_specs(scorers)], cases)
        parsed = parse_check(check) if check else None
        if parsed is not None:
            parsed.check_names([s.name for s in built])
        services = self.ws.services(self.ctx)
        resolved = (
            target
            if isinstance(target, Target)
            else build_target(services, target, **(target_options or {}))
        )
        run_id = self._start(project, suite_row, version, resolved, built, concurrency, name, check)
        job = _Job(self, run_id, project, suite_row, resolved, cases, built, concurrency, parsed)
        if wait:
            job.execute(progress)
            return self.get_run(run_id)
        if not _BACKGROUND.acquire(blocking=False):
            job.fail("refused: two evaluation runs already execute in this server; retry later")
            raise Conflict(
                "Two evaluation runs already execute in this server.",
                hint="Wait for one to finish (passline eval runs), then start this one again.",
            )
        thread = threading.Thread(target=job.background, name=f"eval-{run_id}", daemon=True)
        thread.start()
        return self.get_run(run_id, results=False)

    def _start(
        self,
        project: str,
        suite_row: EvalSuiteRow,
        version: EvalSuiteVersionRow,
        target: Target,
        built: list[Any],
        concurrency: int,
        name: str,
        check: str | None,
    ) -> str:
        run_id = new_id("evr")
        refs = target.lineage()
        with self.db.write() as session:
            session.add(
                EvalRunRow(
                    id=run_id,
                    project_id=suite_row.project_id,
                    suite_version_id=version.id,
                    name=name,
                    target=target.spec(),
                    target_ref=refs[0][0] if refs else None,
                    status="running",
                    concurrency=concurrency,
                    scorers=[s.spec() for s in built],
                    aggregates={},
                    check_expression=check,
                    cases=version.case_count,
                    errored=0,
                    input_tokens=0,
                    output_tokens=0,
                    cost_usd=0.0,
                    judge_cost_usd=0.0,
                    message="",
                    created_by=self.actor_name,
                    started_at=utcnow(),
                )
            )
            ref = f"eval_run:{run_id}"
            label = f"eval {suite_row.name}@v{version.version} {name or target.label}"
            ensure_node(session, ref, label, suite_row.project_id)
            for target_ref, target_label in refs:
                ensure_node(session, target_ref, target_label, suite_row.project_id)
            edges = [(f"eval_suite_version:{version.id}", ref, "used_by")]
            edges += [(ref, target_ref, "evaluates") for target_ref, _ in refs]
            record_edges(session, self.actor_name, edges)
            self._audit(
                session,
                "eval.run.start",
                ref,
                project,
                {
                    "suite": f"{project}/{suite_row.name}@v{version.version}",
                    "target": target.spec(),
                },
            )
        return run_id

    def _judge(
        self,
        messages: list[dict[str, str]],
        model: str | None,
        params: dict[str, Any],
        schema: dict[str, Any] | None,
    ) -> tuple[str, float, int]:
        """One judge call, traced outside the project (judge calls are not production)."""
        reply = self.ws.services(self.ctx).llm.chat(
            messages,
            model=model,
            params=params,
            json_schema=schema,
            app=JUDGE_APP,
            guard=False,
            cache=False,
        )
        tokens = int(reply.usage.get("input_tokens", 0)) + int(reply.usage.get("output_tokens", 0))
        return reply.text, reply.cost_usd, tokens

    def runs(
        self, project: str | None = None, suite: str | None = None, limit: int = 50
    ) -> list[EvalRun]:
        """Runs, newest first, without their per-case results."""
        if not 1 <= limit <= 1000:
            raise InvalidInput(f"'limit' must be in [1, 1000]. Got {limit}.")
        with self.db.read() as session:
            query = _run_query()
            if suite:
                p, n, _ = split_suite(suite)
                row = self._suite_or_404(session, p, n, Role.VIEWER)
                query = query.where(EvalSuiteVersionRow.suite_id == row.id)
            elif project:
                self._require(session, project, Role.VIEWER, "read evaluation runs")
                query = query.where(ProjectRow.name == project)
            rows = session.execute(query.order_by(EvalRunRow.started_at.desc()).limit(limit)).all()
            visible = [r for r in rows if self._role_in(session, r[0].project_id) is not None]
            return [self._run_entity(session, *r, results=False) for r in visible]

    def get_run(self, run_id: str, results: bool = True) -> EvalRun:
        """A run with its aggregates, release check and (by default) per-case results."""
        with self.db.read() as session:
            found = session.execute(_run_query().where(EvalRunRow.id == run_id)).first()
            if found is None:
                raise NotFound(
                    f"No evaluation run {run_id!r}.", hint="List them with 'passline eval runs'."
                )
            self._require(session, found[1], Role.VIEWER, "read evaluation runs")
            return self._run_entity(session, *found, results=results)

    def _run_entity(
        self,
        session: Session,
        row: EvalRunRow,
        project: str,
        suite: str,
        version: int,
        results: bool,
    ) -> EvalRun:
        result_rows = (
            session.execute(
                select(EvalCaseResultRow)
                .where(EvalCaseResultRow.run_id == row.id)
                .order_by(EvalCaseResultRow.position)
            )
            .scalars()
            .all()
            if results
            else []
        )
        done = (
            len(result_rows)
            if results
            else row.cases
            if row.status != "running"
            else session.execute(
                select(func.count()).where(EvalCaseResultRow.run_id == row.id)
            ).scalar_one()
        )
        labels = session.execute(
            select(EvalRunLabelRow.label).where(EvalRunLabelRow.run_id == row.id)
        ).scalars()
        return _run(row, project, f"{project}/{suite}", version, done, sorted(labels), result_rows)

    def label_run(self, run_id: str, label: str) -> EvalRun:
        """Name a completed run of a suite (``production``): release checks of later runs
        compare with it (``no significant regression against production``)."""
        check_name("label", label)
        with self.db.write() as session:
            found = session.execute(_run_query().where(EvalRunRow.id == run_id)).first()
            if found is None:
                raise NotFound(f"No evaluation run {run_id!r}.")
            row, project = found[0], found[1]
            self._require(session, project, Role.CONTRIBUTOR, "label evaluation runs")
            if row.status != "completed":
                raise Conflict(
                    f"Run {run_id} is {row.status}; only a completed run can be labelled."
                )
            suite_id = session.get_one(EvalSuiteVersionRow, row.suite_version_id).suite_id
            current = session.get(EvalRunLabelRow, (suite_id, label))
            if current is None:
                session.add(
                    EvalRunLabelRow(
                        suite_id=suite_id,
                        label=label,
                        run_id=run_id,
                        set_by=self.actor_name,
                        set_at=utcnow(),
                    )
                )
            else:
                current.run_id, current.set_by, current.set_at = run_id, self.actor_name, utcnow()
            self._audit(session, "eval.run.label", f"eval_run:{run_id}", project, {"label": label})
        return self.get_run(run_id, results=False)

    # -- comparing ------------------------------------------------------------------------------

    def compare(
        self,
        baseline: str,
        candidate: str,
        confidence: float = 0.95,
        resamples: int = 2000,
        seed: int = 0,
    ) -> Comparison:
        """Per scorer, the candidate's mean minus the baseline's with a bootstrap interval;
        an interval entirely below 0 is a regression."""
        a, b = self.get_run(baseline), self.get_run(candidate)
        return compare_runs(a, b, confidence, resamples, seed)

    def _resolve_baseline(self, run_id: str, name: str) -> str | None:
        """The run a release check's baseline names: a run label of the suite, a run id,
        or a label of the evaluated prompt (its version's latest run on the suite)."""
        with self.db.read() as session:
            row = session.get_one(EvalRunRow, run_id)
            suite_id = session.get_one(EvalSuiteVersionRow, row.suite_version_id).suite_id
            labelled = session.get(EvalRunLabelRow, (suite_id, name))
            if labelled is not None:
                return labelled.run_id
            if name.startswith("evr_") and session.get(EvalRunRow, name) is not None:
                return name
        prompt = row.target.get("prompt") if isinstance(row.target, dict) else None
        if not prompt:
            return None
        try:
            version = self.ws.services(self.ctx).prompts.version(f"{prompt.split('@')[0]}@{name}")
        except PasslineError:
            return None
        with self.db.read() as session:
            return session.execute(
                select(EvalRunRow.id)
                .join(EvalSuiteVersionRow, EvalSuiteVersionRow.id == EvalRunRow.suite_version_id)
                .where(
                    EvalSuiteVersionRow.suite_id == suite_id,
                    EvalRunRow.target_ref == version.ref,
                    EvalRunRow.status == "completed",
                    EvalRunRow.id != run_id,
                )
                .order_by(EvalRunRow.started_at.desc())
                .limit(1)
            ).scalar_one_or_none()

    # -- findings become tests ------------------------------------------------------------------

    def case_from_trace(
        self,
        trace_id: str,
        suite: str,
        expected: Any = None,
        refuse: bool | None = None,
        case_id: str | None = None,
        reference_facts: list[str] | None = None,
        tags: list[str] | None = None,
        scorers: list[str] | None = None,
    ) -> SuiteVersion:
        """A new suite version with a case made from a trace: its question, its feedback
        (a correction becomes ``expected`` unless one is given), tagged ``from-trace``.
        The case is scored by ``scorers`` (names of the suite's), by default those of the
        suite that can score it (a refusal case has no ``expected`` for ``contains``)."""
        trace = self.ws.services(self.ctx).tracing.get(trace_id)
        question = trace["trace"].get("input_preview")
        if not question:
            raise InvalidInput(
                f"Trace {trace_id} kept no question (its app stores metrics only), so it "
                "cannot become a case.",
            )
        feedback = trace.get("feedback") or []
        correction = next(
            (f["correction"] for f in reversed(feedback) if f.get("correction")), None
        )
        data: dict[str, Any] = {
            "id": case_id or f"trace-{trace_id[:12]}",
            "question": question,
            "tags": ["from-trace", *(tags or [])],
            "metadata": {
                "source": f"trace:{trace_id}",
                "answer_then": trace["trace"].get("output_preview"),
                "feedback": [
                    {"score": f.get("score"), "comment": f.get("comment")} for f in feedback
                ],
                "prompt_version": trace["trace"].get("prompt_version"),
            },
        }
        if expected is not None or correction:
            data["expected"] = expected if expected is not None else correction
        if refuse is not None:
            data["refuse"] = refuse
        if reference_facts:
            data["reference_facts"] = reference_facts
        current = self.suite("/".join(split_suite(suite)[:2]))
        data["scorers"] = scorers or fitting(current.scorers, Case.model_validate(data))
        return self.add_cases(
            suite, [data], f"case from trace {trace_id}", sources=[f"trace:{trace_id}"]
        )

    # -- online evaluation (services/evaluation_online.py) ----------------------------------------

    def online_evaluate(
        self,
        project: str,
        sample: int = 50,
        app: str | None = None,
        threshold: float = 0.5,
        since_hours: float = 24.0,
        seed: int | None = None,
    ) -> OnlineReport:
        """Score a sample of the project's recent traces not scored yet: groundedness of the
        answer in the passages it was given, guard hits, feedback."""
        from passline.services import evaluation_online

        return evaluation_online.evaluate(self, project, sample, app, threshold, since_hours, seed)

    def hallucination_rate(
        self,
        project: str,
        bucket: str = "day",
        since_hours: float = 24.0 * 30,
        prompt: str | None = None,
    ) -> list[OnlinePoint]:
        """The hallucination rate per prompt version and hour or day, from scored traces."""
        from passline.services import evaluation_online

        return evaluation_online.rates(self, project, bucket, since_hours, prompt)

    def schedule_online(
        self,
        project: str,
        schedule: str = "*/15 * * * *",
        sample: int = 50,
        app: str | None = None,
        threshold: float = 0.5,
        enabled: bool = True,
    ) -> OnlineConfig:
        """Score the project's traces on a schedule (``passline up``'s scheduler)."""
        from passline.services import evaluation_online

        return evaluation_online.schedule(self, project, schedule, sample, app, threshold, enabled)


# -- executing a run --------------------------------------------------------------------------


class _Job(RecordedRun[Outcome]):
    """One run's execution: the pool, batched writes, aggregates and the release check."""

    run_table = EvalRunRow
    flush_every = 25
    slots = _BACKGROUND

    def __init__(
        self,
        service: EvaluationService,
        run_id: str,
        project: str,
        suite_row: EvalSuiteRow,
        target: Target,
        cases: list[Case],
        scorers: list[Any],
        concurrency: int,
        check: Any,
    ) -> None:
        super().__init__(service.db, run_id)
        self.service = service
        self.project = project
        self.suite_row = suite_row
        self.target = target
        self.cases = cases
        self.scorers = scorers
        self.concurrency = concurrency
        self.check = check

    def total(self) -> int:
        return len(self.cases)

    def results(self) -> Iterator[Outcome]:
        env = ScoringEnv(judge=self.service._judge)
        cases = list(enumerate(self.cases, 1))
        yield from run_cases(self.target, cases, self.scorers, env, self.concurrency)

    def write(self, outcomes: list[Outcome]) -> None:
        rows = _redacted([_result_row(self.run_id, o) for o in outcomes])
        with self.db.write() as session:
            session.add_all(EvalCaseResultRow(**r) for r in rows)

    def finish(self, outcomes: list[Outcome], duration_s: float) -> None:
        names = [s.name for s in self.scorers]
        aggregates = aggregate(outcomes, names, duration_s)
        check_result = None
        if self.check is not None:
            outcome = self.check.evaluate(figures(aggregates), self._regression)
            check_result = {
                "expression": self.check.expression,
                "passed": outcome.passed,
                "terms": outcome.terms,
            }
        with self.db.write() as session:
            session.execute(
                update(EvalRunRow)
                .where(EvalRunRow.id == self.run_id)
                .values(
                    status="completed",
                    aggregates=json.loads(json.dumps(aggregates, default=float)),
                    check_passed=check_result["passed"] if check_result else None,
                    check_result=json.loads(json.dumps(check_result, default=str))
                    if check_result
                    else None,
                    errored=aggregates["errored"],
                    input_tokens=aggregates["input_tokens"],
                    output_tokens=aggregates["output_tokens"],
                    cost_usd=aggregates["cost_usd"],
                    judge_cost_usd=aggregates["judge_cost_usd"],
                    duration_s=duration_s,
                    finished_at=utcnow(),
                )
            )
            means = {k: v["mean"] for k, v in aggregates["scorers"].items()}
            self.service._audit(
                session,
                "eval.run.complete",
                f"eval_run:{self.run_id}",
                self.project,
                {
                    "cases": aggregates["cases"],
                    "errored": aggregates["errored"],
                    "means": means,
                    "check": check_result["passed"] if check_result else None,
                },
            )

    def _regression(self, baseline: str, scorer: str | None) -> tuple[bool, dict[str, Any]]:
        """A release check's regression term: this run against the baseline it names."""
        found = self.service._resolve_baseline(self.run_id, baseline)
        if found is None:
            return False, {
                "baseline": baseline,
                "message": f"no run of suite {self.suite_row.name!r} is labelled {baseline!r} "
                "(label one with 'passline eval label RUN production')",
            }
        # This run is not marked completed yet: compare its stored results as they stand.
        candidate = self.service.get_run(self.run_id).model_copy(update={"status": "completed"})
        comparison = compare_runs(self.service.get_run(found), candidate)
        rows = [d for d in comparison.scorers if scorer is None or d.scorer == scorer]
        regressed = [d for d in rows if d.verdict == "regression"]
        return not regressed, {
            "baseline": baseline,
            "baseline_run": found,
            "regressions": [
                {"scorer": d.scorer, "diff": d.diff, "ci": [d.ci_low, d.ci_high]} for d in regressed
            ],
        }


def compare_runs(
    a: EvalRun, b: EvalRun, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Comparison:
    """Baseline ``a`` against candidate ``b``, scorer by scorer (pure: no database)."""
    import numpy as np

    for run in (a, b):
        if run.status != "completed":
            raise Conflict(f"Run {run.id} is {run.status}; compare completed runs.")
    values_a, values_b = _values(a), _values(b)
    names = [n for n in values_a if n in values_b]
    order = [r.case_id for r in b.results]
    rows, newly_failing = [], {}
    for name in names:
        common = [c for c in order if c in values_a[name] and c in values_b[name]]
        paired = len(common) >= 2
        base = np.array([values_a[name][c][0] for c in (common if paired else values_a[name])])
        cand = np.array([values_b[name][c][0] for c in (common if paired else values_b[name])])
        if len(base) == 0 or len(cand) == 0:
            rows.append(
                ScorerDifference(
                    scorer=name,
                    n=0,
                    mean_baseline=None,
                    mean_candidate=None,
                    diff=None,
                    ci_low=None,
                    ci_high=None,
                    verdict="not comparable",
                )
            )
            continue
        d = bootstrap_difference(base, cand, paired, confidence, resamples, seed)
        rows.append(
            ScorerDifference(
                scorer=name,
                n=d.n,
                mean_baseline=d.mean_baseline,
                mean_candidate=d.mean_candidate,
                diff=d.diff,
                ci_low=d.ci_low,
                ci_high=d.ci_high,
                verdict=d.verdict,
                paired=paired,
            )
        )
        failing = [c for c in common if values_a[name][c][1] and values_b[name][c][1] is False]
        if failing:
            newly_failing[name] = failing
    return Comparison(
        baseline=a.id,
        candidate=b.id,
        suite=b.suite,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        scorers=rows,
        regressions=[r.scorer for r in rows if r.verdict == "regression"],
        improvements=[r.scorer for r in rows if r.verdict == "improvement"],
        newly_failing=newly_failing,
    )


def _values(run: EvalRun) -> dict[str, dict[str, tuple[float, bool | None]]]:
    """scorer -> case id -> (value, passed), scored cases of ok results only."""
    out: dict[str, dict[str, tuple[float, bool | None]]] = {}
    for result in run.results:
        if result.status != "ok":
            continue
        for name, score in result.scores.items():
            if score.get("value") is not None:
                out.setdefault(name, {})[result.case_id] = (score["value"], score.get("passed"))
    return out


def _specs(scorers: list[dict[str, Any] | str] | None) -> list[dict[str, Any]]:
    return [{"type": s} if isinstance(s, str) else dict(s) for s in scorers or []]


def _result_row(run_id: str, outcome: Outcome) -> dict[str, Any]:
    answer = outcome.answer
    return {
        "run_id": run_id,
        "case_id": outcome.case.id,
        "position": outcome.position,
        "status": outcome.status,
        "answer": answer.text if answer else None,
        "context": [c[:4000] for c in answer.context] if answer else [],
        "scores": json.loads(
            json.dumps({k: v.to_dict() for k, v in outcome.scores.items()}, default=str)
        ),
        "error": outcome.error,
        "latency_ms": answer.latency_ms if answer else None,
        "input_tokens": answer.input_tokens if answer else 0,
        "output_tokens": answer.output_tokens if answer else 0,
        "cost_usd": answer.cost_usd if answer else 0.0,
        "trace_id": answer.trace_id if answer else None,
    }


def _redacted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every string of the rows' answers, contexts, scores and errors, redacted in one batch."""
    from passline.guard.pii import redact_texts

    texts: list[str] = []

    def collect(value: Any) -> Any:
        if isinstance(value, str):
            texts.append(value)
            return len(texts) - 1
        if isinstance(value, list):
            return [collect(v) for v in value]
        if isinstance(value, dict):
            return {k: collect(v) for k, v in value.items()}
        return value

    keys = ("answer", "context", "scores", "error")
    shapes = [{k: collect(r[k]) for k in keys} for r in rows]
    clean = redact_texts(texts) if texts else []

    def fill(shape: Any, original: Any) -> Any:
        if isinstance(original, str):
            return clean[shape]
        if isinstance(original, list):
            return [fill(s, o) for s, o in zip(shape, original, strict=True)]
        if isinstance(original, dict):
            return {k: fill(shape[k], v) for k, v in original.items()}
        return original

    return [{**r, **{k: fill(s[k], r[k]) for k in keys}} for r, s in zip(rows, shapes, strict=True)]


def _run_query() -> Any:
    return (
        select(EvalRunRow, ProjectRow.name, EvalSuiteRow.name, EvalSuiteVersionRow.version)
        .join(ProjectRow, ProjectRow.id == EvalRunRow.project_id)
        .join(EvalSuiteVersionRow, EvalSuiteVersionRow.id == EvalRunRow.suite_version_id)
        .join(EvalSuiteRow, EvalSuiteRow.id == EvalSuiteVersionRow.suite_id)
    )


def _suite(row: EvalSuiteRow, project: str, latest: int | None, cases: int) -> Suite:
    return Suite(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        latest_version=latest,
        cases=cases,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
    )


def _version(row: EvalSuiteVersionRow, suite: str, with_cases: bool = True) -> SuiteVersion:
    return SuiteVersion(
        id=row.id,
        suite=suite,
        version=row.version,
        digest=row.digest,
        description=row.description,
        scorers=row.scorers,
        cases=row.cases if with_cases else [],
        case_count=row.case_count,
        author=row.author,
        created_at=as_utc(row.created_at),
    )


def _run(
    row: EvalRunRow,
    project: str,
    suite: str,
    version: int,
    done: int,
    labels: list[str],
    results: list[EvalCaseResultRow],
) -> EvalRun:
    target = row.target or {}
    main = next(
        (
            target[k]
            for k in ("prompt", "endpoint", "base_url", "collection", "model")
            if target.get(k)
        ),
        "",
    )
    return EvalRun(
        id=row.id,
        project=project,
        suite=suite,
        suite_version=version,
        name=row.name,
        target=target,
        target_label=f"{target.get('type', '?')}:{main}" if main else str(target.get("type", "")),
        status=row.status,
        concurrency=row.concurrency,
        scorers=row.scorers,
        aggregates=row.aggregates or {},
        check=row.check_result
        or ({"expression": row.check_expression, "passed": None} if row.check_expression else None),
        cases=row.cases,
        done=done,
        errored=row.errored,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost_usd=row.cost_usd,
        judge_cost_usd=row.judge_cost_usd,
        duration_s=row.duration_s,
        cases_per_s=(row.cases / row.duration_s) if row.duration_s else None,
        message=row.message,
        labels=labels,
        created_by=row.created_by,
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at) if row.finished_at else None,
        results=[
            CaseResult(
                case_id=r.case_id,
                position=r.position,
                status=r.status,
                answer=r.answer,
                context=r.context or [],
                scores=r.scores or {},
                error=r.error,
                latency_ms=r.latency_ms,
                input_tokens=r.input_tokens,
                output_tokens=r.output_tokens,
                cost_usd=r.cost_usd,
                trace_id=r.trace_id,
            )
            for r in results
        ],
    )
