"""The prediction log: every request, written asynchronously in batches.

A request only puts a record on a queue. A writer thread wakes every second (or when
``batch_size`` records are waiting), writes one Parquet file per endpoint and day
(``predictions/endpoint=ID/date=YYYY-MM-DD/<writer>-<n>.parquet``, written under a temporary
name and renamed) with a row per predicted row, and folds the batch into per-minute
summaries in the database with one upsert per (endpoint, version, role, minute). The
request never waits on the database or the disk. Each worker writes its own files, so
replicas never share a file.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from passline.core.ids import new_id
from passline.store.db import retry_on_conflict
from passline.store.models import PredictionRequestRow, PredictionSummaryRow
from passline.store.prediction_log import LATENCY_BUCKETS_MS, LOG_SCHEMA, latency_bucket

__all__ = ["PredictionLog", "PredictionRecord"]

log = logging.getLogger("passline.serving")
REDACTED = "***"


@dataclass
class PredictionRecord:
    request_id: str
    at: datetime
    endpoint_id: str
    version_id: str
    version: int
    role: str  # primary | canary | shadow
    status: int
    latency_ms: float
    inputs: pa.Table | None = None
    outputs: list[Any] = field(default_factory=list)
    error: str | None = None
    keys: list[str] | None = None


class PredictionLog:
    def __init__(self, workspace: Any, flush_s: float = 1.0, batch_size: int = 5000) -> None:
        self.workspace = workspace
        self.root = Path(workspace.settings.home) / "predictions"
        self.flush_s = flush_s
        self.batch_size = batch_size
        self.writer_id = f"{os.getpid()}-{new_id('w')[-8:]}"
        self._queue: queue.Queue[PredictionRecord] = queue.Queue(maxsize=200_000)
        self._stop = threading.Event()
        self._sequence = 0
        self._thread = threading.Thread(
            target=self._run, name="passline-prediction-log", daemon=True
        )
        self._redact: dict[str, set[str]] = {}
        # One flush at a time: a flush() called while the writer thread is writing a batch
        # returns only once that batch is in the files and the database.
        self._flushing = threading.Lock()
        self.dropped = 0

    def start(self) -> PredictionLog:
        self._thread.start()
        return self

    def record(self, item: PredictionRecord, redact: Iterable[str] = ()) -> None:
        """Queue a record; never blocks a request (a full queue drops and counts it)."""
        self._redact[item.endpoint_id] = set(redact)
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            try:
                self.flush()
            except Exception:  # the log must never take the gateway down
                log.exception("writing the prediction log failed")

    def flush(self) -> int:
        """Write what is queued now; returns the number of requests written."""
        with self._flushing:
            batch: list[PredictionRecord] = []
            while len(batch) < self.batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if batch:
                self._write_files(batch)
                self._write_summaries(batch)
            return len(batch)

    # -- Parquet ----------------------------------------------------------------------------

    def _write_files(self, batch: list[PredictionRecord]) -> None:
        groups: dict[tuple[str, str, str], list[PredictionRecord]] = {}
        for item in batch:
            key = (item.endpoint_id, item.at.strftime("%Y-%m-%d"), item.version_id)
            groups.setdefault(key, []).append(item)
        for (endpoint, day, _), items in groups.items():
            folder = self.root / f"endpoint={endpoint}" / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            self._sequence += 1
            target = folder / f"{self.writer_id}-{self._sequence:06d}.parquet"
            tmp = target.with_suffix(".tmp")
            pq.write_table(_rows(items, self._redact.get(endpoint, set())), tmp, compression="zstd")
            os.replace(tmp, target)

    # -- summaries ----------------------------------------------------------------------------

    @retry_on_conflict  # two replicas may insert the same minute's row at once
    def _write_summaries(self, batch: list[PredictionRecord]) -> None:
        folded: dict[tuple[str, str, datetime, str], dict[str, Any]] = {}
        for item in batch:
            minute = item.at.replace(second=0, microsecond=0)
            key = (item.endpoint_id, item.version_id, minute, item.role)
            entry = folded.setdefault(
                key,
                {
                    "requests": 0,
                    "errors": 0,
                    "rows": 0,
                    "sum": 0.0,
                    "max": 0.0,
                    "buckets": [0] * (len(LATENCY_BUCKETS_MS) + 1),
                },
            )
            entry["requests"] += 1
            entry["errors"] += int(item.status >= 500)
            entry["rows"] += len(item.outputs)
            entry["sum"] += item.latency_ms
            entry["max"] = max(entry["max"], item.latency_ms)
            entry["buckets"][latency_bucket(item.latency_ms)] += 1
        with self.workspace.db.write() as session:
            _insert_requests(session, batch)
            for (endpoint, version, minute, role), entry in folded.items():
                row = session.execute(
                    select(PredictionSummaryRow)
                    .where(
                        PredictionSummaryRow.endpoint_id == endpoint,
                        PredictionSummaryRow.version_id == version,
                        PredictionSummaryRow.minute == minute,
                        PredictionSummaryRow.role == role,
                    )
                    # Locked: another replica's increment must land before this one reads.
                    .with_for_update()
                ).scalar_one_or_none()
                if row is None:
                    session.add(
                        PredictionSummaryRow(
                            endpoint_id=endpoint,
                            version_id=version,
                            minute=minute,
                            role=role,
                            requests=entry["requests"],
                            errors=entry["errors"],
                            rows=entry["rows"],
                            latency_sum_ms=entry["sum"],
                            latency_max_ms=entry["max"],
                            latency_buckets=entry["buckets"],
                        )
                    )
                    continue
                row.requests += entry["requests"]
                row.errors += entry["errors"]
                row.rows += entry["rows"]
                row.latency_sum_ms += entry["sum"]
                row.latency_max_ms = max(row.latency_max_ms, entry["max"])
                row.latency_buckets = [
                    a + b
                    for a, b in zip(
                        row.latency_buckets or [0] * len(entry["buckets"]),
                        entry["buckets"],
                        strict=True,
                    )
                ]


def _insert_requests(session: Any, batch: list[PredictionRecord]) -> None:
    """The requests labels can later join to, in one multi-row insert."""
    from passline.services.lineage import insert_ignore

    insert_ignore(
        session,
        PredictionRequestRow.__table__,
        [
            {
                "request_id": item.request_id,
                "role": item.role,
                "endpoint_id": item.endpoint_id,
                "version_id": item.version_id,
                "at": item.at,
                "rows": max(len(item.outputs), 1),
                "status": item.status,
            }
            for item in batch
        ],
    )


def _rows(items: list[PredictionRecord], redact: set[str]) -> pa.Table:
    """One log row per predicted row: the request's fields, its inputs, its output."""
    columns: dict[str, list[Any]] = {
        k: []
        for k in (
            "request_id",
            "row",
            "at",
            "version_id",
            "version",
            "role",
            "status",
            "latency_ms",
            "prediction",
            "error",
            "inputs",
            "key",
        )
    }
    for item in items:
        inputs = _input_rows(item.inputs, redact)
        count = max(len(item.outputs), len(inputs), 1)
        for index in range(count):
            columns["request_id"].append(item.request_id)
            columns["row"].append(index)
            columns["at"].append(item.at)
            columns["version_id"].append(item.version_id)
            columns["version"].append(item.version)
            columns["role"].append(item.role)
            columns["status"].append(item.status)
            columns["latency_ms"].append(item.latency_ms)
            columns["prediction"].append(
                json.dumps(item.outputs[index]) if index < len(item.outputs) else None
            )
            columns["error"].append(item.error)
            columns["inputs"].append(
                json.dumps(inputs[index], default=str) if index < len(inputs) else None
            )
            columns["key"].append(
                item.keys[index] if item.keys and index < len(item.keys) else None
            )
    return pa.table(columns, schema=LOG_SCHEMA)


def _input_rows(table: pa.Table | None, redact: set[str]) -> list[dict[str, Any]]:
    if table is None:
        return []
    rows = table.to_pylist()
    if redact:
        for row in rows:
            for name in redact & row.keys():
                row[name] = REDACTED
    return rows
