"""Evaluation from Python: ``client.evaluation``.

    >>> ev = client.evaluation
    >>> ev.create_suite("hr/handbook-qa", file="suites/handbook.yaml")
    >>> run = ev.run("hr/handbook-qa", "prompt:hr/answer@2", collection="hr/handbook",
    ...              check="groundedness >= 0.8 and no significant regression against production")
    >>> run.check["passed"], run.means()
    >>> ev.compare(baseline_run_id, run.id).regressions

Suite files are read on the caller's machine. A run started over HTTP goes on in the
server's background; :meth:`EvaluationAPI.run` follows it until it is done (``progress``
is called with the cases done and the total), so both transports return the finished run.
Custom scorers run where the scoring runs: :meth:`register_scorer` works in-process, and a
server loads its own from the ``passline.scorers`` entry points.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from passline.errors import InvalidInput
from passline.evaluation.cases import load_suite_file
from passline.evaluation.entities import (
    Comparison,
    EvalRun,
    OnlineConfig,
    OnlinePoint,
    OnlineReport,
    Suite,
    SuiteVersion,
)
from passline.sdk.tracking import _Namespace

__all__ = ["EvaluationAPI"]

POLL_S = 0.5


class EvaluationAPI(_Namespace):
    """Suites, runs, comparisons and online evaluation; reached as ``client.evaluation``."""

    def _local(self) -> Any:
        from passline.sdk.transports import LocalTransport

        transport = self._client.transport
        return transport.services if isinstance(transport, LocalTransport) else None

    # suites
    def create_suite(
        self,
        suite: str,
        cases: list[dict[str, Any]] | None = None,
        scorers: list[dict[str, Any] | str] | None = None,
        description: str = "",
        file: str | Path | None = None,
    ) -> SuiteVersion:
        """A version of ``project/name`` from ``cases`` and ``scorers``, or from a YAML or
        JSON suite ``file``; the same content returns the existing version."""
        if file is not None:
            loaded = load_suite_file(file)
            cases = cases or [c.model_dump(exclude_defaults=True) for c in loaded.cases]
            scorers = scorers or loaded.scorers
            description = description or loaded.description
        if not cases:
            raise InvalidInput("Give the suite's cases, or a suite file.")
        return self._call(
            "eval.create_suite",
            SuiteVersion,
            suite=suite,
            cases=cases,
            scorers=scorers or [],
            description=description,
        )

    def suites(self, project: str | None = None) -> list[Suite]:
        return self._call("eval.suites", list[Suite], project=project)

    def suite(self, suite: str) -> SuiteVersion:
        """``project/name`` (latest version) or ``project/name@N``, with its cases."""
        return self._call("eval.suite", SuiteVersion, suite=suite)

    def suite_versions(self, suite: str) -> list[SuiteVersion]:
        return self._call("eval.suite_versions", list[SuiteVersion], suite=suite)

    def add_cases(
        self, suite: str, cases: list[dict[str, Any]], description: str = ""
    ) -> SuiteVersion:
        """A new version with ``cases`` added (an existing id is replaced)."""
        return self._call(
            "eval.add_cases", SuiteVersion, suite=suite, cases=cases, description=description
        )

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
        """A trace (say, one with a thumbs down) as a new case of ``suite``, scored by
        ``scorers`` (default: those of the suite that can score it)."""
        return self._call(
            "eval.case_from_trace",
            SuiteVersion,
            trace_id=trace_id,
            suite=suite,
            expected=expected,
            refuse=refuse,
            case_id=case_id,
            reference_facts=reference_facts,
            tags=tags,
            scorers=scorers,
        )

    # scorers
    def scorers(self) -> dict[str, str]:
        return self._call("eval.scorers", dict[str, str])

    def register_scorer(self, name: str, scorer: Callable[..., Any] | type) -> None:
        """A custom scorer for runs in this process (embedded mode only)."""
        services = self._local()
        if services is None:
            raise InvalidInput(
                "Custom scorers run in the process that scores: on a server, install them "
                "as a 'passline.scorers' entry point.",
            )
        services.evaluation.register_scorer(name, scorer)

    # runs
    def run(
        self,
        suite: str,
        target: str | dict[str, Any] | Any,
        scorers: list[dict[str, Any] | str] | None = None,
        concurrency: int = 4,
        check: str | None = None,
        name: str = "",
        progress: Callable[[int, int], None] | None = None,
        **target_options: Any,
    ) -> EvalRun:
        """Run ``suite`` against ``target`` and wait for it; ``target_options`` (``model``,
        ``collection``, ``as_user``, ``k``, ``gateway_url``, ``api_key``...) refine the
        target spec."""
        params = dict(
            suite=suite,
            target=target,
            scorers=scorers,
            concurrency=concurrency,
            check=check,
            name=name,
            target_options=target_options or None,
        )
        if self._local() is not None:
            return self._call("eval.run", EvalRun, **params, progress=progress)
        started = self._call("eval.run", EvalRun, **params)
        return self.wait(started.id, progress)

    def wait(self, run_id: str, progress: Callable[[int, int], None] | None = None) -> EvalRun:
        """Follow a run until it is no longer running; the finished run with its results."""
        while True:
            current = self.get_run(run_id, results=False)
            if progress is not None:
                progress(current.done, current.cases)
            if current.status != "running":
                return self.get_run(run_id)
            time.sleep(POLL_S)

    def runs(
        self, project: str | None = None, suite: str | None = None, limit: int = 50
    ) -> list[EvalRun]:
        return self._call("eval.runs", list[EvalRun], project=project, suite=suite, limit=limit)

    def get_run(self, run_id: str, results: bool = True) -> EvalRun:
        return self._call("eval.get_run", EvalRun, run_id=run_id, results=results)

    def label_run(self, run_id: str, label: str) -> EvalRun:
        """Name a completed run (``production``): the baseline release checks compare with."""
        return self._call("eval.label_run", EvalRun, run_id=run_id, label=label)

    def compare(
        self,
        baseline: str,
        candidate: str,
        confidence: float = 0.95,
        resamples: int = 2000,
        seed: int = 0,
    ) -> Comparison:
        return self._call(
            "eval.compare",
            Comparison,
            baseline=baseline,
            candidate=candidate,
            confidence=confidence,
            resamples=resamples,
            seed=seed,
        )

    # online evaluation
    def online_evaluate(
        self,
        project: str,
        sample: int = 50,
        app: str | None = None,
        threshold: float = 0.5,
        since_hours: float = 24.0,
        seed: int | None = None,
    ) -> OnlineReport:
        """Score a sample of the project's recent traces (each trace once)."""
        return self._call(
            "eval.online_evaluate",
            OnlineReport,
            project=project,
            sample=sample,
            app=app,
            threshold=threshold,
            since_hours=since_hours,
            seed=seed,
        )

    def hallucination_rate(
        self,
        project: str,
        bucket: str = "day",
        since_hours: float = 24.0 * 30,
        prompt: str | None = None,
    ) -> list[OnlinePoint]:
        return self._call(
            "eval.hallucination_rate",
            list[OnlinePoint],
            project=project,
            bucket=bucket,
            since_hours=since_hours,
            prompt=prompt,
        )

    def schedule_online(
        self,
        project: str,
        schedule: str = "*/15 * * * *",
        sample: int = 50,
        app: str | None = None,
        threshold: float = 0.5,
        enabled: bool = True,
    ) -> OnlineConfig:
        return self._call(
            "eval.schedule_online",
            OnlineConfig,
            project=project,
            schedule=schedule,
            sample=sample,
            app=app,
            threshold=threshold,
            enabled=enabled,
        )
