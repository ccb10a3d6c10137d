"""The scheduler: a thread in `passline up` that runs saved sources and monitors when due.

Each tick claims due sources with a conditional UPDATE (see ``services/sources.py``), so
several servers on one database never run a source twice; a failure is recorded on the
source and logged, and never stops the loop.
"""

from __future__ import annotations

import logging
import threading

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

    def start(self) -> SourceScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

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
        from passline.pipelines.worker import run_queued

        pipelines = run_queued(self.workspace)
        for pipeline, outcome in pipelines:
            log.info("pipeline %s: %s", pipeline, outcome)
        return outcomes + checked + scored + pipelines

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick()
            except Exception:  # keep scheduling; the next tick may succeed
                log.exception("scheduler tick failed")
