"""Content-addressed blob store: a local folder by default, any fsspec URL at scale.

Layout: ``<root>/sha256/<2 hex>/<2 hex>/<64 hex>``. A blob is addressed by the SHA-256 of
its bytes, so the same bytes are stored once, and a reader can always check what it got.

Durability: a local write streams into ``<root>/tmp/`` while hashing, fsyncs, and renames
into place (``os.replace`` is atomic on POSIX), so a process killed mid-write leaves at most
a temporary file, never a partial blob under a digest. Object stores get the final key only
after the local spool is complete and hashed; an S3 PUT becomes visible only when whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from passline.errors import (
    IntegrityError,
    InvalidInput,
    MissingExtra,
    NotFound,
    PasslineError,
    Unavailable,
)

__all__ = ["ArtifactStore", "BlobInfo", "CHUNK_SIZE", "open_store"]

CHUNK_SIZE = 1024 * 1024
_PARALLEL_HASH_MIN = 256 * 1024
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class BlobInfo:
    digest: str
    size: int
    created: bool  # False when the same bytes were already stored


def check_digest(digest: str) -> str:
    value = digest.removeprefix("sha256:").lower()
    if len(value) != 64 or not set(value) <= _HEX:
        raise InvalidInput(
            f"An artifact digest is 64 hexadecimal characters (SHA-256). Got {digest!r} instead."
        )
    return value


class ArtifactStore:
    """Blobs under a local folder. Subclassed for object stores reached through fsspec."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def _path(self, digest: str) -> Path:
        return self.root / "sha256" / digest[:2] / digest[2:4] / digest

    def exists(self, digest: str) -> bool:
        return self._path(check_digest(digest)).exists()

    def size(self, digest: str) -> int:
        try:
            return self._path(check_digest(digest)).stat().st_size
        except FileNotFoundError:
            raise _missing(digest) from None

    def put_file(self, path: str | Path) -> BlobInfo:
        source = Path(path)
        if not source.is_file():
            raise InvalidInput(f"{source} is not a readable file.", hint="Check the path.")
        with source.open("rb") as stream:
            return self.put_stream(stream)

    def put_stream(self, stream: BinaryIO | IO[bytes]) -> BlobInfo:
        writer = self.writer()
        try:
            while chunk := stream.read(CHUNK_SIZE):
                writer.write(chunk)
            return writer.commit()
        finally:
            writer.abort()

    def writer(self) -> BlobWriter:
        """A writer for bytes that arrive piece by piece (an HTTP upload)."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        return BlobWriter(self, tmp_dir)

    def _commit(self, tmp: Path, digest: str, size: int) -> BlobInfo:
        final = self._path(digest)
        existed = final.exists()
        final.parent.mkdir(parents=True, exist_ok=True)
        # Replace even when present: the rename is free and repairs a damaged copy.
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return BlobInfo(digest, size, created=not existed)

    def open(self, digest: str) -> BinaryIO:
        """Open a blob for reading; use :meth:`iter_verified` to check while reading."""
        try:
            return self._path(check_digest(digest)).open("rb")
        except FileNotFoundError:
            raise _missing(digest) from None

    def iter_verified(self, digest: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Yield the blob's bytes, holding back the last chunk until the hash is checked.

        A damaged blob raises :class:`IntegrityError` before its last chunk is yielded, so a
        consumer (an HTTP response with a Content-Length) never receives it whole.
        """
        digest = check_digest(digest)
        hasher = hashlib.sha256()
        held: bytes | None = None
        with self.open(digest) as stream:
            while chunk := stream.read(chunk_size):
                hasher.update(chunk)
                if held is not None:
                    yield held
                held = chunk
        if hasher.hexdigest() != digest:
            raise _corrupt(digest)
        if held is not None:
            yield held

    def verify(self, digest: str) -> bool:
        """True when the stored bytes hash to their address."""
        try:
            for _ in self.iter_verified(digest):
                pass
        except IntegrityError:
            return False
        return True

    def get_to(self, digest: str, dest: str | Path) -> Path:
        """Copy a blob to ``dest``, verified; a corrupt blob leaves ``dest`` untouched."""
        target = Path(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.iter_verified(digest):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, target)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
        return target

    def delete(self, digest: str) -> None:
        self._path(check_digest(digest)).unlink(missing_ok=True)

    def sweep_spool(self, older_than_s: float = 24 * 3600) -> int:
        """Remove spool files abandoned by killed writers; they were never visible."""
        cutoff = time.time() - older_than_s
        removed = 0
        for stale in (self.root / "tmp").glob("put-*"):
            try:
                if stale.stat().st_mtime < cutoff:
                    stale.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


class FsspecArtifactStore(ArtifactStore):
    """Blobs in an object store (``s3://bucket/prefix``, ``gs://``, ``memory://``)."""

    def __init__(self, url: str) -> None:
        import fsspec

        try:
            self.fs, root = fsspec.core.url_to_fs(url)
        except ImportError as exc:
            scheme = url.split("://", 1)[0]
            if scheme == "s3":
                raise MissingExtra.for_extra("s3", f"The artifact root {url}") from exc
            raise MissingExtra(
                f"The artifact root {url} needs the fsspec implementation for '{scheme}://'.",
                hint=f"Install it (for example gcsfs for gs://, adlfs for az://): {exc}",
            ) from exc
        self.url = url
        self.prefix = root.rstrip("/")
        self.root = Path(tempfile.gettempdir()) / "passline-spool"

    def _key(self, digest: str) -> str:
        return f"{self.prefix}/sha256/{digest[:2]}/{digest[2:4]}/{digest}"

    @contextmanager
    def _reaching(self, action: str) -> Iterator[None]:
        """Turn a network or credentials failure of the object store into ``Unavailable``;
        a missing object stays ``FileNotFoundError`` for the caller to name."""
        try:
            yield
        except (FileNotFoundError, PasslineError):
            raise
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise Unavailable(
                f"Could not {action} the artifact store at {self.url}: {reason}",
                hint="Check that the object store is reachable and the credentials "
                "(AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) are right.",
            ) from exc

    def exists(self, digest: str) -> bool:
        with self._reaching("read from"):
            return bool(self.fs.exists(self._key(check_digest(digest))))

    def size(self, digest: str) -> int:
        try:
            with self._reaching("read from"):
                return int(self.fs.size(self._key(check_digest(digest))))
        except FileNotFoundError:
            raise _missing(digest) from None

    def _commit(self, tmp: Path, digest: str, size: int) -> BlobInfo:
        key = self._key(digest)
        try:
            with self._reaching("upload to"):
                if self.fs.exists(key) and self.fs.size(key) == size:
                    return BlobInfo(digest, size, created=False)
                self.fs.put_file(str(tmp), key)
        except FileNotFoundError as exc:  # s3fs: "The specified bucket does not exist"
            raise Unavailable(
                f"Could not upload to the artifact store at {self.url}: {exc}",
                hint="Create the bucket first; Passline does not create buckets.",
            ) from exc
        return BlobInfo(digest, size, created=True)

    def open(self, digest: str) -> BinaryIO:
        try:
            with self._reaching("read from"):
                return self.fs.open(self._key(check_digest(digest)), "rb")  # type: ignore[no-any-return]
        except FileNotFoundError:
            raise _missing(digest) from None

    def iter_verified(self, digest: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        with self._reaching("read from"):
            yield from super().iter_verified(digest, chunk_size)

    def delete(self, digest: str) -> None:
        key = self._key(check_digest(digest))
        with self._reaching("delete from"):
            if self.fs.exists(key):
                self.fs.rm(key)


class BlobWriter:
    """Spools bytes to a temporary file while hashing; ``commit`` files them by digest."""

    def __init__(self, store: ArtifactStore, tmp_dir: Path) -> None:
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="put-")
        self._store = store
        self._file = os.fdopen(fd, "wb")
        self._path = Path(name)
        self._hasher = hashlib.sha256()
        self._hashing: Future[None] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.size = 0

    def write(self, chunk: bytes) -> None:
        # hashlib and file writes both release the GIL on large buffers: hashing chunk i on
        # a helper thread while this one writes it takes a put from (hash + write) towards
        # max(hash, write). Updates stay in order: each waits for the one before.
        self._wait()
        if len(chunk) >= _PARALLEL_HASH_MIN:
            self._pool = self._pool or ThreadPoolExecutor(1, thread_name_prefix="passline-hash")
            self._hashing = self._pool.submit(self._hasher.update, chunk)
        else:
            self._hasher.update(chunk)
        self._file.write(chunk)
        self.size += len(chunk)

    def _wait(self) -> None:
        if self._hashing is not None:
            self._hashing.result()
            self._hashing = None

    def commit(self) -> BlobInfo:
        digest, path = self.finish_spool()
        return self._store._commit(path, digest, self.size)

    def finish_spool(self) -> tuple[str, Path]:
        """Close the spool and return its digest and path without storing it (the caller
        transforms it, e.g. encrypts it, and stores the result; ``abort`` removes it)."""
        self._wait()
        self._stop_pool()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._hasher.hexdigest(), self._path

    def _stop_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def abort(self) -> None:
        """Drop the spool; safe to call after commit (it is then a no-op)."""
        if self._hashing is not None and not self._hashing.cancel():
            self._hashing.result()
        self._hashing = None
        self._stop_pool()
        if not self._file.closed:
            self._file.close()
        self._path.unlink(missing_ok=True)


def open_store(root: str) -> ArtifactStore:
    """Pick the store from the root: a plain path or ``file://`` is local, else fsspec."""
    if "://" not in root or root.startswith("file://"):
        return ArtifactStore(root.removeprefix("file://"))
    return FsspecArtifactStore(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _missing(digest: str) -> NotFound:
    return NotFound(
        f"No stored bytes for artifact digest {digest}.",
        hint="The blob was deleted from the artifact root; restore it from a backup.",
    )


def _corrupt(digest: str) -> IntegrityError:
    return IntegrityError(
        f"The stored bytes of artifact {digest[:12]} do not match their SHA-256; "
        "the file was altered or truncated on disk.",
        hint="Run 'passline artifacts verify' to list every damaged artifact, "
        "then restore them from a backup or store them again.",
    )


def copy_plain(src: str | Path, dst: str | Path) -> None:
    """A plain buffered copy with fsync: the floor the benchmark measures puts against."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout, CHUNK_SIZE)
        fout.flush()
        os.fsync(fout.fileno())
