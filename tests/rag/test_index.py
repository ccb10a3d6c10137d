"""The vector index filters by the allowed versions while it searches, not after."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from passline.errors import Conflict, InvalidInput
from passline.rag.index import VectorIndex

pytest.importorskip("sqlite_vec")
DIM = 16


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def spans(doc: str, n: int) -> list[tuple[int, int, str]]:
    return [(i * 10, i * 10 + 9, f"{doc} chunk {i}") for i in range(n)]


@pytest.fixture
def index(tmp_path: Path) -> VectorIndex:
    return VectorIndex(tmp_path / "c.sqlite", DIM, "test-model")


def test_the_k_nearest_are_the_k_nearest_among_the_allowed(index: VectorIndex) -> None:
    rng = np.random.default_rng(0)
    query = unit(rng, 1)[0]
    secret = np.tile(query, (20, 1))  # 20 chunks identical to the query: the best matches
    public = unit(rng, 20)
    s = index.add_version("salary", "d1", spans("salary", 20), secret)
    p = index.add_version("policy", "d1", spans("policy", 20), public)
    everything = index.search(query, [s, p], k=4)
    assert {h.version for h in everything} == {s}
    allowed = index.search(query, [p], k=4)
    assert len(allowed) == 4 and {h.version for h in allowed} == {p}  # k of them, not 0
    expected = np.argsort(-(public @ query))[:4]
    assert [h.chunk for h in allowed] == list(expected)
    assert [round(h.score, 4) for h in allowed] == [
        round(float(public[i] @ query), 4) for i in expected
    ]
    assert allowed[0].text == f"policy chunk {expected[0]}" and allowed[0].start == expected[0] * 10


def test_nothing_allowed_means_nothing_found(index: VectorIndex) -> None:
    rng = np.random.default_rng(1)
    index.add_version("salary", "d1", spans("salary", 3), unit(rng, 3))
    assert index.search(unit(rng, 1)[0], [], k=4) == []
    with pytest.raises(InvalidInput, match="'k' must be an integer in \\[1, 100\\]. Got 0"):
        index.search(unit(rng, 1)[0], [1], k=0)


def test_versions_are_kept_until_dropped(index: VectorIndex) -> None:
    rng = np.random.default_rng(2)
    old = index.add_version("doc", "v1", spans("old", 2), unit(rng, 2))
    assert index.add_version("doc", "v1", spans("old", 2), unit(rng, 2)) == old  # idempotent
    new = index.add_version("doc", "v2", spans("new", 3), unit(rng, 3))
    assert index.versions([("doc", "v1")]) == {"doc": old}
    assert index.versions([("doc", "v2")]) == {"doc": new}
    assert index.counts() == (2, 5)
    assert index.stale({"doc": "v2"}, older_than_s=0) == [old]
    assert index.stale({"doc": "v2"}, older_than_s=3600) == []  # may be an index run going on
    assert index.drop([old]) == 2
    assert index.counts() == (1, 3)
    assert index.search(unit(rng, 1)[0], [old], k=4) == []


class _FailsPartWay(list):  # type: ignore[type-arg]
    """Three spans whose third cannot be read: the failure comes inside the transaction,
    after the version row and two chunks are written."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield from self[:2]
        raise OSError("disk went away")


def test_a_version_is_written_whole_or_not_at_all(index: VectorIndex) -> None:
    rng = np.random.default_rng(3)
    with pytest.raises(InvalidInput, match="3 chunks but 2 vectors"):
        index.add_version("doc", "v1", spans("x", 3), unit(rng, 2))
    index.add_version("ok", "v1", spans("ok", 1), unit(rng, 1))
    with pytest.raises(OSError, match="disk went away"):
        index.add_version("doc", "v1", _FailsPartWay(spans("x", 3)), unit(rng, 3))
    assert index.version("doc", "v1") is None
    assert index.counts() == (1, 1)
    assert len(index.search(unit(rng, 1)[0], [1, 2, 3], k=10)) == 1


def test_reopening_with_another_model_is_refused(tmp_path: Path) -> None:
    VectorIndex(tmp_path / "c.sqlite", DIM, "test-model").close()
    with pytest.raises(Conflict, match="was built with"):
        VectorIndex(tmp_path / "c.sqlite", DIM * 2, "test-model")


def test_concurrent_writers_queue(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    vectors = unit(rng, 50)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            own = VectorIndex(tmp_path / "c.sqlite", DIM, "test-model")  # its own connection
            own.add_version(f"doc{i}", "v1", spans("x", 50), vectors)
            own.close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert VectorIndex(tmp_path / "c.sqlite", DIM, "test-model").counts() == (6, 300)
