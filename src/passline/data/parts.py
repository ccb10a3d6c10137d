"""Writing record batches as one content-addressed Parquet part, and reading parts back.

A dataset version is a list of parts (see ``services/datasets.py``). A part is written in
one streaming pass: each batch goes to the Parquet writer, whose bytes are hashed as they
land in the artifact store's spool, and to the observers (profile, PII scan, quality
expectations). Memory is bounded by one batch plus the writer's buffers, never the source.
Nothing is visible until the spool file is renamed to its digest.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import Any, BinaryIO, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from passline.artifacts.store import ArtifactStore, BlobWriter
from passline.errors import IntegrityError, InvalidInput

__all__ = ["BatchObserver", "NoBatches", "PartInfo", "read_part", "write_part"]


class NoBatches(InvalidInput):
    """The source yielded nothing at all: no rows and so no schema (an idle stream)."""

    def __init__(self) -> None:
        super().__init__("The source produced no rows and no columns.", hint="Check the source.")


class BatchObserver(Protocol):
    def update(self, batch: pa.RecordBatch) -> None: ...


#: Called once with the schema before anything is stored; raises to refuse it, and returns
#: the observers (profile, scans, checks) that will see every batch.
OnSchema = Callable[[pa.Schema], list[BatchObserver]]


@dataclass(frozen=True)
class PartInfo:
    """A stored Parquet part. ``digest`` addresses the stored bytes (ciphertext when
    encrypted); ``plain_digest`` is the Parquet content's, which names the version."""

    digest: str
    plain_digest: str
    rows: int
    bytes: int
    created: bool
    encrypted: bool = False
    key_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "plain_digest": self.plain_digest,
            "rows": self.rows,
            "bytes": self.bytes,
            "encrypted": self.encrypted,
            "key_id": self.key_id,
        }


class _SpoolSink(io.RawIOBase):
    """The file object Parquet writes into: forwards to the store's hashing spool."""

    def __init__(self, writer: BlobWriter) -> None:
        self._writer = writer
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._writer.write(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position


def write_part(
    batches: Iterable[pa.RecordBatch],
    store: ArtifactStore,
    *,
    on_schema: OnSchema | None = None,
    schema: pa.Schema | None = None,
    encryptor: Callable[[Path], tuple[Path, str]] | None = None,
    row_group_bytes: int = 64 << 20,
) -> tuple[PartInfo, pa.Schema]:
    """Write ``batches`` as one Parquet part; return it and the schema written.

    ``on_schema`` runs once on the first batch's schema, before anything is stored, so a
    refused schema costs nothing. ``encryptor`` turns the finished plaintext spool into a
    ciphertext file (and names the key) for restricted datasets.
    """
    observers: list[BatchObserver] = []
    writer = store.writer()
    parquet: pq.ParquetWriter | None = None
    group = _RowGroup(row_group_bytes)
    rows = 0
    try:
        for batch in prefetch(batches):
            if parquet is None:
                schema = schema or batch.schema
                observers = on_schema(schema) if on_schema else []
                parquet = pq.ParquetWriter(_SpoolSink(writer), schema, compression="zstd")
            batch = _conform(batch, schema)  # type: ignore[arg-type]
            for observer in observers:
                observer.update(batch)
            group.add(batch, parquet)
            rows += batch.num_rows
        if parquet is not None:
            group.flush(parquet)
        if parquet is None:
            if schema is None:
                raise NoBatches()
            observers = on_schema(schema) if on_schema else []
            parquet = pq.ParquetWriter(_SpoolSink(writer), schema, compression="zstd")
        parquet.close()
        return _commit(writer, rows, encryptor, store), schema  # type: ignore[return-value]
    except BaseException:
        with contextlib.suppress(Exception):
            group.wait()
        if parquet is not None:
            with contextlib.suppress(Exception):  # its footer is never read: the spool goes
                parquet.close()
        raise
    finally:
        writer.abort()


class _RowGroup:
    """Batches buffered into row groups of about ``limit`` bytes, written on a helper
    thread: parser-sized groups (a few MB) compress a third worse and encode slower, and
    Parquet encoding releases the GIL, so it runs beside the profile of the next batches.
    One group is written at a time, which bounds the memory held to two groups."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.batches: list[pa.RecordBatch] = []
        self.size = 0
        self._pool: ThreadPoolExecutor | None = None
        self._writing: Future[None] | None = None

    def add(self, batch: pa.RecordBatch, parquet: pq.ParquetWriter) -> None:
        self.batches.append(batch)
        self.size += batch.nbytes
        if self.size >= self.limit:
            self._submit(parquet)

    def flush(self, parquet: pq.ParquetWriter) -> None:
        """Write what is buffered and wait for every write to finish."""
        self._submit(parquet)
        self.wait()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def wait(self) -> None:
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()

    def _submit(self, parquet: pq.ParquetWriter) -> None:
        self.wait()
        if not self.batches:
            return
        table = pa.Table.from_batches(self.batches)
        self.batches, self.size = [], 0
        self._pool = self._pool or ThreadPoolExecutor(1, thread_name_prefix="passline-parquet")
        self._writing = self._pool.submit(
            parquet.write_table, table, row_group_size=max(table.num_rows, 1)
        )


_DONE = object()


def prefetch(batches: Iterable[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Read the next batches on a helper thread while this one works on the current one.

    Parsing (Arrow) releases the GIL, so reading overlaps profiling and writing. At most
    ``depth`` batches wait in the queue; an error in the reader is raised here, and the
    reader stops when this generator is closed early.
    """
    queue: Queue[object] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                queue.put(batch)
            queue.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            queue.put(exc)

    reader = threading.Thread(target=produce, name="passline-read", daemon=True)
    reader.start()
    try:
        while (item := queue.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue
            with contextlib.suppress(Empty):
                queue.get(timeout=0.05)
        reader.join()


def _commit(
    writer: BlobWriter,
    rows: int,
    encryptor: Callable[[Path], tuple[Path, str]] | None,
    store: ArtifactStore,
) -> PartInfo:
    if encryptor is None:
        blob = writer.commit()
        return PartInfo(blob.digest, blob.digest, rows, blob.size, blob.created)
    plain_digest, spool = writer.finish_spool()
    cipher_path, key_id = encryptor(spool)
    try:
        blob = store.put_file(cipher_path)
    finally:
        cipher_path.unlink(missing_ok=True)
    return PartInfo(blob.digest, plain_digest, rows, blob.size, blob.created, True, key_id)


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Cast a later batch to the first batch's schema; name the column that does not fit."""
    if batch.schema.equals(schema):
        return batch
    if batch.schema.names != schema.names:
        raise InvalidInput(
            f"A later batch has columns {batch.schema.names}, the first had {schema.names}.",
            hint="Every file or page of one ingest must have the same columns.",
        )
    try:
        return batch.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(
            f"A later batch does not fit the schema of the first: {exc}.",
            hint="Declare the column's type up front (e.g. --type col=string).",
        ) from None


def read_part(
    part: dict[str, Any],
    store: ArtifactStore,
    decrypt: Callable[[BinaryIO], Iterator[bytes]] | None = None,
    columns: list[str] | None = None,
) -> pa.Table:
    """Read a part into memory after checking its digest (decrypting it when needed)."""
    buffer = pa.BufferOutputStream()
    if not part.get("encrypted"):
        for chunk in store.iter_verified(part["digest"]):
            buffer.write(chunk)
        return pq.read_table(pa.BufferReader(buffer.getvalue()), columns=columns)
    if decrypt is None:
        raise IntegrityError(f"Part {part['digest'][:12]} is encrypted and no key provider is set.")
    for _ in store.iter_verified(part["digest"]):
        pass  # the stored ciphertext is intact; the AEAD tags then vouch for each chunk
    hasher = hashlib.sha256()
    with store.open(part["digest"]) as stream:
        for chunk in decrypt(stream):
            hasher.update(chunk)
            buffer.write(chunk)
    if hasher.hexdigest() != part["plain_digest"]:
        raise IntegrityError(
            f"Decrypted part {part['digest'][:12]} does not match its recorded digest."
        )
    return pq.read_table(pa.BufferReader(buffer.getvalue()), columns=columns)
