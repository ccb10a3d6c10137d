"""Micro-batching: concurrent requests share predict calls and each gets its own answer."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from passline.serving.batching import MicroBatcher


def _tables(count: int) -> list[pa.Table]:
    rng = np.random.default_rng(7)
    return [
        pa.table({"x": rng.normal(size=int(n)), "y": rng.normal(size=int(n))})
        for n in rng.integers(1, 5, size=count)
    ]


class SlowSum:
    """x + y per row, 5 ms per call whatever the rows (like a pipeline's fixed costs)."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, table: pa.Table) -> list[Any]:
        with self._lock:
            self.calls.append(table.num_rows)
        time.sleep(0.005)
        x, y = table.column("x").to_numpy(), table.column("y").to_numpy()
        if np.isnan(x).any():
            raise ValueError("x holds NaN")
        return (x + y).tolist()


def _expected(table: pa.Table) -> list[float]:
    return (table.column("x").to_numpy() + table.column("y").to_numpy()).tolist()


def test_concurrent_requests_share_predicts_and_get_their_own_rows() -> None:
    model = SlowSum()
    batcher = MicroBatcher(model)
    tables = _tables(200)
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(batcher.predict, tables))
    assert answers == [_expected(t) for t in tables]
    assert sum(model.calls) == sum(t.num_rows for t in tables)
    assert len(model.calls) < len(tables) / 3  # merged, not one call per request


def test_a_lone_request_runs_at_once_without_waiting() -> None:
    model = SlowSum()
    batcher = MicroBatcher(model)
    for table in _tables(5):
        assert batcher.predict(table) == _expected(table)
    assert model.calls == [t.num_rows for t in _tables(5)]


def test_a_bad_request_fails_alone() -> None:
    model = SlowSum()
    batcher = MicroBatcher(model)
    tables = _tables(60)
    bad = {7, 31}
    for i in bad:
        tables[i] = pa.table({"x": [float("nan")], "y": [1.0]})

    def call(table: pa.Table) -> Any:
        try:
            return batcher.predict(table)
        except ValueError as exc:
            return exc

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(call, tables))
    for i, (table, answer) in enumerate(zip(tables, answers, strict=True)):
        if i in bad:
            assert isinstance(answer, ValueError)
        else:
            assert answer == _expected(table)


def test_batches_stop_growing_at_the_row_limit() -> None:
    model = SlowSum()
    batcher = MicroBatcher(model, max_rows=6)
    tables = [pa.table({"x": [1.0, 2.0, 3.0], "y": [0.0, 0.0, 0.0]}) for _ in range(40)]
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(batcher.predict, tables))
    assert all(a == [1.0, 2.0, 3.0] for a in answers)
    assert max(model.calls) <= 6


def test_a_real_pipeline_answers_alike_batched_or_not() -> None:
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(200, 2)), rng.integers(0, 2, size=200)
    model = sklearn.LogisticRegression().fit(X, y)

    def predict(table: pa.Table) -> list[Any]:
        frame = np.column_stack([table.column(c).to_numpy() for c in table.column_names])
        return model.predict_proba(frame).tolist()

    batcher = MicroBatcher(predict)
    tables = _tables(100)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(batcher.predict, tables))
    # The same numbers up to the last bits (BLAS may sum a matrix in another order).
    for table, answer in zip(tables, answers, strict=True):
        np.testing.assert_allclose(answer, predict(table), rtol=1e-12)
