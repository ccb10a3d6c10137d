from __future__ import annotations

import base64
import io
import json
import os
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from passline.data.crypto import (
    MAGIC,
    EnvKeyProvider,
    FileKeyProvider,
    KeyProvider,
    decrypt_stream,
    decrypt_to,
    encrypt_file,
    generate_key,
    key_id_for,
)
from passline.errors import IntegrityError, InvalidInput, NotFound

CHUNK = 64  # small chunks keep "many chunks" tests fast


class StaticKeys(KeyProvider):
    """A fake provider: fixed keys by id."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        self.keys, self.current = keys, current

    def current_key_id(self) -> str:
        return self.current

    def get_key(self, key_id: str) -> bytes:
        if key_id not in self.keys:
            raise NotFound(f"no key {key_id}")
        return self.keys[key_id]


KEY = bytes(range(32))
PROVIDER = StaticKeys({"k1": KEY}, "k1")


def _encrypt(tmp_path: Path, data: bytes, provider: KeyProvider = PROVIDER) -> Path:
    src, dst = tmp_path / "plain.bin", tmp_path / "cipher.bin"
    src.write_bytes(data)
    encrypt_file(src, dst, provider, chunk_size=CHUNK)
    return dst


def _chunk_spans(blob: bytes) -> tuple[int, list[tuple[int, int]]]:
    """Offset of the first chunk and (start, end) of every chunk, framing included."""
    pos = len(MAGIC) + 1 + blob[len(MAGIC)] + 8
    header_end, spans = pos, []
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        spans.append((pos, pos + 4 + length))
        pos += 4 + length
    return header_end, spans


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 10 * CHUNK + 7])
def test_round_trip(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    enc = _encrypt(tmp_path, data)
    if size >= 16:
        assert data[:16] not in enc.read_bytes()
    out = tmp_path / "out.bin"
    decrypt_to(enc, out, PROVIDER)
    assert out.read_bytes() == data
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert b"".join(decrypt_stream(enc, PROVIDER)) == data


def test_chunk_count_matches_size(tmp_path: Path) -> None:
    for size, chunks in [(0, 1), (1, 1), (CHUNK, 1), (CHUNK + 1, 2), (3 * CHUNK, 3)]:
        blob = _encrypt(tmp_path, b"x" * size).read_bytes()
        assert len(_chunk_spans(blob)[1]) == chunks, size


def test_default_chunk_size_round_trip(tmp_path: Path) -> None:
    data = os.urandom((1 << 20) * 2 + 5)
    src, enc = tmp_path / "p", tmp_path / "e"
    src.write_bytes(data)
    encrypt_file(src, enc, PROVIDER)
    assert [len(c) for c in decrypt_stream(enc, PROVIDER)] == [1 << 20, 1 << 20, 5]


def test_stream_accepts_file_objects(tmp_path: Path) -> None:
    enc = tmp_path / "e"
    encrypt_file(io.BytesIO(b"hello"), enc, PROVIDER)
    assert b"".join(decrypt_stream(io.BytesIO(enc.read_bytes()), PROVIDER)) == b"hello"


def _fails(blob: bytes, tmp_path: Path, match: str) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(blob)
    out = tmp_path / "out.bin"
    with pytest.raises(IntegrityError, match=match) as info:
        decrypt_to(bad, out, PROVIDER)
    assert not out.exists(), "unverified plaintext must not be left behind"
    assert KEY.hex() not in str(info.value)
    assert base64.b64encode(KEY).decode() not in str(info.value)


def test_every_single_byte_flip_is_detected(tmp_path: Path) -> None:
    blob = _encrypt(tmp_path, os.urandom(3 * CHUNK + 5)).read_bytes()
    for pos in range(len(blob)):
        altered = bytearray(blob)
        altered[pos] ^= 0x01
        bad = tmp_path / "bad.bin"
        bad.write_bytes(bytes(altered))
        with pytest.raises(IntegrityError):
            b"".join(decrypt_stream(bad, PROVIDER))


def test_tamper_one_byte_names_the_chunk(tmp_path: Path) -> None:
    blob = bytearray(_encrypt(tmp_path, os.urandom(3 * CHUNK)).read_bytes())
    _, spans = _chunk_spans(bytes(blob))
    blob[spans[1][0] + 10] ^= 0xFF
    _fails(bytes(blob), tmp_path, "Chunk 1 .* failed authentication")


def test_truncate_at_chunk_boundary(tmp_path: Path) -> None:
    blob = _encrypt(tmp_path, os.urandom(3 * CHUNK)).read_bytes()
    _, spans = _chunk_spans(blob)
    _fails(blob[: spans[1][1]], tmp_path, "Chunk 1 .* failed authentication")


def test_truncate_inside_chunk_and_header(tmp_path: Path) -> None:
    blob = _encrypt(tmp_path, os.urandom(3 * CHUNK)).read_bytes()
    header_end, _ = _chunk_spans(blob)
    _fails(blob[:-3], tmp_path, "truncated inside chunk 2")
    _fails(blob[:header_end], tmp_path, "truncated: it has no chunks")
    _fails(blob[: header_end - 2], tmp_path, "truncated inside its header")
    _fails(blob[:3], tmp_path, "not a Passline encrypted file")


def test_empty_plaintext_cannot_be_stripped(tmp_path: Path) -> None:
    blob = _encrypt(tmp_path, b"").read_bytes()
    header_end, _ = _chunk_spans(blob)
    _fails(blob[:header_end], tmp_path, "no chunks")


def test_appended_data_is_detected(tmp_path: Path) -> None:
    blob = _encrypt(tmp_path, os.urandom(2 * CHUNK)).read_bytes()
    _, spans = _chunk_spans(blob)
    last = blob[spans[-1][0] : spans[-1][1]]
    _fails(blob + last, tmp_path, "failed authentication")


def test_swapped_chunks_are_detected(tmp_path: Path) -> None:
    blob = _encrypt(tmp_path, os.urandom(4 * CHUNK)).read_bytes()
    header_end, spans = _chunk_spans(blob)
    parts = [blob[a:b] for a, b in spans]
    parts[1], parts[2] = parts[2], parts[1]
    _fails(blob[:header_end] + b"".join(parts), tmp_path, "Chunk 1 .* failed authentication")


def test_chunk_from_another_file_is_detected(tmp_path: Path) -> None:
    first = _encrypt(tmp_path, b"a" * 2 * CHUNK).read_bytes()
    second = _encrypt(tmp_path, b"a" * 2 * CHUNK).read_bytes()
    header_end, spans = _chunk_spans(first)
    mixed = first[: spans[1][0]] + second[spans[1][0] : spans[1][1]]
    _fails(mixed, tmp_path, "failed authentication")


def test_wrong_key_with_same_id(tmp_path: Path) -> None:
    enc = _encrypt(tmp_path, b"secret rows")
    wrong = StaticKeys({"k1": bytes(32)}, "k1")
    with pytest.raises(IntegrityError, match="Chunk 0 .* key is wrong"):
        b"".join(decrypt_stream(enc, wrong))


def test_unknown_key_id(tmp_path: Path) -> None:
    enc = _encrypt(tmp_path, b"secret rows")
    other = StaticKeys({"k2": KEY}, "k2")
    with pytest.raises(IntegrityError, match="needs key 'k1'"):
        decrypt_to(enc, tmp_path / "out", other)


def test_env_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv("PASSLINE_DATA_KEY", key)
    provider = EnvKeyProvider()
    assert provider.current_key_id() == key_id_for(base64.b64decode(key))
    enc = _encrypt(tmp_path, b"rows", provider)
    assert b"".join(decrypt_stream(enc, EnvKeyProvider())) == b"rows"

    monkeypatch.setenv("PASSLINE_DATA_KEY", generate_key())
    with pytest.raises(IntegrityError, match="needs key"):
        b"".join(decrypt_stream(enc, EnvKeyProvider()))


def test_env_provider_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInput, match="PASSLINE_DATA_KEY is not set"):
        EnvKeyProvider().current_key_id()
    monkeypatch.setenv("MY_KEY", base64.b64encode(b"short").decode())
    with pytest.raises(InvalidInput, match="MY_KEY must be 32 bytes") as info:
        EnvKeyProvider("MY_KEY").current_key_id()
    assert base64.b64encode(b"short").decode() not in str(info.value)
    monkeypatch.setenv("MY_KEY", "not base64 !!")
    with pytest.raises(InvalidInput, match="must be 32 bytes"):
        EnvKeyProvider("MY_KEY").current_key_id()


def test_file_provider_creates_private_keyring(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "data.keys"
    provider = FileKeyProvider(path)
    key_id = provider.current_key_id()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entries = json.loads(path.read_text())
    assert list(entries) == [key_id]
    assert key_id_for(provider.get_key(key_id)) == key_id
    assert FileKeyProvider(path).get_key(key_id) == provider.get_key(key_id)
    assert [p.name for p in path.parent.iterdir()] == ["data.keys"]  # no temp files left

    enc = _encrypt(tmp_path, b"rows", provider)
    assert b"".join(decrypt_stream(enc, FileKeyProvider(path))) == b"rows"
    with pytest.raises(IntegrityError, match="needs key"):
        b"".join(decrypt_stream(enc, FileKeyProvider(tmp_path / "other.keys")))


def test_file_provider_rotation_keeps_old_keys(tmp_path: Path) -> None:
    path = tmp_path / "data.keys"
    provider = FileKeyProvider(path)
    old_id = provider.current_key_id()
    enc = _encrypt(tmp_path, b"old rows", provider)
    new_key = os.urandom(32)
    entries = json.loads(path.read_text())
    entries[key_id_for(new_key)] = base64.b64encode(new_key).decode()
    path.write_text(json.dumps(entries))

    rotated = FileKeyProvider(path)
    assert rotated.current_key_id() == key_id_for(new_key) != old_id
    assert b"".join(decrypt_stream(enc, rotated)) == b"old rows"
    with pytest.raises(NotFound, match="no key with id 'nope'"):
        rotated.get_key("nope")


def test_file_provider_bad_keyring(tmp_path: Path) -> None:
    path = tmp_path / "data.keys"
    path.write_text("{not json")
    with pytest.raises(InvalidInput, match="cannot be read as JSON"):
        FileKeyProvider(path).current_key_id()
    path.write_text(json.dumps({"k": base64.b64encode(b"x" * 16).decode()}))
    with pytest.raises(InvalidInput, match="key 'k' of the keyring .* must be 32 bytes"):
        FileKeyProvider(path).current_key_id()


_RACER = """
import sys, time
from passline.data.crypto import FileKeyProvider
start = float(sys.argv[2])
while time.time() < start:
    pass
print(FileKeyProvider(sys.argv[1]).current_key_id())
"""


@pytest.mark.serial
def test_concurrent_keyring_creation_ends_with_one_key(tmp_path: Path) -> None:
    path = tmp_path / "data.keys"
    start = str(time.time() + 1.0)  # all processes spin until the same instant
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(path), start],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    ids = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(ids) == 1
    assert list(json.loads(path.read_text())) == list(ids)
    assert [p.name for p in tmp_path.iterdir()] == ["data.keys"]
