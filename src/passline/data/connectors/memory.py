"""Data already in memory (an Arrow table, a pandas DataFrame, a list of dicts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from passline.data.connectors.base import Connector
from passline.errors import InvalidInput

__all__ = ["Relabelled", "TableConnector", "as_table"]


class TableConnector(Connector):
    """Yields an in-memory table in batches; what ``datasets.ingest(table)`` uses."""

    kind = "memory"

    def __init__(self, data: Any, batch_rows: int = 65_536, label: str = "in-memory table") -> None:
        super().__init__()
        self.table = as_table(data)
        self.batch_rows = batch_rows
        self.label = label

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self.table.num_rows == 0:
            yield from self.table.to_batches() or [
                pa.RecordBatch.from_pylist([], self.table.schema)
            ]
            return
        yield from self.table.to_batches(max_chunksize=self.batch_rows)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "location": self.label, "rows": self.table.num_rows}


def as_table(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, list):
        return pa.Table.from_pylist(data)
    if type(data).__name__ == "DataFrame" and hasattr(data, "to_dict"):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise InvalidInput(
        f"Cannot ingest a {type(data).__name__}: pass an Arrow table, a pandas DataFrame or a "
        "list of dicts, or use a connector (files, SQL, HTTP, Redis)."
    )


class Relabelled(Connector):
    """Another connector under a truthful location (an upload's file name, not its spool)."""

    def __init__(self, inner: Connector, location: str) -> None:
        super().__init__()
        self.inner = inner
        self.kind = inner.kind  # type: ignore[misc]
        self.location = location
        self.report = inner.report

    def batches(self) -> Iterator[pa.RecordBatch]:
        return self.inner.batches()

    def describe(self) -> dict[str, Any]:
        described = {**self.inner.describe(), "location": self.location}
        described.pop("files", None)
        return described

    def commit(self) -> None:
        self.inner.commit()
