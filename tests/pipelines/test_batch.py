"""Work in chunks on local stream workers: order kept, failures reported, workers reused."""

from __future__ import annotations

import os
import sys

import cloudpickle
import pyarrow as pa
import pytest

from passline.errors import InvalidInput, PasslineError
from passline.pipelines.batch import _from_ipc, map_chunks

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _sum_and_pid(shared: bytes, chunk: bytes, columns: list[str]) -> tuple[int, float]:
    table = _from_ipc(chunk)
    return (int(sum(table.column("x").to_pylist())), os.getpid()), 1.0  # type: ignore[return-value]


def _boom(shared: bytes, chunk: bytes, columns: list[str]) -> tuple[int, float]:
    raise ValueError("chunk " + shared.decode())


def test_chunks_come_back_in_order_from_two_reused_workers() -> None:
    table = pa.table({"x": list(range(100))})
    results, _ = map_chunks(_sum_and_pid, table, b"", ["x"], workers=2, chunk_rows=10)
    assert [r[0] for r in results] == [sum(range(i, i + 10)) for i in range(0, 100, 10)]
    assert len({r[1] for r in results}) <= 2  # ten chunks, two processes


def test_a_failing_chunk_raises_with_the_workers_traceback() -> None:
    table = pa.table({"x": list(range(10))})
    with pytest.raises(PasslineError, match=r"(?s)A worker failed on a chunk.*ValueError: chunk 7"):
        map_chunks(_boom, table, b"7", ["x"], workers=1, chunk_rows=5)
    with pytest.raises(InvalidInput, match="chunk_rows must be 1 or more"):
        map_chunks(_boom, table, b"", ["x"], chunk_rows=0)
