"""Red teaming from Python: ``client.redteam``.

    >>> rt = client.redteam
    >>> run = rt.run("rag:hr-assistant/handbook", ["prompt_injection", "access_control"],
    ...              as_user="alice", limit=3, secrets=["182,000"])
    >>> run.asr, run.asr_by_category()
    >>> [a.probe for a in run.successful()]
    >>> rt.to_case(run.successful()[0].id, "hr-assistant/redteam-findings")

A run started over HTTP goes on in the server's background; :meth:`RedteamAPI.run` follows
it until it is done (``progress`` is called with the attempts done and the total), so both
transports return the finished run with its attempts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from passline.evaluation.entities import SuiteVersion
from passline.redteam.entities import Attempt, ProbeInfo, RedteamRun
from passline.sdk.tracking import _Namespace

__all__ = ["RedteamAPI"]

POLL_S = 0.5


class RedteamAPI(_Namespace):
    """Red-team runs, their attempts, the probe library; reached as ``client.redteam``."""

    def _local(self) -> bool:
        from passline.sdk.transports import LocalTransport

        return isinstance(self._client.transport, LocalTransport)

    def probes(self, categories: list[str] | None = None) -> list[ProbeInfo]:
        """The probe library, with each probe's category, OWASP id and detectors."""
        return self._call("redteam.probes", list[ProbeInfo], categories=categories)

    def run(
        self,
        target: str | dict[str, Any],
        categories: list[str] | None = None,
        project: str | None = None,
        limit: int = 3,
        seed: int = 0,
        concurrency: int = 2,
        secrets: list[str] | None = None,
        allowed_hosts: list[str] | None = None,
        paraphrase: bool = False,
        anchor: str | None = None,
        name: str = "",
        progress: Callable[[int, int], None] | None = None,
        **target_options: Any,
    ) -> RedteamRun:
        """Attack ``target`` (``rag:P/C``, ``prompt:P/N@V``, ``model:NAME``,
        ``endpoint:P/N``, ``openai:URL``) and wait for the report; ``target_options``
        (``as_user``, ``model``, ``api_key``...) refine the target spec."""
        params = dict(
            target=target,
            categories=categories,
            project=project,
            limit=limit,
            seed=seed,
            concurrency=concurrency,
            secrets=secrets,
            allowed_hosts=allowed_hosts,
            paraphrase=paraphrase,
            anchor=anchor,
            name=name,
            target_options=target_options or None,
        )
        if self._local():
            return self._call("redteam.run", RedteamRun, **params, progress=progress)
        started = self._call("redteam.run", RedteamRun, **params)
        return self.wait(started.id, progress)

    def wait(self, run_id: str, progress: Callable[[int, int], None] | None = None) -> RedteamRun:
        """Follow a run until it is no longer running; the finished run with its attempts."""
        while True:
            current = self.get_run(run_id, results=False)
            if progress is not None:
                progress(current.done, current.attempts)
            if current.status != "running":
                return self.get_run(run_id)
            time.sleep(POLL_S)

    def runs(self, project: str | None = None, limit: int = 50) -> list[RedteamRun]:
        return self._call("redteam.runs", list[RedteamRun], project=project, limit=limit)

    def get_run(self, run_id: str, results: bool = True) -> RedteamRun:
        return self._call("redteam.get_run", RedteamRun, run_id=run_id, results=results)

    def attempt(self, attempt_id: str) -> Attempt:
        return self._call("redteam.attempt", Attempt, attempt_id=attempt_id)

    def to_case(self, attempt_id: str, suite: str, case_id: str | None = None) -> SuiteVersion:
        """A successful attack as a case of evaluation suite ``project/name``."""
        return self._call(
            "redteam.to_case", SuiteVersion, attempt_id=attempt_id, suite=suite, case_id=case_id
        )
