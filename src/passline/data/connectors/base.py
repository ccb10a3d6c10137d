"""The one small interface every connector implements: yield Arrow record batches.

A connector streams: it never holds the whole source in memory, so ingestion memory is
bounded by the batch size, not the source size. It raises :class:`passline.errors.InvalidInput`
for bad data (naming the line, record or field) and :class:`passline.errors.Unavailable`
for a source it cannot reach; never a driver exception.

    class MyConnector(Connector):
        kind = "my"
        def batches(self) -> Iterator[pa.RecordBatch]:
            yield pa.record_batch({"x": [1, 2, 3]})
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

__all__ = ["BadRows", "Connector", "ReadReport"]


@dataclass
class BadRows:
    """Rows a connector could not parse and set aside (``on_bad_lines='quarantine'``)."""

    line_numbers: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, line: int, text: str, reason: str) -> None:
        self.line_numbers.append(line)
        self.texts.append(text)
        self.reasons.append(reason)

    def __len__(self) -> int:
        return len(self.line_numbers)

    def to_table(self) -> pa.Table:
        return pa.table(
            {"line": self.line_numbers, "text": self.texts, "reason": self.reasons},
            schema=pa.schema(
                [("line", pa.int64()), ("text", pa.string()), ("reason", pa.string())]
            ),
        )


@dataclass
class ReadReport:
    """What a read did besides yielding rows; filled in while ``batches()`` runs."""

    skipped: BadRows = field(default_factory=BadRows)
    quarantined: BadRows = field(default_factory=BadRows)
    cursor: dict[str, Any] = field(default_factory=dict)  # e.g. last stream id acknowledged
    notes: list[str] = field(default_factory=list)


class Connector(ABC):
    """A source of Arrow record batches."""

    kind: ClassVar[str] = "abstract"

    def __init__(self) -> None:
        self.report = ReadReport()

    @abstractmethod
    def batches(self) -> Iterator[pa.RecordBatch]:
        """Yield the source's rows as record batches of one schema, streaming."""

    def describe(self) -> dict[str, Any]:
        """What to record with the version: kind, location, query; never a secret."""
        return {"kind": self.kind}

    def commit(self) -> None:  # noqa: B027 - optional hook
        """Called after the version is durably stored (a stream acknowledges here)."""

    def fingerprint(self) -> str | None:
        """A cheap digest of exactly what ``batches()`` would read, when one exists (the
        bytes of a file and the options that parse it). An ingest whose fingerprint equals
        the latest version's stops before reading anything. None: always read."""
        return None
