"""What changed between two dataset versions: schema, rows and profile statistics.

Schema changes are classified per column (:func:`schema_diff`):

=============  ======================================================  ========
kind           meaning                                                 breaking
=============  ======================================================  ========
added          a column only in the new schema                         no
dropped        a column only in the old schema                         yes
widened        every old value is representable in the new type       no
narrowed       the reverse is a widening, or a number type that        yes
               cannot hold every old value (int64 -> float64)
incompatible   neither: bool -> int64, naive -> aware timestamp        yes
made_nullable  not null -> nullable: readers may now see nulls         yes
made_required  nullable -> not null: a stronger guarantee              no
=============  ======================================================  ========

Widening rules (old -> new), chosen so that no value is lost:

- integers to wider integers of the same signedness, unsigned to a strictly wider signed;
- integers to floats only when exact: up to 24 value bits to float32, 53 to float64. So
  int32 -> float64 widens, but int64 -> float64 narrows (values above 2**53 round);
- float16 -> float32 -> float64; integers and decimals to a decimal with enough integer
  digits and at least the same scale;
- date32 -> date64, any date -> timestamp, timestamp / time / duration to a finer unit
  (a timestamp keeps its timezone-awareness: naive <-> aware is incompatible);
- string -> large_string, binary -> large_binary, fixed_size_binary -> binary, a dictionary
  to its value type and back (encoding is not a change of values), null -> anything;
- lists, maps and structs when their parts widen (a struct may gain fields);
- **anything -> string is a widening**: every value has a text form, so no information is
  lost. A consumer that computes on the column still has to change; the render names the
  types so a reviewer sees it.

Column order and schema metadata are ignored (Parquet reads by name).

:func:`row_diff` joins two tables on a key with Arrow's hash join (no Python loop over rows)
and counts added, removed and changed rows; :func:`profile_delta` compares the per-column
summaries of two profiles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from passline.errors import InvalidInput

__all__ = [
    "ChangedRow",
    "ColumnChange",
    "RowDiff",
    "SchemaDiff",
    "classify_type_change",
    "profile_delta",
    "row_diff",
    "schema_diff",
]

ChangeKind = Literal[
    "added", "dropped", "widened", "narrowed", "incompatible", "made_nullable", "made_required"
]
_BREAKING = frozenset({"dropped", "narrowed", "incompatible", "made_nullable"})
_UNIT_RANK = {"s": 0, "ms": 1, "us": 2, "ns": 3}
_FLOAT_MANTISSA = {16: 11, 32: 24, 64: 53}
_PROFILE_STATS = ("rows", "null_fraction", "mean", "std", "min", "max", "distinct")


# --- schema ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnChange:
    """One change to one column; ``old``/``new`` are type texts such as ``'int64'``."""

    column: str
    kind: ChangeKind
    old: str | None = None
    new: str | None = None

    @property
    def breaking(self) -> bool:
        return self.kind in _BREAKING

    def render(self) -> str:
        suffix = ": breaking" if self.breaking else ""
        if self.kind == "added":
            return f"+ {self.column}: {self.new}"
        if self.kind == "dropped":
            return f"- {self.column}: {self.old} (dropped{suffix})"
        if self.kind in ("made_nullable", "made_required"):
            label = "nulls now allowed" if self.kind == "made_nullable" else "nulls disallowed"
            return f"~ {self.column}: {self.old} -> {self.new} ({label}{suffix})"
        return f"~ {self.column}: {self.old} -> {self.new} ({self.kind}{suffix})"


@dataclass(frozen=True)
class SchemaDiff:
    """Every column change between two schemas, in the new schema's order, dropped last."""

    changes: tuple[ColumnChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.changes)

    @property
    def is_breaking(self) -> bool:
        return any(change.breaking for change in self.changes)

    @property
    def added(self) -> list[str]:
        return self._columns("added")

    @property
    def dropped(self) -> list[str]:
        return self._columns("dropped")

    @property
    def type_changes(self) -> list[ColumnChange]:
        kinds = ("widened", "narrowed", "incompatible")
        return [c for c in self.changes if c.kind in kinds]

    @property
    def nullability_changes(self) -> list[ColumnChange]:
        return [c for c in self.changes if c.kind in ("made_nullable", "made_required")]

    def render(self) -> list[str]:
        """One line per change: ``+ discount: double``, ``~ units: int64 -> int32 (...)``."""
        return [change.render() for change in self.changes]

    def to_dict(self) -> dict[str, Any]:
        changes = [asdict(c) | {"breaking": c.breaking} for c in self.changes]
        return {"is_breaking": self.is_breaking, "changes": changes}

    def _columns(self, kind: str) -> list[str]:
        return [c.column for c in self.changes if c.kind == kind]


def schema_diff(old: pa.Schema, new: pa.Schema) -> SchemaDiff:
    """Compare two schemas column by column (see the module docstring for the rules)."""
    old_fields, new_fields = _fields_by_name(old, "old"), _fields_by_name(new, "new")
    changes: list[ColumnChange] = []
    for name, after in new_fields.items():
        before = old_fields.get(name)
        if before is None:
            text = str(after.type) + ("" if after.nullable else " not null")
            changes.append(ColumnChange(name, "added", None, text))
        else:
            changes.extend(_field_changes(before, after))
    changes.extend(
        ColumnChange(name, "dropped", str(before.type), None)
        for name, before in old_fields.items()
        if name not in new_fields
    )
    return SchemaDiff(tuple(changes))


def _fields_by_name(schema: pa.Schema, side: str) -> dict[str, pa.Field]:
    names = schema.names
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InvalidInput(
            f"The {side} schema has the column '{dup}' more than once. "
            "Rename one of them before comparing."
        )
    return {f.name: f for f in schema}


def _field_changes(before: pa.Field, after: pa.Field) -> list[ColumnChange]:
    changes = []
    kind = classify_type_change(before.type, after.type)
    if kind is not None:
        changes.append(ColumnChange(before.name, kind, str(before.type), str(after.type)))
    if before.nullable != after.nullable:
        if after.nullable:
            changes.append(ColumnChange(before.name, "made_nullable", "not null", "nullable"))
        else:
            changes.append(ColumnChange(before.name, "made_required", "nullable", "not null"))
    return changes


def classify_type_change(old: pa.DataType, new: pa.DataType) -> ChangeKind | None:
    """``None`` when equal, else 'widened', 'narrowed' or 'incompatible'."""
    if old == new:
        return None
    if _widens(old, new):
        return "widened"
    if _widens(new, old) or (_is_numeric(old) and _is_numeric(new)):
        return "narrowed"  # a number type that cannot hold every old value counts here too
    return "incompatible"


def _widens(old: pa.DataType, new: pa.DataType) -> bool:
    """True when every value of type ``old`` is representable, unchanged, in ``new``."""
    if old == new or pa.types.is_null(old):
        return True
    if pa.types.is_dictionary(old):
        return _widens(old.value_type, new)
    if pa.types.is_dictionary(new):
        return _widens(old, new.value_type)
    if pa.types.is_string(new) or pa.types.is_large_string(new):
        return True  # the documented "anything -> string" rule
    for rule in (_widens_number, _widens_temporal, _widens_binary, _widens_nested):
        verdict = rule(old, new)
        if verdict is not None:
            return verdict
    return False


def _widens_number(old: pa.DataType, new: pa.DataType) -> bool | None:
    if pa.types.is_integer(old) and pa.types.is_integer(new):
        if pa.types.is_signed_integer(old) == pa.types.is_signed_integer(new):
            return new.bit_width >= old.bit_width
        return pa.types.is_unsigned_integer(old) and new.bit_width > old.bit_width
    if pa.types.is_integer(old) and pa.types.is_floating(new):
        value_bits = old.bit_width - (1 if pa.types.is_signed_integer(old) else 0)
        return value_bits <= _FLOAT_MANTISSA[new.bit_width]
    if pa.types.is_floating(old) and pa.types.is_floating(new):
        return new.bit_width >= old.bit_width
    if pa.types.is_integer(old) and pa.types.is_decimal(new):
        digits = len(str(2 ** (old.bit_width - pa.types.is_signed_integer(old)) - 1))
        return new.precision - new.scale >= digits
    if pa.types.is_decimal(old) and pa.types.is_decimal(new):
        return new.scale >= old.scale and new.precision - new.scale >= old.precision - old.scale
    return None


def _widens_temporal(old: pa.DataType, new: pa.DataType) -> bool | None:
    if pa.types.is_date(old) and pa.types.is_date(new):
        return pa.types.is_date64(new)
    if pa.types.is_date(old) and pa.types.is_timestamp(new):
        return True
    if pa.types.is_timestamp(old) and pa.types.is_timestamp(new):
        same_awareness = (old.tz is None) == (new.tz is None)
        return same_awareness and _UNIT_RANK[new.unit] >= _UNIT_RANK[old.unit]
    if (pa.types.is_time(old) and pa.types.is_time(new)) or (
        pa.types.is_duration(old) and pa.types.is_duration(new)
    ):
        return _UNIT_RANK[new.unit] >= _UNIT_RANK[old.unit]
    return None


def _widens_binary(old: pa.DataType, new: pa.DataType) -> bool | None:
    binaries = (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_fixed_size_binary)
    if any(t(old) for t in binaries) and any(t(new) for t in binaries):
        return pa.types.is_large_binary(new) or (
            pa.types.is_binary(new) and pa.types.is_fixed_size_binary(old)
        )
    return None


def _list_rank(t: pa.DataType) -> int | None:
    if pa.types.is_fixed_size_list(t):
        return 0
    if pa.types.is_list(t):
        return 1
    if pa.types.is_large_list(t):
        return 2
    return None


def _widens_nested(old: pa.DataType, new: pa.DataType) -> bool | None:
    old_rank, new_rank = _list_rank(old), _list_rank(new)
    if old_rank is not None and new_rank is not None:
        same_size = old_rank != 0 or new_rank != 0 or old.list_size == new.list_size
        return new_rank >= old_rank and same_size and _widens(old.value_type, new.value_type)
    if pa.types.is_map(old) and pa.types.is_map(new):
        return _widens(old.key_type, new.key_type) and _widens(old.item_type, new.item_type)
    if pa.types.is_struct(old) and pa.types.is_struct(new):
        new_fields = {f.name: f.type for f in new}
        return all(f.name in new_fields and _widens(f.type, new_fields[f.name]) for f in old)
    return None


# --- rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangedRow:
    """A key present on both sides whose other values differ: ``{column: (old, new)}``."""

    key: dict[str, Any]
    changes: dict[str, tuple[Any, Any]]


@dataclass(frozen=True)
class RowDiff:
    """Counts and examples of rows added, removed and changed between two tables.

    Examples hold raw values: mask restricted columns before showing them.
    """

    key: list[str]
    added: int
    removed: int
    changed: int
    unchanged: int
    compared_columns: list[str]
    skipped_columns: dict[str, str] = field(default_factory=dict)  # column -> why
    changed_by_column: dict[str, int] = field(default_factory=dict)
    added_examples: list[dict[str, Any]] = field(default_factory=list)
    removed_examples: list[dict[str, Any]] = field(default_factory=list)
    changed_examples: list[ChangedRow] = field(default_factory=list)

    def render(self) -> list[str]:
        per_column = ", ".join(f"{c}: {n}" for c, n in self.changed_by_column.items() if n)
        lines = [
            f"{self.added} added, {self.removed} removed, {self.changed} changed"
            + (f" ({per_column})" if per_column else "")
            + f", {self.unchanged} unchanged"
        ]
        lines += [f"not compared: {c} ({why})" for c, why in self.skipped_columns.items()]
        return lines


_OLD_ROW, _NEW_ROW = "__passline_old_row", "__passline_new_row"


def row_diff(old: pa.Table, new: pa.Table, key: Sequence[str], limit: int = 20) -> RowDiff:
    """Match rows of ``old`` and ``new`` on ``key`` and compare the other shared columns.

    A row is changed when any shared non-key column differs, null-safe (null == null, and
    NaN == NaN for floats). Columns on one side only are left to :func:`schema_diff`.

    Raises:
        InvalidInput: a key column is missing, holds nulls, or a key value is duplicated.
    """
    key = list(key)
    if not key:
        raise InvalidInput("The 'key' of row_diff must name at least one column. Got [] instead.")
    if limit < 0:
        raise InvalidInput(f"The 'limit' of row_diff must be >= 0. Got {limit} instead.")
    new = _align_keys(old, new, key)
    for side, table in (("old", old), ("new", new)):
        _check_key(table, key, side)
    compared, skipped, casts = _comparable_columns(old, new, key)
    old_rows, new_rows = _match(old, new, key)
    matched = ~(np.isnan(old_rows) | np.isnan(new_rows))
    added = np.sort(new_rows[np.isnan(old_rows)]).astype(np.int64)
    removed = np.sort(old_rows[np.isnan(new_rows)]).astype(np.int64)
    order = np.argsort(old_rows[matched])
    pairs = (old_rows[matched][order].astype(np.int64), new_rows[matched][order].astype(np.int64))
    masks = {c: _column_differs(old, new, c, pairs, casts.get(c)) for c in compared}
    changed = np.zeros(len(pairs[0]), dtype=bool)
    for mask in masks.values():
        changed |= mask
    return RowDiff(
        key=key,
        added=len(added),
        removed=len(removed),
        changed=int(changed.sum()),
        unchanged=int((~changed).sum()),
        compared_columns=compared,
        skipped_columns=skipped,
        changed_by_column={c: int(m.sum()) for c, m in masks.items()},
        added_examples=new.take(pa.array(added[:limit])).to_pylist(),
        removed_examples=old.take(pa.array(removed[:limit])).to_pylist(),
        changed_examples=_changed_examples(old, new, key, pairs, changed, masks, limit),
    )


def _align_keys(old: pa.Table, new: pa.Table, key: list[str]) -> pa.Table:
    """``new`` with its key columns cast to the old key types (the join needs equal types)."""
    for side, table in (("old", old), ("new", new)):
        missing = [k for k in key if k not in table.column_names]
        if missing:
            raise InvalidInput(
                f"The key column '{missing[0]}' is not in the {side} table. "
                f"Its columns are: {', '.join(table.column_names)}."
            )
    for name in key:
        before, after = old.schema.field(name).type, new.schema.field(name).type
        if before == after:
            continue
        try:
            column = pc.cast(new[name], before, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InvalidInput(
                f"The key column '{name}' is {before} in the old table and {after} in the new "
                "one, and the new values do not convert. Cast one side before comparing."
            ) from None
        new = new.set_column(new.column_names.index(name), name, column)
    return new


def _check_key(table: pa.Table, key: list[str], side: str) -> None:
    for name in key:
        nulls = table[name].null_count
        if nulls:
            raise InvalidInput(
                f"The key column '{name}' has {nulls} null values in the {side} table. "
                "A key must identify every row; fill or drop those rows first."
            )
    counts = table.select(key).group_by(key, use_threads=False).aggregate([([], "count_all")])
    duplicated = counts.filter(pc.greater(counts["count_all"], 1))
    if duplicated.num_rows:
        example = duplicated.slice(0, 1).to_pylist()[0]
        times = example.pop("count_all")
        raise InvalidInput(
            f"The key ({', '.join(key)}) is not unique in the {side} table: {example} "
            f"appears {times} times ({duplicated.num_rows} duplicated key values in all). "
            "Choose key columns that identify one row each."
        )


def _comparable_columns(
    old: pa.Table, new: pa.Table, key: list[str]
) -> tuple[list[str], dict[str, str], dict[str, pa.DataType]]:
    """Shared non-key columns to compare, those skipped (and why), and casts for type changes."""
    compared, skipped, casts = [], {}, {}
    new_names = set(new.column_names)
    for name in old.column_names:
        if name in key:
            continue
        if name not in new_names:
            skipped[name] = "only in old"
            continue
        before, after = old.schema.field(name).type, new.schema.field(name).type
        common = _common_type(before, after)
        if common is None:
            skipped[name] = f"{before} and {after} cannot be compared"
            continue
        if not _is_flat(common):
            skipped[name] = f"nested type {common} is not compared"
            continue
        compared.append(name)
        if common != before or common != after:
            casts[name] = common
    skipped.update({n: "only in new" for n in new.column_names if n not in old.column_names})
    return compared, skipped, casts


def _common_type(before: pa.DataType, after: pa.DataType) -> pa.DataType | None:
    if pa.types.is_dictionary(before):
        before = before.value_type
    if pa.types.is_dictionary(after):
        after = after.value_type
    if before == after:
        return before
    if _is_plain_number(before) and _is_plain_number(after):
        # int64 -> float64 is a narrowing by the schema rules, yet 3 and 3.0 are the same
        # value: compare numbers as numbers (approximately above 2**53).
        if not (_widens(before, after) or _widens(after, before)):
            return pa.float64()
    if _widens(before, after) and not pa.types.is_string(after):
        return after
    if _widens(after, before) and not pa.types.is_string(before):
        return before
    return None  # e.g. int64 vs string: equal-looking text would hide a real change


def _is_numeric(t: pa.DataType) -> bool:
    return _is_plain_number(t) or pa.types.is_decimal(t)


def _is_plain_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _is_flat(t: pa.DataType) -> bool:
    return not (pa.types.is_nested(t) or pa.types.is_union(t))


def _match(old: pa.Table, new: pa.Table, key: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers on each side per matched key; NaN where the key is on one side only."""
    left = old.select(key).append_column(_OLD_ROW, pa.array(np.arange(old.num_rows)))
    right = new.select(key).append_column(_NEW_ROW, pa.array(np.arange(new.num_rows)))
    joined = left.join(right, keys=key, join_type="full outer", use_threads=True)
    as_float = pa.float64()  # NaN marks a missing side; row numbers stay exact below 2**53
    return (
        joined[_OLD_ROW].cast(as_float).to_numpy(zero_copy_only=False),
        joined[_NEW_ROW].cast(as_float).to_numpy(zero_copy_only=False),
    )


def _column_differs(
    old: pa.Table,
    new: pa.Table,
    name: str,
    pairs: tuple[np.ndarray, np.ndarray],
    cast: pa.DataType | None,
) -> np.ndarray:
    before = old[name].take(pa.array(pairs[0]))
    after = new[name].take(pa.array(pairs[1]))
    if cast is not None or pa.types.is_dictionary(before.type):
        before = pc.cast(before, cast or before.type.value_type)
    if cast is not None or pa.types.is_dictionary(after.type):
        after = pc.cast(after, cast or after.type.value_type)
    return _differs(before, after)


def _differs(before: pa.ChunkedArray, after: pa.ChunkedArray) -> np.ndarray:
    """Null-safe inequality: null vs null is equal, null vs value differs, NaN equals NaN."""
    one_null = pc.xor(pc.is_null(before), pc.is_null(after))
    unequal = pc.fill_null(pc.not_equal(before, after), False)
    if pa.types.is_floating(before.type):
        both_nan = pc.and_(
            pc.fill_null(pc.is_nan(before), False), pc.fill_null(pc.is_nan(after), False)
        )
        unequal = pc.and_(unequal, pc.invert(both_nan))
    return np.asarray(pc.or_(one_null, unequal).to_numpy(zero_copy_only=False), dtype=bool)


def _changed_examples(
    old: pa.Table,
    new: pa.Table,
    key: list[str],
    pairs: tuple[np.ndarray, np.ndarray],
    changed: np.ndarray,
    masks: dict[str, np.ndarray],
    limit: int,
) -> list[ChangedRow]:
    picked = np.flatnonzero(changed)[:limit]  # at most `limit` rows: loops below are small
    old_rows, new_rows = pa.array(pairs[0][picked]), pa.array(pairs[1][picked])
    keys = old.select(key).take(old_rows).to_pylist()
    examples = [ChangedRow(k, {}) for k in keys]
    for name, mask in masks.items():
        flags = mask[picked]
        if not flags.any():
            continue
        before = old[name].take(old_rows).to_pylist()
        after = new[name].take(new_rows).to_pylist()
        for i in np.flatnonzero(flags):
            examples[i].changes[name] = (before[i], after[i])
    return examples


# --- profiles -------------------------------------------------------------------------------


def profile_delta(
    old_summary: Mapping[str, Mapping[str, Any]], new_summary: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Compare two profiles ``{column: {stat: value}}``, one entry per column.

    Each entry is ``{"column", "status", "stats"}`` where status is ``added``, ``dropped``,
    ``changed`` or ``unchanged`` and ``stats`` maps each stat present on either side (the
    usual ones first: rows, null_fraction, mean, std, min, max, distinct) to
    ``{"old", "new", "delta", "relative"}``. ``delta`` is new - old and ``relative`` is
    delta / |old|; both are None when a side is missing or not a number, and ``relative``
    is None when old is 0 and new is not (an infinite change has no useful number).
    """
    columns = list(old_summary) + [c for c in new_summary if c not in old_summary]
    return [_column_delta(c, old_summary.get(c), new_summary.get(c)) for c in columns]


def _column_delta(
    column: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, Any]:
    old_stats, new_stats = before or {}, after or {}
    present = set(old_stats) | set(new_stats)
    names = [s for s in _PROFILE_STATS if s in present]
    names += sorted(present - set(_PROFILE_STATS))
    stats = {s: _stat_delta(old_stats.get(s), new_stats.get(s)) for s in names}
    if before is None:
        status = "added"
    elif after is None:
        status = "dropped"
    else:
        same = all(v["old"] == v["new"] for v in stats.values())
        status = "unchanged" if same else "changed"
    return {"column": column, "status": status, "stats": stats}


def _stat_delta(before: Any, after: Any) -> dict[str, Any]:
    delta = relative = None
    if _is_number(before) and _is_number(after):
        delta = after - before
        if before != 0:
            relative = delta / abs(before)
        elif after == 0:
            relative = 0.0
    return {"old": before, "new": after, "delta": delta, "relative": relative}


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)
