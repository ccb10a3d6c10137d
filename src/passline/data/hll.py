"""HyperLogLog distinct-count sketch in NumPy, fed whole Arrow arrays at a time.

Why our own: the DataSketches HLL only accepts one value per Python call, which would be
a Python loop over rows. Here hashing and register updates are array operations, and two
sketches merge by an element-wise max, so a version's profile can be merged with another's
without re-reading either.
"""

from __future__ import annotations

import base64

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["HyperLogLog", "hash_array"]

_PRECISION = 12  # 4096 registers: about 1.6% standard error, 4 KiB per column
_M = 1 << _PRECISION
_ALPHA = 0.7213 / (1 + 1.079 / _M)
_PRIME = np.uint64(0x100000001B3)
EXACT_LIMIT = 1024
_EMPTY = np.zeros(0, dtype=np.uint64)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads similar inputs over all 64 bits."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64, copy=True)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def _hash_binary(array: pa.Array) -> np.ndarray:
    """A polynomial hash of every string, from prefix sums over Arrow's data buffer.

    With W[j] = byte[j] * B**j and S its running sum (all mod 2**64), the string at
    [a, b) hashes to (S[b] - S[a]) * B**-a: the same for equal strings wherever they lie.
    B is odd, so it has an inverse mod 2**64, and everything is one pass of array
    arithmetic over the bytes, with no per-string work.
    """
    array = array.cast(pa.large_binary()) if not pa.types.is_large_binary(array.type) else array
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data_buffer = array.buffers()[2]
    first, last = int(offsets[0]), int(offsets[-1])
    lengths = np.diff(offsets).astype(np.uint64)
    if last == first or data_buffer is None:
        return _mix(lengths * _PRIME)
    data = np.frombuffer(data_buffer, dtype=np.uint8)[first:last]
    powers, inverse_powers = _powers(len(data) + 1)
    with np.errstate(over="ignore"):
        sums = np.zeros(len(data) + 1, dtype=np.uint64)
        np.cumsum(data.astype(np.uint64) * powers[:-1], out=sums[1:])
        starts = offsets[:-1] - first
        ends = offsets[1:] - first
        hashes = (sums[ends] - sums[starts]) * inverse_powers[starts]
        hashes += lengths * _PRIME
    return _mix(hashes)


_POWER_CACHE: tuple[np.ndarray, np.ndarray] = (np.ones(1, np.uint64), np.ones(1, np.uint64))
_BASE = 0x100000001B3
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """B**j and B**-j mod 2**64 for j < n, grown as needed and kept for later batches."""
    global _POWER_CACHE
    if len(_POWER_CACHE[0]) < n:
        size = max(n, 2 * len(_POWER_CACHE[0]))
        with np.errstate(over="ignore"):
            base = np.full(size, _BASE, dtype=np.uint64)
            base[0] = 1
            inverse = np.full(size, _BASE_INVERSE, dtype=np.uint64)
            inverse[0] = 1
            _POWER_CACHE = (np.cumprod(base, dtype=np.uint64), np.cumprod(inverse, dtype=np.uint64))
    return _POWER_CACHE[0][:n], _POWER_CACHE[1][:n]


def _is_binary_like(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def hash_array(array: pa.Array) -> np.ndarray:
    """64-bit hashes of the non-null values of an Arrow array of any primitive or string type."""
    array = array.drop_null() if array.null_count else array
    if len(array) == 0:
        return np.zeros(0, dtype=np.uint64)
    kind = array.type
    if _is_binary_like(kind):
        return _hash_binary(array)
    if pa.types.is_dictionary(kind):
        return hash_array(array.dictionary_decode())
    if pa.types.is_boolean(kind):
        return _mix(np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.uint64))
    if pa.types.is_floating(kind):
        values = np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)
        values = np.where(values == 0, 0.0, values)  # -0.0 and 0.0 are one value
        return _mix(values.view(np.uint64))
    if pa.types.is_temporal(kind):
        return _mix(_temporal_ints(array).astype(np.uint64))
    if pa.types.is_integer(kind):
        return _mix(
            np.asarray(array.to_numpy(zero_copy_only=False)).astype(np.int64).view(np.uint64)
        )
    if pa.types.is_decimal(kind):
        as_float = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
        return _mix(np.asarray(as_float, dtype=np.float64).view(np.uint64))
    return _hash_binary(pc.cast(array, pa.string()))


def _temporal_ints(array: pa.Array) -> np.ndarray:
    """A date or time's underlying integer: Arrow casts date32/time32 only to 32-bit ints,
    so reinterpret the buffer at the type's own width (zero copy), then widen."""
    width = array.type.bit_width
    raw = array.view(pa.int32() if width == 32 else pa.int64())
    return np.asarray(raw.to_numpy(zero_copy_only=False), dtype=np.int64)


class HyperLogLog:
    """Mergeable distinct-count estimate with 4,096 one-byte registers.

    Up to ``EXACT_LIMIT`` distinct values it also keeps their hashes and answers exactly:
    small columns (stores, countries, days) get their true count, not an estimate whose
    register collisions would show as "27 distinct" for 28 dates.
    """

    def __init__(
        self,
        registers: np.ndarray | None = None,
        exact: np.ndarray | None = None,
    ) -> None:
        self.registers = registers if registers is not None else np.zeros(_M, dtype=np.uint8)
        self.exact = exact if exact is not None or registers is not None else _EMPTY

    def update(self, array: pa.Array, distinct: bool = False) -> None:
        """Add an array's values; ``distinct=True`` says they are already unique."""
        if _is_binary_like(array.type) and not distinct:
            # Duplicates never change a register; Arrow's unique() is C++ and shrinks the
            # per-byte hashing work to the distinct strings only.
            array = pc.unique(array)
        hashes = hash_array(array)
        if len(hashes) == 0:
            return
        self._remember(hashes)
        index = (hashes >> np.uint64(64 - _PRECISION)).astype(np.int64)
        rest = (hashes << np.uint64(_PRECISION)) | np.uint64(1 << (_PRECISION - 1))
        rank = (_leading_zeros(rest) + 1).astype(np.uint8)
        np.maximum.at(self.registers, index, rank)

    def _remember(self, hashes: np.ndarray) -> None:
        if self.exact is None:
            return
        if (
            len(hashes) > EXACT_LIMIT * 8
            and len(np.unique(hashes[: EXACT_LIMIT * 8])) > EXACT_LIMIT
        ):
            self.exact = None  # clearly many distinct values: stop tracking them
            return
        merged = np.union1d(self.exact, hashes)
        self.exact = merged if len(merged) <= EXACT_LIMIT else None

    def merge(self, other: HyperLogLog) -> HyperLogLog:
        exact = None
        if self.exact is not None and other.exact is not None:
            union = np.union1d(self.exact, other.exact)
            exact = union if len(union) <= EXACT_LIMIT else None
        return HyperLogLog(np.maximum(self.registers, other.registers), exact)

    def estimate(self) -> int:
        if self.exact is not None:
            return len(self.exact)
        registers = self.registers.astype(np.float64)
        raw = _ALPHA * _M * _M / np.sum(np.exp2(-registers))
        zeros = int(np.count_nonzero(self.registers == 0))
        if raw <= 2.5 * _M and zeros:
            return round(_M * np.log(_M / zeros))  # linear counting for small sets
        return round(raw)

    def to_b64(self) -> str:
        registers = base64.b64encode(self.registers.tobytes()).decode()
        if self.exact is None:
            return registers
        return registers + "|" + base64.b64encode(self.exact.tobytes()).decode()

    @classmethod
    def from_b64(cls, text: str) -> HyperLogLog:
        registers, _, exact = text.partition("|")
        values = np.frombuffer(base64.b64decode(registers), dtype=np.uint8).copy()
        hashes = np.frombuffer(base64.b64decode(exact), dtype=np.uint64).copy() if exact else None
        return cls(values, hashes)


def _leading_zeros(values: np.ndarray) -> np.ndarray:
    """Count leading zero bits of uint64 values: smear the top set bit rightwards, then
    64 minus the count of ones is the number of leading zeros (in place, no branches)."""
    smeared = values.copy()
    for shift in (1, 2, 4, 8, 16, 32):
        smeared |= smeared >> np.uint64(shift)
    return 64 - np.bitwise_count(smeared).astype(np.int64)
