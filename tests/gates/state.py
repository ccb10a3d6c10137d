"""Helpers that put evidence on the platform quickly: evaluation and red-team runs (rows, as
their services would store them), traces with feedback, endpoint traffic."""

from __future__ import annotations

from datetime import timedelta

from passline.core.clock import utcnow
from passline.core.ids import new_id
from passline.services.workspace import Services, Workspace
from passline.store.models import EndpointRow, PredictionSummaryRow, ProjectRow
from passline.store.models_eval import EvalRunRow, EvalSuiteRow, EvalSuiteVersionRow
from passline.store.models_redteam import RedteamRunRow


def _project_id(workspace: Workspace, project: str) -> str:
    with workspace.db.read() as session:
        from sqlalchemy import select

        return session.execute(select(ProjectRow.id).where(ProjectRow.name == project)).scalar_one()


def eval_run(svc: Services, suite: str, prompt: str, scorer: str, mean: float) -> str:
    """A completed evaluation run of ``prompt`` (``P/N@V``) with ``scorer``'s mean."""
    from sqlalchemy import select

    svc.evaluation.create_suite(
        suite, [{"id": "a", "question": "q?", "expected": "a"}], ["contains"]
    )
    project, name = suite.split("/")
    ws = svc.workspace
    run_id = new_id("evr")
    with ws.db.write() as session:
        version_id = (
            session.execute(
                select(EvalSuiteVersionRow.id)
                .join(EvalSuiteRow, EvalSuiteRow.id == EvalSuiteVersionRow.suite_id)
                .where(EvalSuiteRow.name == name)
            )
            .scalars()
            .first()
        )
        session.add(
            EvalRunRow(
                id=run_id,
                project_id=_project_id(ws, project),
                suite_version_id=version_id,
                name="",
                target={"type": "prompt", "prompt": prompt},
                status="completed",
                concurrency=1,
                scorers=[{"name": scorer}],
                aggregates={"scorers": {scorer: {"mean": mean}}, "cases": 1},
                cases=1,
                errored=0,
                message="",
                created_by="alice",
                started_at=utcnow(),
                finished_at=utcnow(),
            )
        )
    return run_id


def redteam_run(svc: Services, project: str, label: str, attempts: int, successes: int) -> str:
    ws = svc.workspace
    run_id = new_id("rtr")
    with ws.db.write() as session:
        session.add(
            RedteamRunRow(
                id=run_id,
                project_id=_project_id(ws, project),
                name="",
                target={"type": "prompt", "prompt": label},
                target_ref=None,
                status="completed",
                categories=["prompt_injection"],
                config={},
                attempts=attempts,
                successes=successes,
                errored=0,
                summary={"asr": successes / attempts},
                skipped=[],
                message="",
                created_by="alice",
                started_at=utcnow(),
                finished_at=utcnow(),
            )
        )
    return run_id


def feedback(svc: Services, project: str, app: str = "assistant") -> None:
    trace = svc.tracing.start(app=app, project=project)
    svc.tracing.save(trace)
    svc.tracing.add_feedback(trace.id, 1, "useful")


def traffic(svc: Services, endpoint: str, version_id: str, minutes: int, role: str) -> None:
    """Per-minute summaries, as the gateway's log writer stores them."""
    from sqlalchemy import select

    ws = svc.workspace
    project, name = endpoint.split("/")
    now = utcnow().replace(second=0, microsecond=0)
    with ws.db.write() as session:
        endpoint_id = session.execute(
            select(EndpointRow.id).where(EndpointRow.name == name)
        ).scalar_one()
        for i in range(minutes):
            session.add(
                PredictionSummaryRow(
                    endpoint_id=endpoint_id,
                    version_id=version_id,
                    minute=now - timedelta(minutes=i + 1),
                    role=role,
                    requests=10,
                    errors=1 if i == 0 else 0,
                    latency_sum_ms=50.0,
                    latency_max_ms=9.0,
                    latency_buckets=[10] + [0] * 5,
                )
            )
