"""Long runs whose results are stored in batches as they arrive: evaluation runs and red-team
runs. A run row moves from ``running`` to ``completed`` (with its figures) or ``failed`` (with
the error); what finished before a failure stays stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from sqlalchemy import update

from passline.core.clock import utcnow

__all__ = ["RecordedRun"]

Result = TypeVar("Result")
Progress = Callable[[int, int], None]


class RecordedRun(Generic[Result]):
    """The loop both kinds of run share; subclasses say what a result is and how it is kept.

    Subclasses set ``run_table`` (the run's ORM row), ``flush_every`` and ``slots`` (the
    semaphore bounding background runs), and implement ``total``, ``results``, ``write``,
    ``kept`` (what ``finish`` needs of a result, so a run does not hold every transcript)
    and ``finish``.
    """

    run_table: Any
    flush_every: int
    slots: threading.BoundedSemaphore

    def __init__(self, db: Any, run_id: str) -> None:
        self.db = db
        self.run_id = run_id

    def total(self) -> int:
        raise NotImplementedError

    def results(self) -> Iterator[Result]:
        raise NotImplementedError

    def write(self, results: list[Result]) -> None:
        raise NotImplementedError

    def kept(self, result: Result) -> Any:
        return result

    def finish(self, kept: list[Any], duration_s: float) -> None:
        raise NotImplementedError

    def background(self) -> None:
        """In a server thread: the failure is recorded on the run, not raised."""
        try:
            self.execute(None, reraise=False)
        finally:
            self.slots.release()

    def execute(self, progress: Progress | None, reraise: bool = True) -> None:
        started = time.perf_counter()
        kept: list[Any] = []
        pending: list[Result] = []
        total = self.total()
        try:
            for result in self.results():
                kept.append(self.kept(result))
                pending.append(result)
                if len(pending) >= self.flush_every:
                    self.write(pending)
                    pending = []
                if progress is not None:
                    progress(len(kept), total)
            if pending:
                self.write(pending)
            self.finish(kept, time.perf_counter() - started)
        except BaseException as exc:
            self.fail(f"{type(exc).__name__}: {getattr(exc, 'message', exc)}")
            if reraise or not isinstance(exc, Exception):
                raise

    def fail(self, message: str) -> None:
        with self.db.write() as session:
            session.execute(
                update(self.run_table)
                .where(self.run_table.id == self.run_id)
                .values(status="failed", message=message[:2000], finished_at=utcnow())
            )
