"""One side of a comparison, whatever it was given as: a stored profile or raw values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from passline.data.drift.config import NUMERIC_KINDS
from passline.data.drift.distributions import (
    CategoricalDistribution,
    NumericDistribution,
    union_points,
)
from passline.data.profile import ColumnProfile, column_kind
from passline.errors import InvalidInput

__all__ = ["ColumnData", "ColumnInput"]


class ColumnData:
    """One side of a comparison: a stored column profile or raw values, views cached.

    ``kind`` is the profile's kind (numeric, temporal, categorical, boolean, other), for
    raw values the kind of their Arrow type.
    """

    def __init__(self, source: ColumnProfile | pa.Array, name: str = "column") -> None:
        self.name = name
        self.profile: ColumnProfile | None = None
        self.array: pa.Array | None = None
        if isinstance(source, ColumnProfile):
            self.profile = source
            self.kind, self.nulls = source.kind, source.nulls
            self.rows = source.count + source.nulls
        else:
            self.array = source
            self.kind, self.nulls = column_kind(source.type), source.null_count
            self.rows = len(source)
        self._numbers: NumericDistribution | None = None
        self._categories: CategoricalDistribution | None = None

    @classmethod
    def of(cls, source: ColumnInput, name: str = "column") -> ColumnData:
        """Wrap a profile or raw values (already-wrapped data is returned as is)."""
        if isinstance(source, ColumnData):
            return source
        if isinstance(source, ColumnProfile):
            return cls(source, name)
        if isinstance(source, pa.ChunkedArray):
            return cls(source.combine_chunks(), name)
        if isinstance(source, pa.Array):
            return cls(source, name)
        try:
            values = source if isinstance(source, np.ndarray) else list(source)
            return cls(pa.array(values), name)
        except (TypeError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"Column '{name}': expected a ColumnProfile or an array of values, got "
                f"{type(source).__name__} ({exc})."
            ) from exc

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    def numbers(self) -> NumericDistribution:
        if self._numbers is None:
            if self.profile is not None:
                self._numbers = NumericDistribution.from_profile(self.profile)
            else:
                self._numbers = NumericDistribution.from_values(self.array)
        return self._numbers

    def categories(self) -> CategoricalDistribution:
        if self._categories is None:
            if self.profile is not None:
                self._categories = CategoricalDistribution.from_profile(self.profile)
            else:
                self._categories = CategoricalDistribution.from_values(self.array)
        return self._categories

    def values(self) -> int:
        """How many values a test can use: non-null (and finite, for numbers)."""
        if self.profile is not None and self.kind != "other":
            return self.profile.moments_n if self.numeric else self.profile.count
        if self.numeric:
            return self.numbers().count
        return self.rows - self.nulls

    def unique_values(self, other: ColumnData) -> int:
        """Distinct values of both sides together (for a sketch: distinct retained items)."""
        if self.numeric:
            return len(union_points(self.numbers().points, other.numbers().points))
        seen = {k for k, v in self.categories().counts.items() if v}
        return len(seen | {k for k, v in other.categories().counts.items() if v})

    @property
    def exact(self) -> bool:
        return (self.numbers() if self.numeric else self.categories()).exact


ColumnInput = ColumnProfile | ColumnData | pa.Array | pa.ChunkedArray | np.ndarray | Sequence[Any]
