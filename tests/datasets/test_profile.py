"""Profiles: every Arrow type profiles, sketches merge exactly, summaries read well."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pytest

from passline.data.hll import HyperLogLog
from passline.data.profile import DatasetProfile

TEMPORAL = [
    pa.array([dt.date(2026, 1, d) for d in range(1, 29)], pa.date32()),
    pa.array([dt.date(2026, 1, d) for d in range(1, 29)], pa.date64()),
    pa.array([dt.datetime(2026, 1, d, 12) for d in range(1, 29)], pa.timestamp("us")),
    pa.array([dt.datetime(2026, 1, d, 12) for d in range(1, 29)], pa.timestamp("ms", tz="UTC")),
    pa.array([dt.time(d % 24, 30) for d in range(1, 29)], pa.time32("s")),
    pa.array([dt.time(d % 24, 30) for d in range(1, 29)], pa.time64("us")),
    pa.array([dt.timedelta(seconds=d) for d in range(1, 29)], pa.duration("s")),
]


@pytest.mark.parametrize("column", TEMPORAL, ids=[str(c.type) for c in TEMPORAL])
def test_every_temporal_type_profiles(column: pa.Array) -> None:
    table = pa.table({"t": column})
    profile = DatasetProfile.for_schema(table.schema)
    for batch in table.to_batches(max_chunksize=10):
        profile.update(batch)
    summary = profile.summary()["t"]
    assert summary["kind"] == "temporal" and summary["distinct"] == len(set(column.to_pylist()))
    assert isinstance(summary["min"], str) and summary["min"] < summary["max"]


def test_split_and_merged_profiles_equal_the_whole() -> None:
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "x": rng.normal(5, 2, 50_000),
            "k": pa.array(rng.choice(["a", "b"], 50_000)),
            "i": pa.array(rng.integers(0, 100, 50_000)),
        }
    )
    batches = table.to_batches(max_chunksize=10_000)
    left, right, whole = (DatasetProfile.for_schema(table.schema) for _ in range(3))
    for batch in batches[:2]:
        left.update(batch)
    for batch in batches[2:]:
        right.update(batch)
    for batch in batches:
        whole.update(batch)
    merged = DatasetProfile.from_dict(json.loads(json.dumps(left.merge(right).to_dict())))
    a, b = merged.summary(), whole.summary()
    assert a["x"]["mean"] == pytest.approx(b["x"]["mean"]) and a["x"]["std"] == pytest.approx(
        b["x"]["std"]
    )
    assert a["k"]["top"] == b["k"]["top"] and a["i"]["distinct"] == b["i"]["distinct"] == 100
    assert isinstance(a["i"]["min"], int)


def test_hyperloglog_is_close_and_merges() -> None:
    left, right = HyperLogLog(), HyperLogLog()
    left.update(pa.array(np.arange(0, 60_000)))
    right.update(pa.array(np.arange(30_000, 90_000)))
    assert abs(left.merge(right).estimate() - 90_000) / 90_000 < 0.05
    strings = HyperLogLog()
    strings.update(pa.array([f"user-{i}@example.com" for i in range(20_000)]))
    assert abs(strings.estimate() - 20_000) / 20_000 < 0.05
