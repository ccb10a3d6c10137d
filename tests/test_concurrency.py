"""Four processes writing to one SQLite workspace: no "database is locked" reaches anyone."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from passline.services.workspace import Workspace
from passline.settings import Settings

WRITERS = 4
CALLS = 40


def _writer(home: str, index: int, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        workspace = Workspace.open(Settings(home=Path(home)))
        svc = workspace.services(workspace.local_context("sdk"))
        svc.projects.create(f"p{index}")
        for call in range(CALLS):
            ref = f"source:w{index}-{call}"
            svc.lineage.register(ref, ref, f"p{index}")
            svc.lineage.link(ref, f"project:p{index}", "describes")
        workspace.close()
        queue.put((index, "ok"))
    except Exception as exc:  # report, do not hang the parent
        queue.put((index, f"{type(exc).__name__}: {exc}"))


@pytest.mark.serial
def test_four_processes_write_one_sqlite_workspace(tmp_path: Path) -> None:
    home = tmp_path / "shared"
    Workspace.open(Settings(home=home)).close()  # created once, as `passline init` would
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(home), i, queue)) for i in range(WRITERS)]
    for proc in procs:
        proc.start()
    results = dict(queue.get(timeout=240) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    assert results == {i: "ok" for i in range(WRITERS)}
    workspace = Workspace.open(Settings(home=home))
    svc = workspace.services(workspace.local_context())
    verification = svc.audit.verify()
    # bootstrap + per writer: project + CALLS * (register + link)
    assert verification.ok and verification.checked == 1 + WRITERS * (1 + 2 * CALLS)
    workspace.close()


@pytest.mark.serial
def test_processes_opening_a_fresh_workspace_at_once_migrate_once(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(home), i, queue)) for i in range(WRITERS)]
    for proc in procs:
        proc.start()
    results = dict(queue.get(timeout=240) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    assert results == {i: "ok" for i in range(WRITERS)}
