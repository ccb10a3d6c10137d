from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

import passline.data.expectations as expectations_module
from passline.data.expectations import (
    EXPECTATION_TYPES,
    Expectation,
    ExpectationResult,
    ExpectationRunner,
    NotNull,
    Range,
    dump_expectations,
    has_errors,
    parse_expectations,
)
from passline.errors import InvalidInput, NotFound

NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)

DOC_EXAMPLE = """
expectations:
  - {type: not_null, column: store_id, level: error}
  - {type: unique, column: txn_id}              # level defaults to error
  - {type: range, column: price, min: 0, max: 10000, level: warning}
  - {type: allowed_values, column: country, values: [FR, DE, US]}
  - {type: regex, column: email, pattern: '^[^@]+@[^@]+$'}
  - {type: row_count, min: 1, max: 1000000}
  - {type: freshness, column: event_time, max_age: 2d}   # newest value no older than
  - {type: reference, column: store_id, dataset: stores, key: store_id}  # foreign key
"""


def run(yaml_text: str, *batches: pa.RecordBatch | pa.Table, **finish: Any) -> list:
    runner = ExpectationRunner(parse_expectations(yaml_text))
    for batch in batches:
        runner.update(batch)
    return runner.finish(now=finish.pop("now", NOW), **finish)


def one(yaml_item: str, *batches: pa.RecordBatch | pa.Table, **finish: Any) -> ExpectationResult:
    (result,) = run(f"expectations:\n  - {yaml_item}\n", *batches, **finish)
    json.dumps(result.to_dict())  # observed values are always JSON-ready
    return result


def batch(**columns: Any) -> pa.RecordBatch:
    return pa.record_batch(
        {k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in columns.items()}
    )


# --- registry and parsing -------------------------------------------------------------------


def test_every_type_is_registered_checked_and_documented() -> None:
    doc = expectations_module.__doc__ or ""
    subclasses = {c for c in _all_subclasses(Expectation) if "type" in c.model_fields}
    concrete = {c for c in subclasses if isinstance(c.model_fields["type"].default, str)}
    assert set(EXPECTATION_TYPES.values()) == concrete
    assert set(EXPECTATION_TYPES) == set(expectations_module._CHECKS)
    for type_id, model in EXPECTATION_TYPES.items():
        assert model.model_fields["type"].default == type_id
        assert f"``{type_id}``" in doc, f"{type_id} is not described in the module docstring"
        assert f"type: {type_id}" in doc, f"{type_id} has no YAML example in the docstring"


def _all_subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_all_subclasses(c) for c in found)) if found else found


def test_docstring_example_parses() -> None:
    parsed = parse_expectations(DOC_EXAMPLE)
    assert [e.type for e in parsed] == list(EXPECTATION_TYPES)
    assert parsed[1].level == "error" and parsed[2].level == "warning"
    assert parsed[2] == Range(column="price", min=0, max=10000, level="warning")
    assert parse_expectations(dump_expectations(parsed)) == parsed


def test_models_are_frozen() -> None:
    spec = NotNull(column="a")
    with pytest.raises(Exception, match="frozen"):
        spec.column = "b"  # type: ignore[misc]


def test_empty_list_and_document() -> None:
    assert parse_expectations("expectations: []") == []
    assert parse_expectations("expectations:") == []
    with pytest.raises(InvalidInput, match="Got an empty document instead"):
        parse_expectations("")


def test_yaml_syntax_error_names_the_line() -> None:
    text = "expectations:\n  - {type: not_null, column: a}\n  - {type: range, column: [}\n"
    with pytest.raises(InvalidInput, match=r"not valid at line 3, column \d+"):
        parse_expectations(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- {type: not_null}", "must be a mapping with one key, 'expectations'"),
        ("expectations: {}", "'expectations' must be a list of items"),
        ("expect: []", "Got the key 'expect'"),
        ("expectations: [not_null]", r"expectations\[0\] must be a mapping .* Got 'not_null'"),
        (
            "expectations: [{type: nonnull, column: a}]",
            r"Unknown expectation type 'nonnull' at expectations\[0\]. Known types: "
            r"allowed_values, freshness, not_null, .*Did you mean 'not_null'\?",
        ),
        ("expectations: [{column: a}]", r"expectations\[0\] has no 'type'. Known types"),
        (
            "expectations: [{type: range, column: price, min: abc}]",
            r"The 'min' of expectation 'range' on column 'price' \(expectations\[0\]\) must be "
            r"a number. Got 'abc' instead.",
        ),
        (
            "expectations: [{type: range, column: price, min: '5'}]",
            "must be a number. Got '5' instead",
        ),
        ("expectations: [{type: range, column: price}]", "needs 'min', 'max' or both"),
        (
            "expectations: [{type: range, column: price, min: 5, max: 1}]",
            r"has 'min' \(5\) greater than 'max' \(1\)",
        ),
        (
            "expectations: [{type: not_null, column: a, level: fatal}]",
            "The 'level' of .* must be one of 'error' or 'warning'. Got 'fatal' instead.",
        ),
        (
            "expectations: [{type: not_null}]",
            r"expectation 'not_null' \(expectations\[0\]\) is missing the required field "
            "'column'",
        ),
        (
            "expectations: [{type: not_null, column: a, colour: red}]",
            "has an unknown field 'colour'. Allowed fields: column, level, type.",
        ),
        ("expectations: [{type: not_null, column: 12}]", "must be a string. Got 12 instead"),
        (
            "expectations: [{type: row_count, min: -1}]",
            "The 'min' of expectation 'row_count' .* greater than or equal to 0. Got -1",
        ),
        ("expectations: [{type: row_count, max: 1.5}]", "must be an integer. Got 1.5"),
        ("expectations: [{type: allowed_values, column: c, values: []}]", "at least 1 item"),
        ("expectations: [{type: allowed_values, column: c, values: FR}]", "must be a list"),
        (
            "expectations: [{type: allowed_values, column: c, values: [[1]]}]",
            "must hold strings, numbers or booleans",
        ),
        ("expectations: [{type: regex, column: e, pattern: '(['}]", "valid RE2 regular"),
        (
            "expectations: [{type: freshness, column: t, max_age: 2 days}]",
            "The 'max_age' .* must be a duration such as '45s', '30m', '12h', '2d' or '1w'. "
            "Got '2 days' instead.",
        ),
        ("expectations: [{type: reference, column: s, dataset: stores}]", "field 'key'"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_expectations(text)


def test_all_problems_are_reported_at_once() -> None:
    text = """
expectations:
  - {type: range, column: price, min: abc}
  - {type: not_null, column: ok}
  - {type: bogus}
"""
    with pytest.raises(InvalidInput, match="2 problems") as info:
        parse_expectations(text)
    assert len(info.value.details["problems"]) == 2
    assert "expectations[2]" in info.value.details["problems"][1]


# --- each type, passing and failing ---------------------------------------------------------


def test_not_null() -> None:
    good = one("{type: not_null, column: a}", batch(a=[1, 2]))
    assert good.passed and good.message == "a: no nulls in 2 rows"
    bad = one("{type: not_null, column: a}", batch(a=[1, None, None]), batch(a=[None, 5]))
    assert not bad.passed
    assert bad.observed == {"rows": 5, "null_count": 3}
    assert bad.message == "a: 3 null values in 5 rows"


def test_unique_across_batches() -> None:
    item = "{type: unique, column: id}"
    assert one(item, batch(id=[1, 2, None, None]), batch(id=[3, 4])).passed
    result = one(item, batch(id=[1, 2, 3]), batch(id=[4, 2]), batch(id=[5, 5, 6]))
    assert not result.passed
    assert result.observed["unexpected_count"] == 4
    assert result.observed["sample"] == [2, 5]
    assert result.message == "id: 4 rows share 2 duplicated values, e.g. 2, 5"


def test_unique_merges_many_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = ExpectationRunner(parse_expectations("expectations: [{type: unique, column: k}]"))
    for start in range(0, 50_000, 5_000):
        runner.update(batch(k=[f"k{i}" for i in range(start, start + 5_000)]))
    runner.update(batch(k=["k17", "k49999"]))
    (result,) = runner.finish(now=NOW)
    assert result.observed["unexpected_count"] == 4
    assert sorted(result.observed["sample"]) == ["k17", "k49999"]


def test_range() -> None:
    item = "{type: range, column: price, min: 0, max: 10000}"
    good = one(item, batch(price=[0, 5, 10000]))
    assert good.passed and good.observed["min"] == 0 and good.observed["max"] == 10000
    bad = one(item, batch(price=[-5.0, 3.0, None]), batch(price=[12000.0, float("nan"), -5.0]))
    assert not bad.passed
    assert bad.observed["unexpected_count"] == 4
    assert bad.message.startswith("price: 4 values outside [0, 10000], e.g. -5, 12000")
    assert bad.observed["sample"][:2] == [-5.0, 12000.0]


def test_range_one_sided_and_decimals() -> None:
    assert one("{type: range, column: p, min: 1.5}", batch(p=[2, 3])).passed
    result = one(
        "{type: range, column: p, max: 10}",
        batch(p=pa.array([Decimal("10.5")], pa.decimal128(5, 2))),
    )
    assert not result.passed and "outside [-inf, 10]" in result.message


def test_allowed_values() -> None:
    item = "{type: allowed_values, column: country, values: [FR, DE, US]}"
    assert one(item, batch(country=["FR", None, "US"])).passed
    dictionary = pa.array(["FR", "XX", "XX", "de"]).dictionary_encode()
    bad = one(item, batch(country=dictionary))
    assert bad.observed["unexpected_count"] == 3
    assert bad.message == "country: 3 values not in ['FR', 'DE', 'US'], e.g. 'XX', 'de'"


def test_allowed_values_cast_to_column_type() -> None:
    assert one("{type: allowed_values, column: n, values: [1, '2']}", batch(n=[1, 2])).passed
    assert one("{type: allowed_values, column: s, values: [1, 2]}", batch(s=["1", "2"])).passed
    bad = one("{type: allowed_values, column: n, values: [1, x]}", batch(n=[1, 3]))
    assert bad.observed["sample"] == [3]


def test_regex() -> None:
    item = "{type: regex, column: email, pattern: '^[^@]+@[^@]+$'}"
    assert one(item, batch(email=["a@b.c", None])).passed
    bad = one(item, batch(email=["a@b.c", "bob", "x@y@z"]))
    assert bad.observed["unexpected_count"] == 2
    assert bad.message == "email: 2 values do not match '^[^@]+@[^@]+$', e.g. 'bob', 'x@y@z'"


def test_row_count() -> None:
    item = "{type: row_count, min: 1, max: 4}"
    assert one(item, batch(a=[1, 2]), batch(a=[3])).passed
    assert one(item, batch(a=[1, 2]), batch(a=[3])).message == "row count 3 within [1, 4]"
    assert not one(item).passed  # no batches at all
    too_many = one(item, batch(a=[1, 2, 3]), batch(a=[4, 5]))
    assert not too_many.passed and too_many.message == "row count 5 outside [1, 4]"
    assert too_many.column is None


def test_freshness_with_fixed_now() -> None:
    item = "{type: freshness, column: t, max_age: 2d}"
    recent = pa.array([NOW - timedelta(days=5), NOW - timedelta(days=1)], pa.timestamp("us", "UTC"))
    old = pa.array([NOW - timedelta(days=5), None], pa.timestamp("us", "UTC"))
    good = one(item, batch(t=old), batch(t=recent))
    assert good.passed
    assert good.observed["newest"] == "2024-06-09T12:00:00+00:00"
    assert good.observed["age_seconds"] == 86400
    bad = one(item, batch(t=old))
    assert not bad.passed
    assert bad.message == "t: newest value 2024-06-05T12:00:00+00:00 is 5.0d old, more than 2d"


def test_freshness_naive_ns_and_dates() -> None:
    naive_ns = pa.array([datetime(2024, 6, 10, 11, 0)], pa.timestamp("ns"))
    assert one("{type: freshness, column: t, max_age: 90m}", batch(t=naive_ns)).passed
    assert not one("{type: freshness, column: t, max_age: 30m}", batch(t=naive_ns)).passed
    dates = pa.array([date(2024, 6, 9)], pa.date32())
    assert one("{type: freshness, column: d, max_age: 2d}", batch(d=dates)).passed
    assert not one("{type: freshness, column: d, max_age: 1d}", batch(d=dates)).passed
    empty = one("{type: freshness, column: d, max_age: 1d}", batch(d=pa.array([None], pa.date32())))
    assert not empty.passed and empty.message == "d: no values to judge freshness"


def test_reference() -> None:
    item = "{type: reference, column: store_id, dataset: stores, key: store_id}"
    calls: list[tuple[str, str]] = []

    def lookup(dataset: str, key: str) -> pa.Array:
        calls.append((dataset, key))
        return pa.array([1, 2, 3], pa.int32())

    good = one(item, batch(store_id=[1, 2]), batch(store_id=[3, None]), reference_lookup=lookup)
    assert good.passed and calls == [("stores", "store_id")]
    bad = one(item, batch(store_id=[1, 9, 9]), batch(store_id=[7]), reference_lookup=lookup)
    assert bad.observed["unexpected_count"] == 3
    assert bad.message == "store_id: 3 values not found in stores.store_id, e.g. 9, 7"
    as_set = one(item, batch(store_id=["a", "b"]), reference_lookup=lambda d, k: {"a", "b"})
    assert as_set.passed


def test_reference_without_lookup_or_dataset() -> None:
    item = "{type: reference, column: s, dataset: stores, key: id}"
    missing = one(item, batch(s=[1]))
    assert not missing.passed and "no reference lookup was supplied" in missing.message

    def not_found(dataset: str, key: str) -> pa.Array:
        raise NotFound(f"No dataset named '{dataset}'.")

    gone = one(item, batch(s=[1]), reference_lookup=not_found)
    assert gone.message == "s: cannot read stores.id: No dataset named 'stores'."
    text = one(item, batch(s=[1]), reference_lookup=lambda d, k: pa.array(["x"]))
    assert "do not compare" in text.message


# --- runner behaviour -----------------------------------------------------------------------


def test_missing_column_and_wrong_type_fail_as_results() -> None:
    results = run(
        """
expectations:
  - {type: not_null, column: nope}
  - {type: range, column: name, min: 0}
  - {type: regex, column: n, pattern: x, level: warning}
""",
        batch(name=["a"], n=[1]),
    )
    assert [r.passed for r in results] == [False, False, False]
    assert results[0].message == "nope: column not found (columns: name, n)"
    assert results[1].message == "name: range needs a numeric column; it is string"
    assert results[2].message == "n: regex needs a text column; it is int64"


def test_levels_and_has_errors() -> None:
    text = """
expectations:
  - {type: not_null, column: a, level: warning}
  - {type: row_count, min: 1}
"""
    results = run(text, batch(a=[None]))
    assert [r.level for r in results] == ["warning", "error"]
    assert not results[0].passed and results[1].passed
    assert not has_errors(results)
    assert has_errors(run(text.replace("level: warning", "level: error"), batch(a=[None])))


def test_tables_and_record_batches_give_the_same_results() -> None:
    table = pa.table({"id": [1, 1, 2], "price": [1.0, -1.0, None]})
    text = """
expectations:
  - {type: unique, column: id}
  - {type: range, column: price, min: 0}
  - {type: not_null, column: price}
"""
    from_table = run(text, pa.concat_tables([table, table]))
    from_batches = run(text, *table.to_batches(), *table.to_batches())
    assert [r.to_dict() for r in from_table] == [r.to_dict() for r in from_batches]


def test_samples_are_capped_at_five() -> None:
    result = one("{type: range, column: x, max: 0}", batch(x=list(range(1, 100))))
    assert result.observed["unexpected_count"] == 99
    assert result.observed["sample"] == [1, 2, 3, 4, 5]
