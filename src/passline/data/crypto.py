"""Encryption at rest for restricted data: AES-256-GCM over a file, chunk by chunk.

Format (all integers big-endian)::

    header   b"PLENC1" | key id length (1 byte) | key id (ASCII) | nonce prefix (8 random bytes)
    chunk*   ciphertext length (4 bytes) | ciphertext + 16-byte GCM tag

Chunk ``i`` is sealed with nonce ``prefix | i`` (4-byte counter) and associated data
``header | i (4 bytes) | final flag (1 byte)``. Binding the index detects reordered or
swapped chunks; binding the final flag detects truncation at a chunk boundary (the last
chunk read must carry the flag) and data appended after the end; binding the header
detects an edited key id or nonce prefix. An empty file is one empty final chunk, so even
"everything removed but the header" fails. Any failure raises
:class:`passline.errors.IntegrityError`; messages name the file and chunk, never the key.

Memory is bounded by two chunks (1 MiB each by default): the reader looks one chunk ahead
to learn whether the current one is the last. A random 8-byte prefix per file keeps nonces
unique per key for far more files than a key should ever protect (rotate keys by adding a
new entry to the keyring; old files stay readable by their key id).

Keys come from a :class:`KeyProvider`: :class:`FileKeyProvider` (a 0600 JSON keyring made on
first use) or :class:`EnvKeyProvider` (one base64 key in ``PASSLINE_DATA_KEY``).

    provider = FileKeyProvider(home / "data.keys")
    encrypt_file("part-0.parquet", "part-0.parquet.enc", provider)
    decrypt_to("part-0.parquet.enc", "/tmp/part-0.parquet", provider)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import secrets
import struct
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from passline.errors import IntegrityError, InvalidInput, NotFound

__all__ = [
    "CHUNK_SIZE",
    "EnvKeyProvider",
    "FileKeyProvider",
    "KeyProvider",
    "decrypt_stream",
    "decrypt_to",
    "encrypt_file",
    "generate_key",
    "key_id_for",
]

MAGIC = b"PLENC1"
CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 64 << 20  # refuse larger length fields: a forged one must not exhaust memory
KEY_BYTES = 32
_PREFIX_BYTES = 8
_TAG_BYTES = 16
_MAX_CHUNKS = 1 << 32  # the 4-byte counter in the nonce

Source = str | os.PathLike[str] | BinaryIO


def generate_key() -> str:
    """A new random key, base64-encoded, e.g. for ``PASSLINE_DATA_KEY``."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def key_id_for(key: bytes) -> str:
    """A key's id: the first 8 hex digits of its SHA-256 (identifies it, reveals nothing)."""
    return hashlib.sha256(key).hexdigest()[:8]


class KeyProvider(ABC):
    """Where data keys come from.

    Contract: ``current_key_id()`` names the key new files are encrypted with;
    ``get_key(key_id)`` returns that key's 32 bytes, for any id this provider ever
    issued, and raises :class:`passline.errors.NotFound` for an id it does not hold.
    """

    @abstractmethod
    def current_key_id(self) -> str:
        """The id of the key to encrypt new files with."""

    @abstractmethod
    def get_key(self, key_id: str) -> bytes:
        """The 32-byte key with this id."""


class EnvKeyProvider(KeyProvider):
    """One key, base64-encoded in an environment variable (read on first use)."""

    def __init__(self, var: str = "PASSLINE_DATA_KEY") -> None:
        self.var = var
        self._key: bytes | None = None

    def _load(self) -> bytes:
        if self._key is None:
            raw = os.environ.get(self.var)
            if not raw:
                raise InvalidInput(
                    f"The environment variable {self.var} is not set.",
                    hint="Set it to a base64-encoded 32-byte key, e.g. the output of "
                    "python -c 'from passline.data.crypto import generate_key; "
                    "print(generate_key())'.",
                )
            self._key = _decode_key(raw, where=f"the environment variable {self.var}")
        return self._key

    def current_key_id(self) -> str:
        return key_id_for(self._load())

    def get_key(self, key_id: str) -> bytes:
        key = self._load()
        if key_id != key_id_for(key):
            raise NotFound(f"The key in {self.var} has id '{key_id_for(key)}', not '{key_id}'.")
        return key


class FileKeyProvider(KeyProvider):
    """A JSON keyring ``{key_id: base64 key}``, mode 0600, created with one key on first use.

    The last entry is the current key; to rotate, append an entry (older files keep
    decrypting with the key id recorded in their header).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._keys: dict[str, bytes] | None = None

    def current_key_id(self) -> str:
        return list(self._load())[-1]

    def get_key(self, key_id: str) -> bytes:
        keys = self._load()
        if key_id not in keys:
            keys = self._load(reload=True)  # another process may have rotated the keyring
        if key_id not in keys:
            raise NotFound(f"The keyring {self.path} has no key with id '{key_id}'.")
        return keys[key_id]

    def _load(self, *, reload: bool = False) -> dict[str, bytes]:
        if self._keys is None or reload:
            if not self.path.exists():
                _create_keyring(self.path)
            self._keys = _parse_keyring(self.path)
        return self._keys


def _create_keyring(path: Path) -> None:
    # Several processes may need the keyring at once: each writes its own temporary file and
    # hard-links it into place; link() fails for all but one, and every process reads the
    # winner's key. A plain rename would let a late process replace a key already in use.
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    body = json.dumps({key_id_for(key): base64.b64encode(key).decode()})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink()


def _parse_keyring(path: Path) -> dict[str, bytes]:
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"The keyring {path} cannot be read as JSON ({type(exc).__name__}).",
            hint='It must hold {"<key id>": "<base64 key>", ...}; restore it from a backup.',
        ) from None
    if not isinstance(entries, dict) or not entries:
        raise InvalidInput(
            f"The keyring {path} must be a non-empty JSON object of key id to base64 key.",
            hint="Restore it from a backup.",
        )
    return {
        str(key_id): _decode_key(value, where=f"key '{key_id}' of the keyring {path}")
        for key_id, value in entries.items()
    }


def _decode_key(raw: object, *, where: str) -> bytes:
    try:
        key = base64.b64decode(str(raw).strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise InvalidInput(
            f"The data key in {where} must be {KEY_BYTES} bytes, base64-encoded.",
            hint="Generate one with passline.data.crypto.generate_key().",
        )
    return key


# --- the file format ------------------------------------------------------------------------


def _header(key_id: str, prefix: bytes) -> bytes:
    raw_id = key_id.encode("ascii", errors="strict") if key_id.isascii() else b""
    if not 0 < len(raw_id) < 256:
        raise InvalidInput(
            f"A key id must be 1 to 255 ASCII characters. Got {len(key_id)} characters."
        )
    return MAGIC + bytes([len(raw_id)]) + raw_id + prefix


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">IB", index, int(final))


def _chunks(src: IO[bytes], size: int) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (index, plaintext, is_final), reading one chunk ahead; an empty file is one chunk."""
    current = src.read(size)
    index = 0
    while True:
        ahead = src.read(size) if len(current) == size else b""
        yield index, current, not ahead
        if not ahead:
            return
        current, index = ahead, index + 1
        if index >= _MAX_CHUNKS:
            raise InvalidInput(f"The file is too large for {size}-byte chunks; use larger ones.")


def encrypt_file(
    src: Source,
    dst: str | os.PathLike[str],
    provider: KeyProvider,
    *,
    chunk_size: int = CHUNK_SIZE,
) -> None:
    """Encrypt ``src`` into ``dst`` (written atomically) with the provider's current key."""
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise InvalidInput(
            f"The 'chunk_size' of encrypt_file must be in [1, {MAX_CHUNK_SIZE}]. "
            f"Got {chunk_size} instead."
        )
    key_id = provider.current_key_id()
    aead = AESGCM(provider.get_key(key_id))
    prefix = secrets.token_bytes(_PREFIX_BYTES)
    header = _header(key_id, prefix)
    with _reader(src) as fin, _atomic_writer(Path(dst)) as fout:
        fout.write(header)
        for index, plain, final in _chunks(fin, chunk_size):
            sealed = aead.encrypt(_nonce(prefix, index), plain, _aad(header, index, final))
            fout.write(struct.pack(">I", len(sealed)))
            fout.write(sealed)


def decrypt_stream(src: Source, provider: KeyProvider) -> Iterator[bytes]:
    """Yield the plaintext of ``src`` chunk by chunk.

    Every chunk is authenticated before it is yielded, but truncation or appended data is
    only detected at the end: treat what you consumed as unverified until the iterator is
    exhausted without raising (:func:`decrypt_to` does this for you).
    """
    with _reader(src) as fin:
        name = _name(src, fin)
        header, key_id, prefix = _read_header(fin, name)
        aead = AESGCM(_key_for(provider, key_id, name))
        index, sealed = 0, _read_sealed(fin, name, 0)
        if sealed is None:
            raise IntegrityError(f"The encrypted file {name} is truncated: it has no chunks.")
        while True:
            ahead = _read_sealed(fin, name, index + 1)
            final = ahead is None
            yield _open_chunk(aead, sealed, prefix, header, index, final, name)
            if ahead is None:
                return
            index, sealed = index + 1, ahead


def decrypt_to(src: Source, dst: str | os.PathLike[str], provider: KeyProvider) -> None:
    """Decrypt ``src`` into ``dst`` (mode 0600); ``dst`` only appears if the whole file verifies."""
    with _atomic_writer(Path(dst)) as fout:
        for plain in decrypt_stream(src, provider):
            fout.write(plain)


def _key_for(provider: KeyProvider, key_id: str, name: str) -> bytes:
    try:
        return provider.get_key(key_id)
    except NotFound:
        raise IntegrityError(
            f"The encrypted file {name} needs key '{key_id}', which this key provider "
            "does not hold.",
            hint="Decrypt it with the keyring or key that encrypted it.",
        ) from None


def _read_header(fin: IO[bytes], name: str) -> tuple[bytes, str, bytes]:
    start = fin.read(len(MAGIC) + 1)
    if len(start) < len(MAGIC) + 1 or start[: len(MAGIC)] != MAGIC:
        raise IntegrityError(f"{name} is not a Passline encrypted file (bad header).")
    rest = fin.read(start[-1] + _PREFIX_BYTES)
    if len(rest) < start[-1] + _PREFIX_BYTES:
        raise IntegrityError(f"The encrypted file {name} is truncated inside its header.")
    raw_id, prefix = rest[: start[-1]], rest[start[-1] :]
    if not raw_id.isascii():
        raise IntegrityError(f"The encrypted file {name} has a corrupted key id.")
    return start + rest, raw_id.decode("ascii"), prefix


def _read_sealed(fin: IO[bytes], name: str, index: int) -> bytes | None:
    """The next sealed chunk, or None at a clean end of file."""
    raw_len = fin.read(4)
    if not raw_len:
        return None
    if len(raw_len) < 4:
        raise IntegrityError(f"The encrypted file {name} is truncated inside chunk {index}.")
    (length,) = struct.unpack(">I", raw_len)
    if not _TAG_BYTES <= length <= MAX_CHUNK_SIZE + _TAG_BYTES:
        raise IntegrityError(f"The encrypted file {name} is corrupted at chunk {index}.")
    sealed = fin.read(length)
    if len(sealed) < length:
        raise IntegrityError(f"The encrypted file {name} is truncated inside chunk {index}.")
    return sealed


def _open_chunk(
    aead: AESGCM,
    sealed: bytes,
    prefix: bytes,
    header: bytes,
    index: int,
    final: bool,
    name: str,
) -> bytes:
    try:
        return aead.decrypt(_nonce(prefix, index), sealed, _aad(header, index, final))
    except InvalidTag:
        cause = (
            "the key is wrong or the file was altered"
            if index == 0
            else "the file was altered, truncated or its chunks reordered"
        )
        raise IntegrityError(
            f"Chunk {index} of the encrypted file {name} failed authentication: {cause}.",
            hint="Restore the file from a trusted copy; do not use its contents.",
        ) from None


# --- file plumbing --------------------------------------------------------------------------


def _name(src: Source, fin: IO[bytes]) -> str:
    if isinstance(src, str | os.PathLike):
        return f"'{os.fspath(src)}'"
    return f"'{getattr(fin, 'name', '<stream>')}'"


@contextlib.contextmanager
def _reader(src: Source) -> Iterator[IO[bytes]]:
    if isinstance(src, str | os.PathLike):
        with open(src, "rb") as fin:
            yield fin
    else:
        yield src  # the caller owns (and closes) a file object it passes in


@contextlib.contextmanager
def _atomic_writer(dst: Path) -> Iterator[IO[bytes]]:
    # A temporary sibling renamed into place: readers never see a half-written file, and a
    # failed decryption leaves no unverified plaintext behind. 0600: the data is restricted.
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
