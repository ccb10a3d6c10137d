"""Engines and transactions for SQLite (embedded) and PostgreSQL (at scale).

SQLite is put in WAL mode so readers never block the writer, and every write transaction
starts with ``BEGIN IMMEDIATE``: the write lock is taken before any work is done, so a busy
database makes the writer *wait* (busy timeout, then a retry with backoff) instead of
failing half-way with "database is locked", which a deferred transaction does when it
tries to upgrade its read lock.

PostgreSQL runs transactions concurrently. Writers that number versions lock the parent row
first (``SELECT ... FOR UPDATE``), so they take turns; what is left (two replicas creating
the same model at once, a deadlock) ends in a unique violation or an abort for one of them.
The service methods that number or get-or-create rows are wrapped in
:func:`retry_on_conflict`, which re-runs the loser's whole transaction (it re-reads, so it
finds the winner's row); after the last attempt the caller gets a ``Conflict`` (HTTP 409).
"""

from __future__ import annotations

import functools
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from passline.errors import Conflict, MissingExtra, Unavailable
from passline.settings import Settings, redact_url

__all__ = ["Database", "retry_on_conflict"]

_BEGIN_RETRIES = 8
_CONFLICT_RETRIES = 8
# unique_violation, serialization_failure, deadlock_detected
_RACE_STATES = frozenset({"23505", "40001", "40P01"})
P = ParamSpec("P")
T = TypeVar("T")


class Database:
    """The metadata database: a write engine, a read engine and their sessions."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.resolved_database_url
        self.display_url = redact_url(self.url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        if self.dialect == "sqlite":
            self.write_engine = _sqlite_engine(self.url, settings, "BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(self.url, settings, "BEGIN")
        else:
            self.write_engine = self.read_engine = _server_engine(self.url, settings)
        self._writer = sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False)

    def check_connection(self) -> None:
        """Connect once, turning a driver failure into a message that names the URL."""
        try:
            with self.read_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError) as exc:
            raise self.unavailable(exc) from None

    def unavailable(self, exc: Exception) -> Unavailable:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        password = _password_of(self.url)
        if password:
            reason = reason.replace(password, "***")
        return Unavailable(
            f"Cannot connect to the metadata database at {self.display_url}: {reason}",
            hint="Check that the server runs and that PASSLINE_DATABASE_URL is right.",
        )

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error."""
        with self._guard(), self._writer.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._guard(), self._reader() as session:
            yield session

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            if _is_connection_failure(exc):
                raise self.unavailable(exc) from None
            if _lost_race(exc):
                raise RaceLost() from exc
            raise
        except IntegrityError as exc:
            if _lost_race(exc):
                raise RaceLost() from exc
            raise

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


class RaceLost(Conflict):
    """A concurrent writer committed the same key (or a deadlock victim was picked)."""

    def __init__(self) -> None:
        super().__init__(
            "Another writer changed the same object at the same moment.",
            hint="Retry the request; it will see the other writer's change.",
        )


def retry_on_conflict(method: Callable[P, T]) -> Callable[P, T]:
    """Re-run ``method`` when its write transaction lost a race to a concurrent one.

    The method must do its reads inside the transaction (then a retry re-reads) and nothing
    irreversible outside it apart from content-addressed blob writes, which are idempotent.
    """

    @functools.wraps(method)
    def retrying(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(_CONFLICT_RETRIES):
            try:
                return method(*args, **kwargs)
            except RaceLost:
                if attempt == _CONFLICT_RETRIES - 1:
                    raise
                time.sleep(min(0.5, 0.02 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    return retrying


def _lost_race(exc: DBAPIError) -> bool:
    # SQLite serialises writers (BEGIN IMMEDIATE), so a unique violation there is no race.
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return state in _RACE_STATES


def _sqlite_engine(url: str, settings: Settings, begin: str) -> Engine:
    # The workspace holds every project's metadata: readable by its owner only.
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    database = url.removeprefix("sqlite:///")
    if database and database != ":memory:" and not os.path.exists(database):
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
    engine = create_engine(
        url,
        connect_args={"timeout": settings.sqlite_busy_timeout_s, "check_same_thread": False},
    )
    busy_ms = int(settings.sqlite_busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control from the driver so that our BEGIN is the one that runs.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        _begin_with_retry(conn, begin)

    return engine


def _begin_with_retry(conn: Any, statement: str) -> None:
    # Retrying here is safe: nothing has been done in the transaction yet.
    for attempt in range(_BEGIN_RETRIES):
        try:
            conn.exec_driver_sql(statement)
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == _BEGIN_RETRIES - 1:
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))


def _server_engine(url: str, settings: Settings) -> Engine:
    try:
        return create_engine(
            url,
            pool_size=settings.pool_size,
            max_overflow=settings.pool_size * 2,
            pool_pre_ping=True,
            # psycopg prepares a statement after 5 runs and PostgreSQL may then keep a generic
            # plan made while a table was empty (a full scan of lineage_edges per walk, seen in
            # bench/). Custom plans cost a little planning and never go stale.
            connect_args={"prepare_threshold": None} if "psycopg" in url else {},
        )
    except ModuleNotFoundError as exc:
        raise MissingExtra.for_extra("postgres", f"The database URL {redact_url(url)}") from exc


def _password_of(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password  # type: ignore[return-value]
    except Exception:
        return None


def _is_connection_failure(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return any(
        marker in message
        for marker in ("connection", "could not connect", "unable to open", "server closed")
    )
