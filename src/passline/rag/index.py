"""The vector index of one collection: a SQLite file with a sqlite-vec ``vec0`` table.

One file per collection under the workspace home, whichever database holds the metadata.
Each indexed version of a document (its id and content digest) gets an integer key; its
chunks are rows of ``vec0`` carrying that key as a *metadata column*, with the chunk's
text and offsets as auxiliary columns. A search names the versions the reader may see
(``versions IN (...)``), and sqlite-vec applies that constraint while it scans, so a chunk
of any other document is never a candidate: the filter comes before the ranking, and the
k nearest are the k nearest *among the allowed*.

A version is written whole in one transaction (its row in ``versions`` commits with its
chunks), and a new version never overwrites the old one: the metadata database decides
which version is current, so readers see the old text or the new, never half of either.
Old versions are dropped once the metadata no longer names them.

The standard library's ``sqlite3`` cannot load extensions on many Python builds (pyenv's
and macOS's among them), so the index is opened with apsw, which ships its own SQLite
and loads sqlite-vec everywhere.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from passline.errors import Conflict, InvalidInput, MissingExtra

__all__ = ["Hit", "VectorIndex", "VersionKey"]

VersionKey = int
_FORMAT = "1"
_MAX_CHUNKS = 1 << 20  # chunk ids are version << 20 | chunk number


@dataclass(frozen=True)
class Hit:
    version: VersionKey
    chunk: int
    start: int
    end: int
    text: str
    score: float  # cosine similarity


def _connect(path: Path) -> Any:
    try:
        import apsw
        import sqlite_vec
    except ModuleNotFoundError:
        raise MissingExtra.for_extra("llm", "The vector index (sqlite-vec)") from None
    connection = apsw.Connection(str(path))
    connection.set_busy_timeout(30_000)
    connection.enable_load_extension(True)
    connection.load_extension(sqlite_vec.loadable_path())
    connection.enable_load_extension(False)
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


class VectorIndex:
    """Chunks and their embeddings for one collection; safe to share between threads."""

    def __init__(self, path: Path, dimensions: int, model: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.dimensions, self.model = path, dimensions, model
        self._db = _connect(path)
        self._lock = threading.RLock()  # apsw connections are serialised per call anyway
        self._create()

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One write transaction, taking the file's write lock at once (BEGIN IMMEDIATE) so
        that two writers queue instead of failing on a stale snapshot."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _create(self) -> None:
        with self._write():
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS versions ("
                " key INTEGER PRIMARY KEY, document_id TEXT NOT NULL, digest TEXT NOT NULL,"
                " chunks INTEGER NOT NULL, created_at REAL NOT NULL,"
                " UNIQUE (document_id, digest));"
                "CREATE VIRTUAL TABLE IF NOT EXISTS chunks USING vec0("
                f" chunk_id INTEGER PRIMARY KEY, embedding float[{self.dimensions}]"
                " distance_metric=cosine, version INTEGER,"
                " +seq INTEGER, +char_start INTEGER, +char_end INTEGER, +body TEXT);"
            )
            wanted = {"format": _FORMAT, "model": self.model, "dimensions": str(self.dimensions)}
            for key, value in wanted.items():
                self._db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, value))
            stored = dict(self._db.execute("SELECT key, value FROM meta"))
        if stored != wanted:
            raise Conflict(
                f"The vector index {self.path} was built with {stored}, not {wanted}.",
                hint="Create a new collection for another embedding model.",
            )

    def version(self, document_id: str, digest: str) -> VersionKey | None:
        """The key of a complete version of this content, if it is indexed."""
        with self._lock:
            row = self._db.execute(
                "SELECT key FROM versions WHERE document_id = ? AND digest = ?",
                (document_id, digest),
            ).fetchone()
        return None if row is None else int(row[0])

    def versions(self, pairs: Iterable[tuple[str, str]]) -> dict[str, VersionKey]:
        """document id -> key, for each (document id, digest) that is indexed."""
        wanted = dict(pairs)
        if not wanted:
            return {}
        with self._lock:
            rows = self._db.execute(
                "SELECT v.document_id, v.digest, v.key FROM versions v"
                " JOIN json_each(?) j ON v.document_id = j.value",
                (json.dumps(list(wanted)),),
            ).fetchall()
        return {doc: int(key) for doc, digest, key in rows if wanted.get(doc) == digest}

    def add_version(
        self,
        document_id: str,
        digest: str,
        spans: Sequence[tuple[int, int, str]],
        vectors: np.ndarray,
    ) -> VersionKey:
        """Write one document version (its chunks' offsets, text and vectors) in one
        transaction; an already indexed version is returned as it is."""
        if len(spans) != len(vectors) or not spans:
            raise InvalidInput(f"{len(spans)} chunks but {len(vectors)} vectors; need as many.")
        if len(spans) >= _MAX_CHUNKS or vectors.shape[1] != self.dimensions:
            raise InvalidInput(
                f"A document version holds at most {_MAX_CHUNKS - 1:,} chunks of "
                f"{self.dimensions} dimensions. Got {len(spans):,} of {vectors.shape[1]}."
            )
        blobs = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._write():
            existing = self.version(document_id, digest)
            if existing is not None:
                return existing
            self._db.execute(
                "INSERT INTO versions (document_id, digest, chunks, created_at)"
                " VALUES (?, ?, ?, ?)",
                (document_id, digest, len(spans), time.time()),
            )
            key = int(self._db.last_insert_rowid())
            self._db.executemany(
                "INSERT INTO chunks (chunk_id, embedding, version, seq, char_start, char_end,"
                " body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    ((key << 20) | i, blobs[i].tobytes(), key, i, s, e, body)
                    for i, (s, e, body) in enumerate(spans)
                ],
            )
        return key

    def drop(self, keys: Iterable[VersionKey]) -> int:
        """Delete versions and their chunks; the number of chunks removed."""
        removed = 0
        with self._write():
            for key in keys:
                row = self._db.execute(
                    "SELECT chunks FROM versions WHERE key = ?", (key,)
                ).fetchone()
                if row is None:
                    continue
                self._db.executemany(
                    "DELETE FROM chunks WHERE chunk_id = ?",
                    [((key << 20) | i,) for i in range(int(row[0]))],
                )
                self._db.execute("DELETE FROM versions WHERE key = ?", (key,))
                removed += int(row[0])
        return removed

    def stale(self, current: dict[str, str], older_than_s: float = 3600.0) -> list[VersionKey]:
        """Versions the metadata does not name (``current``: document id -> digest), older
        than ``older_than_s``: left by a replaced document or an interrupted index run.
        Younger ones may belong to an index run still in progress."""
        cutoff = time.time() - older_than_s
        with self._lock:
            rows = self._db.execute(
                "SELECT key, document_id, digest, created_at FROM versions"
            ).fetchall()
        return [int(k) for k, doc, digest, at in rows if current.get(doc) != digest and at < cutoff]

    def search(self, vector: np.ndarray, allowed: Sequence[VersionKey], k: int) -> list[Hit]:
        """The ``k`` chunks nearest to ``vector`` among the ``allowed`` versions only."""
        if not allowed:
            return []  # never an unfiltered search
        if not 1 <= k <= 100:
            raise InvalidInput(f"The 'k' must be an integer in [1, 100]. Got {k} instead.")
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        with self._lock:
            rows = self._db.execute(
                "SELECT version, seq, char_start, char_end, body, distance FROM chunks"
                " WHERE embedding MATCH ? AND k = ?"
                " AND version IN (SELECT value FROM json_each(?))"
                " ORDER BY distance",
                (query.tobytes(), k, json.dumps([int(a) for a in allowed])),
            ).fetchall()
        return [
            Hit(int(v), int(seq), int(s), int(e), body, 1.0 - float(distance))
            for v, seq, s, e, body, distance in rows
        ]

    def counts(self) -> tuple[int, int]:
        """(versions, chunks) stored, current or not."""
        with self._lock:
            row = self._db.execute("SELECT count(*), coalesce(sum(chunks), 0) FROM versions")
            versions, chunks = row.fetchone()
        return int(versions), int(chunks)

    def close(self) -> None:
        self._db.close()
