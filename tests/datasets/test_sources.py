"""Saved sources: configs with secret refs only, runs that record their outcome, and the
scheduler that claims due sources once."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from passline.core.clock import utcnow
from passline.errors import Conflict, InvalidInput, Unavailable
from passline.server.scheduler import SourceScheduler
from passline.services.sources import run_due_sources
from passline.services.workspace import Services, Workspace
from passline.store.models import SourceRow


@pytest.fixture
def svc(workspace: Workspace) -> Services:
    services = workspace.services(workspace.local_context("sdk"))
    services.projects.create("retail")
    return services


@pytest.fixture
def erp(tmp_path: Path) -> str:
    path = tmp_path / "erp.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sales (week INT, store TEXT, units REAL)")
        db.executemany(
            "INSERT INTO sales VALUES (?, ?, ?)",
            [(w, s, w * 1.5) for w in range(1, 53) for s in ("a", "b")],
        )
    return f"sqlite:///{path}"


def test_sql_source_runs_and_records_its_outcome(svc: Services, erp: str) -> None:
    source = svc.sources.add(
        "retail",
        "erp-sales",
        "sql",
        {"url": erp, "query": "SELECT * FROM sales ORDER BY week, store"},
        dataset="sales",
        schedule="0 6 * * *",
    )
    assert source.next_run_at is not None
    version = svc.sources.run("retail", "erp-sales")
    assert version.rows == 104 and version.source["kind"] == "sql"
    again = svc.sources.run("retail", "erp-sales")
    assert again.unchanged
    saved = svc.sources.get("retail", "erp-sales")
    assert saved.last_status == "ok" and "(unchanged)" in (saved.last_message or "")
    up = svc.lineage.graph(version.ref, "up")
    assert "source:retail/erp-sales" in {n.ref for n in up.nodes}


def test_configs_refuse_plain_secrets_bad_cron_and_duplicates(svc: Services, erp: str) -> None:
    with pytest.raises(InvalidInput, match="looks like a secret"):
        svc.sources.add(
            "retail",
            "api",
            "http",
            {"url": "http://x/api", "headers": {"Authorization": "Bearer s3cret"}},
            dataset="loyalty",
        )
    with pytest.raises(InvalidInput, match="contains a password"):
        svc.sources.add(
            "retail", "db", "sql", {"url": "postgresql://u:pw@h/db", "query": "x"}, dataset="x"
        )
    with pytest.raises(InvalidInput, match="cron expression"):
        svc.sources.add(
            "retail",
            "c",
            "sql",
            {"url": erp, "query": "SELECT 1"},
            dataset="c",
            schedule="every day",
        )
    with pytest.raises(InvalidInput, match="Unknown source kind"):
        svc.sources.add("retail", "k", "ftp", {}, dataset="k")
    svc.sources.add("retail", "erp", "sql", {"url": erp, "query": "SELECT 1 AS one"}, dataset="one")
    with pytest.raises(Conflict, match="already has a source named 'erp'"):
        svc.sources.add("retail", "erp", "sql", {"url": erp, "query": "SELECT 1"}, dataset="one")


def test_failing_credentials_are_recorded_without_the_secret(
    svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERP_PASSWORD", "hunter2-very-secret")
    svc.sources.add(
        "retail",
        "pg",
        "sql",
        {
            "url": "postgresql+psycopg://erp@127.0.0.1:1/erp",
            "query": "SELECT 1",
            "password_ref": "env:ERP_PASSWORD",
        },
        dataset="pg",
    )
    with pytest.raises(Unavailable) as caught:
        svc.sources.run("retail", "pg")
    assert "hunter2" not in str(caught.value)
    saved = svc.sources.get("retail", "pg")
    assert saved.last_status == "failed" and "hunter2" not in (saved.last_message or "")
    assert "hunter2" not in str(svc.audit.log())


def test_scheduler_runs_due_sources_once(svc: Services, workspace: Workspace, erp: str) -> None:
    svc.sources.add(
        "retail",
        "erp",
        "sql",
        {"url": erp, "query": "SELECT * FROM sales"},
        dataset="sales",
        schedule="*/5 * * * *",
    )
    with workspace.db.write() as session:
        session.execute(update(SourceRow).values(next_run_at=utcnow() - timedelta(minutes=1)))
    scheduler = SourceScheduler(workspace, interval_s=3600)
    assert scheduler.tick() == [("retail/erp", "ok")]
    assert run_due_sources(workspace) == []  # claimed: next run moved into the future
    saved = svc.sources.get("retail", "erp")
    assert saved.next_run_at is not None and saved.next_run_at > utcnow()
    assert [v.number for v in svc.datasets.versions("retail/sales")] == [1]
