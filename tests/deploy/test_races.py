"""Writers racing for the next version number, on SQLite and on PostgreSQL.

Threads of one process race exactly like replicas do: each has its own connection and
transaction. SQLite queues writers (BEGIN IMMEDIATE); PostgreSQL lets their transactions
overlap, and the loser of a unique-key race re-runs its transaction.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from passline.errors import Conflict
from passline.services.workspace import Services, Workspace
from passline.settings import Settings
from passline.store.db import retry_on_conflict
from passline.store.models import ProjectRow
from tests.deploy._model import Doubler

WRITERS = 8


@pytest.fixture
def svc(any_settings: Settings) -> Iterator[Services]:
    workspace = Workspace.open(any_settings)
    services = workspace.services(workspace.local_context("sdk"))
    services.projects.create("shop")
    yield services
    workspace.close()


def _at_once(task: Callable[[int], Any], count: int = WRITERS * 2) -> list[Any]:
    with ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(task, range(count)))


def test_versions_of_one_model_are_unique_and_contiguous(svc: Services) -> None:
    blob = pickle.dumps(Doubler())

    def register(index: int) -> int:
        stream = io.BytesIO(blob + bytes([index]))  # distinct files, one model
        return svc.registry.register_file("shop/doubler", "shop", stream, "model.pkl").version

    numbers = _at_once(register)
    assert sorted(numbers) == list(range(1, len(numbers) + 1))
    assert svc.audit.verify().ok


def test_prompt_versions_and_experiments_are_created_once(svc: Services) -> None:
    versions = _at_once(lambda i: svc.prompts.create("shop/hello", f"Hello #{i}").version)
    assert sorted(versions) == list(range(1, len(versions) + 1))
    experiments = _at_once(lambda i: svc.tracking.ensure_experiment("shop", "training").id)
    assert len(set(experiments)) == 1
    assert svc.audit.verify().ok


@pytest.mark.postgres
def test_a_race_lost_too_often_is_a_conflict(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("passline.store.db.time.sleep", lambda _s: None)  # no backoff here
    ws = Workspace.open(Settings(home=tmp_path / "home", database_url=postgres_url))
    ws.services(ws.local_context("sdk")).projects.create("shop")
    attempts = []

    @retry_on_conflict
    def insert_taken_name() -> None:
        attempts.append(1)
        with ws.db.write() as session:
            taken = session.execute(select(ProjectRow)).scalars().first()
            assert taken is not None
            session.add(ProjectRow(**{**_columns(taken), "id": f"prj_dup{len(attempts)}"}))

    with pytest.raises(Conflict, match="Another writer changed the same object"):
        insert_taken_name()
    assert len(attempts) == 8
    ws.close()


def _columns(row: ProjectRow) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in ProjectRow.__table__.columns}


def test_gateways_flushing_the_same_minute_lose_no_count(svc: Services) -> None:
    from passline.core.clock import utcnow
    from passline.serving.log import PredictionLog, PredictionRecord

    stream = io.BytesIO(pickle.dumps(Doubler()))
    version = svc.registry.register_file("shop/doubler", "shop", stream, "model.pkl")
    svc.registry.set_alias("shop/doubler", "production", version.version)
    endpoint = svc.endpoints.create("shop", "doubler", "shop/doubler")
    at = utcnow()
    logs = [PredictionLog(svc.workspace) for _ in range(WRITERS)]

    def flush(index: int) -> int:
        log = logs[index % WRITERS]
        for n in range(3):
            record = PredictionRecord(
                f"req-{index}-{n}",
                at,
                endpoint.id,
                version.id,
                version.version,
                "primary",
                200,
                1.0,
            )
            log.record(record)
        return log.flush()

    assert sum(_at_once(flush, WRITERS * 3)) == WRITERS * 3 * 3
    totals = svc.monitoring.dashboard("shop/doubler")["totals"]
    assert totals["requests"] == WRITERS * 3 * 3
