"""Runs as plain rows: the SQL behind tracking's most frequent calls.

Logging a metric point and searching a page of runs are the calls a training loop and a
dashboard make most. Through the ORM, most of their time went to SQLAlchemy rather than to
the database: building cache keys, compiling, and loading (then garbage-collecting) ORM
objects (docs/benchmarks.md, the registry section). Here the statements are built once, run
on the session's connection and read as tuples, and a metric's latest value is kept by one
``INSERT ... ON CONFLICT DO UPDATE`` that compares (step, timestamp) in the database:

- the highest step wins, and on the same step the latest timestamp (a tie goes to the
  newer write), as before;
- two writers on one run cannot lose an update: PostgreSQL evaluates the condition on the
  locked row, and SQLite runs one writer at a time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import Insert, Select

from passline.store.models import (
    DatasetRow,
    DatasetVersionRow,
    ExperimentRow,
    LatestMetricRow,
    MembershipRow,
    MetricRow,
    ProjectRow,
    RunArtifactRow,
    RunInputRow,
    RunParamRow,
    RunRow,
    RunTagRow,
)

__all__ = [
    "ARTIFACTS",
    "EXPERIMENTS",
    "INPUTS",
    "LATEST",
    "MEMBERS",
    "METRICS",
    "PARAMS",
    "PROJECTS",
    "RUNS",
    "RUN_HEAD",
    "TAGS",
    "RunDetails",
    "existing_params",
    "insert_metrics",
    "insert_params",
    "run_access",
    "upsert_tags",
]

RUNS = RunRow.__table__
EXPERIMENTS = ExperimentRow.__table__
PROJECTS = ProjectRow.__table__
MEMBERS = MembershipRow.__table__
METRICS = MetricRow.__table__
LATEST = LatestMetricRow.__table__
PARAMS = RunParamRow.__table__
TAGS = RunTagRow.__table__
INPUTS = RunInputRow.__table__
ARTIFACTS = RunArtifactRow.__table__

# A run with its experiment and project, in the order tracking's ``_run_entity`` reads them.
RUN_HEAD: Select[Any] = select(
    RUNS.c.id,
    RUNS.c.name,
    RUNS.c.status,
    RUNS.c.start_time,
    RUNS.c.end_time,
    RUNS.c.user,
    RUNS.c.entry_point,
    RUNS.c.code,
    RUNS.c.environment,
    EXPERIMENTS.c.id.label("experiment_id"),
    EXPERIMENTS.c.name.label("experiment"),
    PROJECTS.c.name.label("project"),
).select_from(
    RUNS.join(EXPERIMENTS, EXPERIMENTS.c.id == RUNS.c.experiment_id).join(
        PROJECTS, PROJECTS.c.id == EXPERIMENTS.c.project_id
    )
)

# The project a run belongs to and the caller's role there (None: not a member).
_ACCESS = (
    select(PROJECTS.c.name, MEMBERS.c.role)
    .select_from(
        RUNS.join(EXPERIMENTS, EXPERIMENTS.c.id == RUNS.c.experiment_id)
        .join(PROJECTS, PROJECTS.c.id == EXPERIMENTS.c.project_id)
        .outerjoin(
            MEMBERS,
            and_(
                MEMBERS.c.project_id == PROJECTS.c.id,
                MEMBERS.c.user_id == bindparam("user_id"),
            ),
        )
    )
    .where(RUNS.c.id == bindparam("run_id"))
)

_INSERT_METRICS = METRICS.insert()
_INSERT_PARAMS = PARAMS.insert()
_EXISTING_PARAMS = select(PARAMS.c.key, PARAMS.c.value).where(
    PARAMS.c.run_id == bindparam("run_id"), PARAMS.c.key.in_(bindparam("keys", expanding=True))
)


def _dialect_insert(dialect: str, table: Any) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def _latest_upsert(dialect: str) -> Insert:
    statement = _dialect_insert(dialect, LATEST)
    new = statement.excluded
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[LATEST.c.run_id, LATEST.c.key],
        set_={c: new[c] for c in ("value", "is_nan", "step", "timestamp")},
        where=or_(
            new.step > LATEST.c.step,
            and_(new.step == LATEST.c.step, new.timestamp >= LATEST.c.timestamp),
        ),
    )


def _tag_upsert(dialect: str) -> Insert:
    statement = _dialect_insert(dialect, TAGS)
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[TAGS.c.run_id, TAGS.c.key], set_={"value": statement.excluded.value}
    )


_UPSERTS = {
    (kind, dialect): build(dialect)
    for kind, build in (("latest", _latest_upsert), ("tags", _tag_upsert))
    for dialect in ("sqlite", "postgresql")
}


def _upsert(conn: Connection, kind: str) -> Insert:
    dialect = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"
    return _UPSERTS[kind, dialect]


def run_access(conn: Connection, run_id: str, user_id: str) -> tuple[str, str | None] | None:
    """(project name, the user's role there or None), or None when there is no such run."""
    found = conn.execute(_ACCESS, {"run_id": run_id, "user_id": user_id}).first()
    return None if found is None else (found[0], found[1])


def insert_metrics(conn: Connection, run_id: str, points: list[dict[str, Any]]) -> None:
    """Every point into the history, and each key's latest point into the latest values
    (``points`` are tracking's own dicts: each gets its ``run_id`` here)."""
    latest: dict[str, dict[str, Any]] = {}
    for point in points:  # per key, the highest (step, timestamp); a tie goes to the later
        point["run_id"] = run_id
        best = latest.get(point["key"])
        if best is None or (point["step"], point["timestamp"]) >= (
            best["step"],
            best["timestamp"],
        ):
            latest[point["key"]] = point
    conn.execute(_INSERT_METRICS, points)
    conn.execute(_upsert(conn, "latest"), list(latest.values()))


def existing_params(conn: Connection, run_id: str, keys: Iterable[str]) -> dict[str, str]:
    found = conn.execute(_EXISTING_PARAMS, {"run_id": run_id, "keys": list(keys)})
    return {key: value for key, value in found}


def insert_params(conn: Connection, run_id: str, values: dict[str, str]) -> None:
    conn.execute(
        _INSERT_PARAMS, [{"run_id": run_id, "key": k, "value": v} for k, v in values.items()]
    )


def upsert_tags(conn: Connection, run_id: str, tags: dict[str, str]) -> None:
    conn.execute(
        _upsert(conn, "tags"), [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
    )


def _among(column: Any, variant: str) -> ColumnElement[bool]:
    """``column IN (the ids)``, the ids bound as one parameter where the database allows: a
    thousand separate parameters cost more to bind than the query costs to run."""
    if variant == "postgresql":
        return column == any_(bindparam("ids", type_=ARRAY(String)))
    if variant == "sqlite-json":
        each = select(literal_column("value")).select_from(func.json_each(bindparam("ids")))
        return column.in_(each)  # type: ignore[no-any-return]
    return column.in_(bindparam("ids", expanding=True))  # type: ignore[no-any-return]


def _details(variant: str) -> dict[str, Select[Any]]:
    versions, datasets = DatasetVersionRow.__table__, DatasetRow.__table__
    return {
        "params": select(PARAMS.c.run_id, PARAMS.c.key, PARAMS.c.value).where(
            _among(PARAMS.c.run_id, variant)
        ),
        "tags": select(TAGS.c.run_id, TAGS.c.key, TAGS.c.value).where(
            _among(TAGS.c.run_id, variant)
        ),
        "metrics": select(LATEST.c.run_id, LATEST.c.key, LATEST.c.value, LATEST.c.is_nan).where(
            _among(LATEST.c.run_id, variant)
        ),
        "inputs": select(
            INPUTS.c.run_id,
            INPUTS.c.dataset_version_id,
            INPUTS.c.context,
            versions.c.number,
            datasets.c.name,
            PROJECTS.c.name,
        )
        .select_from(
            INPUTS.join(versions, versions.c.id == INPUTS.c.dataset_version_id)
            .join(datasets, datasets.c.id == versions.c.dataset_id)
            .join(PROJECTS, PROJECTS.c.id == datasets.c.project_id)
        )
        .where(_among(INPUTS.c.run_id, variant)),
        "artifacts": select(
            ARTIFACTS.c.run_id,
            ARTIFACTS.c.path,
            ARTIFACTS.c.digest,
            ARTIFACTS.c.size,
            ARTIFACTS.c.artifact_id,
        ).where(_among(ARTIFACTS.c.run_id, variant)),
    }


_DETAILS = {v: _details(v) for v in ("postgresql", "sqlite-json", "sqlite")}


@cache
def _sqlite_has_json() -> bool:
    """Whether this Python's SQLite has the JSON functions (built in since 3.38)."""
    with closing(sqlite3.connect(":memory:")) as probe:
        try:
            probe.execute("SELECT value FROM json_each('[1]')").close()
        except sqlite3.OperationalError:
            return False
    return True


def _variant(conn: Connection) -> str:
    if conn.dialect.name == "postgresql":
        return "postgresql"
    return "sqlite-json" if _sqlite_has_json() else "sqlite"


class RunDetails:
    """Params, latest metrics, tags, inputs and artifacts of some runs, by run id: five
    queries however many runs there are."""

    def __init__(self, conn: Connection, ids: Sequence[str]) -> None:
        variant = _variant(conn)
        statements = _DETAILS[variant]
        bound = {"ids": json.dumps(list(ids)) if variant == "sqlite-json" else list(ids)}

        def rows(name: str) -> Iterable[Any]:
            return conn.execute(statements[name], bound)

        self.params = _by_key(rows("params"))
        self.tags = _by_key(rows("tags"))
        self.metrics = _by_key((run, key, (value, nan)) for run, key, value, nan in rows("metrics"))
        self.inputs = _by_run((row[0], _input(*row[1:])) for row in rows("inputs"))
        self.artifacts = _by_run((row[0], _artifact(*row[1:])) for row in rows("artifacts"))


def _by_key(rows: Iterable[tuple[str, str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for run_id, key, value in rows:
        out.setdefault(run_id, {})[key] = value
    return out


def _by_run(rows: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for run_id, item in rows:
        out.setdefault(run_id, []).append(item)
    return out


def _input(version: str, context: str, number: int, dataset: str, project: str) -> dict[str, Any]:
    return {
        "dataset": f"{project}/{dataset}",
        "version": version,
        "label": f"{project}/{dataset}@v{number}",
        "context": context,
    }


def _artifact(path: str, digest: str, size: int, artifact_id: str) -> dict[str, Any]:
    return {"path": path, "digest": digest, "size": size, "artifact_id": artifact_id}
