from __future__ import annotations

import math

import pyarrow as pa
import pytest

from passline.data.diff import (
    classify_type_change,
    profile_delta,
    row_diff,
    schema_diff,
)
from passline.errors import InvalidInput

# --- schema ---------------------------------------------------------------------------------


def test_schema_diff_renders_every_kind() -> None:
    old = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("units", pa.int64()),
            pa.field("qty", pa.int32()),
            pa.field("promo", pa.string()),
            pa.field("flag", pa.bool_()),
            pa.field("note", pa.string(), nullable=False),
        ]
    )
    new = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("units", pa.int32()),
            pa.field("qty", pa.int64()),
            pa.field("flag", pa.int8()),
            pa.field("note", pa.string()),
            pa.field("discount", pa.float64()),
        ]
    )
    diff = schema_diff(old, new)
    assert diff.render() == [
        "~ units: int64 -> int32 (narrowed: breaking)",
        "~ qty: int32 -> int64 (widened)",
        "~ flag: bool -> int8 (incompatible: breaking)",
        "~ note: not null -> nullable (nulls now allowed: breaking)",
        "+ discount: double",
        "- promo: string (dropped: breaking)",
    ]
    assert diff.is_breaking
    assert diff.added == ["discount"]
    assert diff.dropped == ["promo"]
    assert [c.column for c in diff.type_changes] == ["units", "qty", "flag"]
    assert [c.kind for c in diff.nullability_changes] == ["made_nullable"]
    assert diff.to_dict()["changes"][0] == {
        "column": "units",
        "kind": "narrowed",
        "old": "int64",
        "new": "int32",
        "breaking": True,
    }


def test_additive_changes_are_not_breaking() -> None:
    old = pa.schema([pa.field("a", pa.int32()), pa.field("b", pa.float32())])
    new = pa.schema(
        [
            pa.field("b", pa.float64()),
            pa.field("a", pa.int64(), nullable=False),
            pa.field("c", pa.string(), nullable=False),
        ]
    )
    diff = schema_diff(old, new)
    assert not diff.is_breaking
    assert diff.render() == [
        "~ b: float -> double (widened)",
        "~ a: int32 -> int64 (widened)",
        "~ a: nullable -> not null (nulls disallowed)",
        "+ c: string not null",
    ]


def test_identical_schemas_have_no_diff() -> None:
    schema = pa.schema([("a", pa.int64()), ("b", pa.string())])
    reordered = pa.schema([("b", pa.string()), ("a", pa.int64())])
    assert not schema_diff(schema, reordered)
    assert schema_diff(schema, schema).render() == []


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        (pa.int32(), pa.int64(), "widened"),
        (pa.uint32(), pa.int64(), "widened"),
        (pa.uint32(), pa.int32(), "narrowed"),
        (pa.int32(), pa.float64(), "widened"),
        (pa.int64(), pa.float64(), "narrowed"),
        (pa.int16(), pa.float32(), "widened"),
        (pa.float32(), pa.float64(), "widened"),
        (pa.float64(), pa.float32(), "narrowed"),
        (pa.int32(), pa.decimal128(12, 2), "widened"),
        (pa.decimal128(10, 2), pa.decimal128(12, 3), "widened"),
        (pa.decimal128(10, 2), pa.decimal128(10, 3), "narrowed"),
        (pa.decimal128(10, 2), pa.float64(), "narrowed"),
        (pa.binary(), pa.large_binary(), "widened"),
        (pa.time32("s"), pa.time64("us"), "widened"),
        (pa.date32(), pa.timestamp("us"), "widened"),
        (pa.timestamp("us"), pa.date32(), "narrowed"),
        (pa.timestamp("ms"), pa.timestamp("ns"), "widened"),
        (pa.timestamp("us"), pa.timestamp("us", tz="UTC"), "incompatible"),
        (pa.timestamp("us", tz="UTC"), pa.timestamp("ns", tz="Europe/Paris"), "widened"),
        (pa.int64(), pa.string(), "widened"),
        (pa.string(), pa.int64(), "narrowed"),
        (pa.string(), pa.large_string(), "widened"),
        (pa.dictionary(pa.int32(), pa.string()), pa.string(), "widened"),
        (pa.null(), pa.int64(), "widened"),
        (pa.list_(pa.int32()), pa.large_list(pa.int64()), "widened"),
        (pa.list_(pa.int64()), pa.list_(pa.int32()), "narrowed"),
        (
            pa.struct([("x", pa.int32())]),
            pa.struct([("x", pa.int64()), ("y", pa.string())]),
            "widened",
        ),
        (pa.bool_(), pa.int64(), "incompatible"),
        (pa.int64(), pa.int64(), None),
    ],
)
def test_type_change_rules(old: pa.DataType, new: pa.DataType, kind: str | None) -> None:
    assert classify_type_change(old, new) == kind


def test_duplicate_column_names_are_rejected() -> None:
    dup = pa.schema([("a", pa.int64()), ("a", pa.string())])
    with pytest.raises(InvalidInput, match="old schema has the column 'a' more than once"):
        schema_diff(dup, pa.schema([("a", pa.int64())]))


# --- rows -----------------------------------------------------------------------------------


def _old() -> pa.Table:
    return pa.table(
        {
            "id": [1, 2, 3, 4, 5],
            "price": [1.0, 2.0, None, float("nan"), 5.0],
            "name": ["a", "b", "c", "d", None],
        }
    )


def test_row_diff_counts_and_examples() -> None:
    new = pa.table(
        {
            "id": [5, 2, 3, 4, 6],
            "price": [5.0, 2.5, None, float("nan"), 6.0],
            "name": ["e", "b", "c", "d", "f"],
        }
    )
    diff = row_diff(_old(), new, key=["id"])
    assert (diff.added, diff.removed, diff.changed, diff.unchanged) == (1, 1, 2, 2)
    assert diff.added_examples == [{"id": 6, "price": 6.0, "name": "f"}]
    assert diff.removed_examples == [{"id": 1, "price": 1.0, "name": "a"}]
    assert [(c.key, c.changes) for c in diff.changed_examples] == [
        ({"id": 2}, {"price": (2.0, 2.5)}),
        ({"id": 5}, {"name": (None, "e")}),
    ]
    assert diff.changed_by_column == {"price": 1, "name": 1}
    assert diff.render() == ["1 added, 1 removed, 2 changed (price: 1, name: 1), 2 unchanged"]


def test_row_diff_null_safety() -> None:
    old = pa.table({"id": [1, 2, 3], "v": [None, None, 1]})
    new = pa.table({"id": [1, 2, 3], "v": [None, 7, None]})
    diff = row_diff(old, new, key=["id"])
    assert diff.changed == 2
    assert [c.key["id"] for c in diff.changed_examples] == [2, 3]


def test_row_diff_composite_key_limit_and_skipped_columns() -> None:
    n = 1000
    old = pa.table(
        {"store": [i % 10 for i in range(n)], "day": list(range(n)), "v": list(range(n))}
    )
    new = pa.table(
        {
            "store": [i % 10 for i in range(n)],
            "day": list(range(n)),
            "v": [i + (i % 2) for i in range(n)],
            "extra": ["x"] * n,
            "tags": [[1]] * n,
        }
    )
    diff = row_diff(old, new, key=["store", "day"], limit=3)
    assert diff.changed == n // 2
    assert len(diff.changed_examples) == 3
    assert diff.changed_examples[0].key == {"store": 1, "day": 1}
    assert diff.skipped_columns == {"extra": "only in new", "tags": "only in new"}
    assert diff.compared_columns == ["v"]


def test_row_diff_type_changes() -> None:
    old = pa.table({"id": pa.array([1, 2], pa.int32()), "v": pa.array([1, 2], pa.int64())})
    new = pa.table({"id": pa.array([1, 2], pa.int64()), "v": pa.array([1.0, 2.5], pa.float64())})
    diff = row_diff(old, new, key=["id"])
    assert diff.changed == 1 and diff.changed_examples[0].changes == {"v": (2, 2.5)}

    as_text = pa.table({"id": [1, 2], "v": ["1", "2"]})
    diff = row_diff(old, as_text, key=["id"])
    assert diff.compared_columns == []
    assert "cannot be compared" in diff.skipped_columns["v"]


def test_row_diff_dictionary_columns() -> None:
    old = pa.table({"id": [1, 2], "c": pa.array(["x", "y"]).dictionary_encode()})
    new = pa.table({"id": [1, 2], "c": pa.array(["x", "z"])})
    assert row_diff(old, new, key=["id"]).changed == 1


def test_row_diff_duplicate_keys() -> None:
    dup = pa.table({"id": [1, 2, 2, 3, 3], "v": [0] * 5})
    with pytest.raises(InvalidInput, match=r"key \(id\) is not unique in the new table") as info:
        row_diff(_old(), dup, key=["id"])
    assert "appears 2 times (2 duplicated key values in all)" in str(info.value)
    with pytest.raises(InvalidInput, match="not unique in the old table"):
        row_diff(dup, _old(), key=["id"])


def test_row_diff_bad_keys() -> None:
    with pytest.raises(InvalidInput, match="key column 'nope' is not in the old table"):
        row_diff(_old(), _old(), key=["nope"])
    with pytest.raises(InvalidInput, match="at least one column"):
        row_diff(_old(), _old(), key=[])
    nulls = pa.table({"id": [1, None], "price": [1.0, 2.0], "name": ["a", "b"]})
    with pytest.raises(InvalidInput, match="key column 'id' has 1 null values in the new table"):
        row_diff(_old(), nulls, key=["id"])
    text_ids = pa.table({"id": ["a", "b"], "price": [1.0, 2.0], "name": ["a", "b"]})
    with pytest.raises(InvalidInput, match="is int64 in the old table and string in the new"):
        row_diff(_old(), text_ids, key=["id"])


def test_row_diff_large_tables() -> None:
    import numpy as np

    n = 200_000
    ids = np.arange(n)
    old = pa.table({"id": ids, "v": ids * 2})
    shuffled = np.random.default_rng(0).permutation(ids)
    values = shuffled * 2
    values[:100] += 1
    new = pa.table({"id": shuffled + 10, "v": values})  # 10 removed, 10 added
    diff = row_diff(old, new, key=["id"])
    assert diff.added == 10 and diff.removed == 10
    assert diff.changed >= 80  # rows shifted past the end are "added", not changed
    assert diff.added + diff.changed + diff.unchanged == n


def test_row_diff_empty_tables() -> None:
    empty = pa.table({"id": pa.array([], pa.int64()), "v": pa.array([], pa.string())})
    diff = row_diff(empty, empty, key=["id"])
    assert (diff.added, diff.removed, diff.changed, diff.unchanged) == (0, 0, 0, 0)


# --- profiles -------------------------------------------------------------------------------


def test_profile_delta() -> None:
    old = {
        "price": {"rows": 100, "null_fraction": 0.0, "mean": 10.0, "max": 50, "top": "x"},
        "promo": {"rows": 100, "distinct": 3},
        "same": {"rows": 100},
    }
    new = {
        "price": {"rows": 120, "null_fraction": 0.1, "mean": 12.5, "max": 50, "top": "y"},
        "same": {"rows": 100},
        "discount": {"rows": 120, "mean": 1.0},
    }
    delta = {d["column"]: d for d in profile_delta(old, new)}
    assert [d["column"] for d in profile_delta(old, new)] == ["price", "promo", "same", "discount"]
    price = delta["price"]
    assert price["status"] == "changed"
    assert list(price["stats"]) == ["rows", "null_fraction", "mean", "max", "top"]
    assert price["stats"]["rows"] == {"old": 100, "new": 120, "delta": 20, "relative": 0.2}
    assert price["stats"]["mean"]["relative"] == 0.25
    assert price["stats"]["max"] == {"old": 50, "new": 50, "delta": 0, "relative": 0.0}
    assert price["stats"]["null_fraction"]["relative"] is None  # 0 -> 0.1: no finite ratio
    assert math.isclose(price["stats"]["null_fraction"]["delta"], 0.1)
    assert price["stats"]["top"] == {"old": "x", "new": "y", "delta": None, "relative": None}
    assert delta["promo"]["status"] == "dropped"
    assert delta["promo"]["stats"]["distinct"] == {
        "old": 3,
        "new": None,
        "delta": None,
        "relative": None,
    }
    assert delta["same"]["status"] == "unchanged"
    assert delta["discount"]["status"] == "added"
    assert delta["discount"]["stats"]["mean"]["old"] is None


def test_profile_delta_negative_and_non_finite() -> None:
    delta = profile_delta({"x": {"min": -4.0, "std": float("nan")}}, {"x": {"min": -2.0}})
    stats = delta[0]["stats"]
    assert stats["min"]["relative"] == 0.5
    assert stats["std"]["delta"] is None
