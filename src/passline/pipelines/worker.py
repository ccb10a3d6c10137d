"""Running queued pipeline runs: what triggers and schedules put in the queue.

``passline up``'s scheduler calls :func:`run_queued` every tick, and so does
``passline pipeline run-queued`` (a worker of its own, or a cron job). Each run is claimed
with a conditional UPDATE first, so two servers never run it twice; it runs as the user
who queued it, on the executor the trigger named.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from passline.errors import PasslineError
from passline.pipelines.loader import load_pipeline
from passline.pipelines.runner import run_pipeline
from passline.services.context import Actor, CallContext
from passline.services.pipelines import claim_run, queue_due_schedules, queued_runs
from passline.store.models import UserRow
from passline.store.models_pipelines import PipelineRunRow

__all__ = ["run_queued"]

log = logging.getLogger("passline.pipelines")


def run_queued(workspace: Any, limit: int = 10) -> list[tuple[str, str]]:
    """Queue due schedules, then run queued runs; (pipeline, outcome) for each."""
    queue_due_schedules(workspace)
    outcomes = []
    for run_id, ref, source, actor in queued_runs(workspace, limit):
        if not claim_run(workspace, run_id):
            continue
        outcomes.append((ref, _run_one(workspace, run_id, ref, source, actor)))
    return outcomes


def _run_one(workspace: Any, run_id: str, ref: str, source: str | None, actor: str) -> str:
    services = workspace.services(_context(workspace, actor))
    with workspace.db.read() as session:
        row = session.get_one(PipelineRunRow, run_id)
        params, executor, trigger = dict(row.params or {}), row.executor, dict(row.trigger or {})
    try:
        if not source:
            raise PasslineError(f"Pipeline {ref} has no recorded source to load it from.")
        pipeline = load_pipeline(source)
        done = run_pipeline(
            services, pipeline, params, executor=executor, trigger=trigger, run_id=run_id
        )
        return done.status
    except PasslineError as exc:
        log.warning("queued run %s of %s failed: %s", run_id, ref, exc.message)
        services.pipelines.finish_run(run_id, "failed", error=exc.message)
        return f"failed: {exc.message}"


def _context(workspace: Any, name: str) -> CallContext:
    with workspace.db.read() as session:
        user = session.execute(select(UserRow).where(UserRow.name == name)).scalar_one()
        return CallContext(Actor(user.id, user.name, user.is_admin, user.kind), "system")
