"""The scheduler: a thread in `passline up` that runs saved sources and monitors when due,
and hands queued pipeline runs (schedules, triggers, runs queued over the API) to a thread
of their own.

Each tick claims due sources with a conditional UPDATE (see ``services/sources.py``), so
several servers on one database never run a source twice; a failure is recorded on the
source and logged, and never stops the loop.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from passline.services.monitors import run_due_monitors
from passline.services.sources import run_due_sources
from passline.services.workspace import Workspace

__all__ = ["SourceScheduler"]

log = logging.getLogger("passline.scheduler")


class SourceScheduler:
    def __init__(self, workspace: Workspace, interval_s: float) -> None:
        self.workspace = workspace
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="passline-scheduler", daemon=True)
        # Queued pipeline runs go to a thread of their own: an hour of training must not
        # hold up the sources and monitors that are due meanwhile.
        self._pipelines = ThreadPoolExecutor(1, thread_name_prefix="passline-pipelines")
        self._pipeline_work: Future[None] | None = None

    def start(self) -> SourceScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._pipelines.shutdown(wait=False, cancel_futures=True)

    def tick(self) -> list[tuple[str, str]]:
        outcomes = run_due_sources(self.workspace)
        for source, outcome in outcomes:
            log.info("source %s: %s", source, outcome)
        checked = run_due_monitors(self.workspace)
        for monitor, outcome in checked:
            log.info("monitor %s: %s", monitor, outcome)
        from passline.services.evaluation_online import run_due_online_evaluations

        scored = run_due_online_evaluations(self.workspace)
        for project, outcome in scored:
            log.info("online evaluation %s: %s", project, outcome)
        self.start_pipelines()
        return outcomes + checked + scored

    def start_pipelines(self) -> Future[None]:
        """Run queued pipeline runs in the pipelines thread, unless it is still busy."""
        if self._pipeline_work is None or self._pipeline_work.done():
            self._pipeline_work = self._pipelines.submit(self._run_pipelines)
        return self._pipeline_work

    def _run_pipelines(self) -> None:
        from passline.pipelines.worker import run_queued

        try:
            for pipeline, outcome in run_queued(self.workspace):
                log.info("pipeline %s: %s", pipeline, outcome)
        except Exception:  # the next tick tries again
            log.exception("running queued pipelines failed")

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception:  # keep scheduling; the next tick may succeed
                log.exception("scheduler tick failed")
