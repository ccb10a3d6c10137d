"""Read the result of a SQL query from any SQLAlchemy database, streaming.

Rows come through a server-side cursor (``stream_results``), ``chunk_rows`` at a time, so
memory does not grow with the result. The cursor description (PostgreSQL) and the first chunk
fix the schema; later chunks are converted to it.

Rows become Arrow batches through :class:`~passline.data.connectors._rows.RowBatcher`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy import create_engine, exc, text
from sqlalchemy.engine import Connection, CursorResult, make_url

from passline.data.connectors._rows import RowBatcher
from passline.data.connectors.base import Connector
from passline.data.secrets import redact, resolve_secret
from passline.errors import InvalidInput, Unavailable
from passline.settings import Settings, redact_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["SqlConnector"]

# PostgreSQL type OIDs -> Arrow. The declared type fixes a column's Arrow type even when the
# first chunk holds only nulls; other drivers (SQLite) report no types, so Arrow infers them.
_PG_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    700: pa.float64(),
    701: pa.float64(),
    25: pa.string(),
    1042: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}


class SqlConnector(Connector):
    """The rows of one SQL query, from any database SQLAlchemy can reach.

    Args:
        url: SQLAlchemy URL, e.g. ``postgresql+psycopg://reader@db:5432/sales``.
        query: the SELECT to run; use ``:name`` placeholders for ``params``.
        params: values bound to the query's placeholders.
        chunk_rows: rows fetched per round trip, and per record batch.
        password_ref: a secret reference for the password, merged into the URL at run time.
    """

    kind = "sql"

    def __init__(
        self,
        url: str,
        query: str,
        params: Mapping[str, Any] | None = None,
        chunk_rows: int = 50_000,
        password_ref: str | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        super().__init__()
        if chunk_rows < 1:
            raise InvalidInput(
                f"The 'chunk_rows' parameter of SqlConnector must be at least 1. "
                f"Got {chunk_rows} instead."
            )
        self.url, self.query, self.params = url, query, dict(params or {})
        self.chunk_rows, self.password_ref = chunk_rows, password_ref
        self.settings = settings or Settings()

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": redact_url(self.url), "query": self.query}

    def batches(self) -> Iterator[pa.RecordBatch]:
        engine = create_engine(self._connect_url())
        try:
            with self._connect(engine) as conn:
                yield from self._read(conn)
        finally:
            engine.dispose()

    def _connect_url(self) -> Any:
        url = make_url(self.url)
        if self.password_ref:
            url = url.set(password=resolve_secret(self.password_ref, self.settings))
        return url

    def _connect(self, engine: Engine) -> Connection:
        try:
            return engine.connect()
        except exc.DBAPIError as err:
            raise Unavailable(
                f"Cannot connect to {redact_url(self.url)}: {_reason(err)}",
                hint="Check that the database is running and reachable, and the credentials.",
            ) from None

    def _read(self, conn: Connection) -> Iterator[pa.RecordBatch]:
        streaming = conn.execution_options(stream_results=True, yield_per=self.chunk_rows)
        try:
            result = streaming.execute(text(self.query), self.params)
        except exc.DBAPIError as err:
            raise self._query_error(err) from None
        names = list(result.keys())
        batcher = RowBatcher(
            f"The query on {redact_url(self.url)}",
            self.report,
            self._described_types(result, names),
            hint="CAST the column to one type in the query.",
        )
        first_row = 1
        for rows in result.partitions(self.chunk_rows):
            columns = dict(zip(names, map(list, zip(*rows, strict=True)), strict=True))
            where = f"rows {first_row}-{first_row + len(rows) - 1}"
            yield batcher.from_columns(columns, where)
            first_row += len(rows)
        if batcher.schema is None:  # no rows: still tell the caller the columns
            yield batcher.from_columns({n: [] for n in names}, "no rows")

    def _described_types(self, result: CursorResult[Any], names: list[str]) -> dict[str, Any]:
        """The Arrow types of the columns whose declared type the driver reports."""
        if result.dialect.name != "postgresql" or result.cursor is None:
            return {}
        codes = [col[1] for col in result.cursor.description or []]  # DB-API: type_code
        return {n: _PG_TYPES[c] for n, c in zip(names, codes, strict=False) if c in _PG_TYPES}

    def _query_error(self, err: exc.DBAPIError) -> Exception:
        if err.connection_invalidated:
            return Unavailable(f"Lost the connection to {redact_url(self.url)}: {_reason(err)}")
        return InvalidInput(
            f"The query failed on {redact_url(self.url)}: {_reason(err)}",
            hint="Run the query in a SQL client to check it; query: " + self.query[:200],
        )


def _reason(err: exc.DBAPIError) -> str:
    """The driver's first message line, with any known secret blanked out."""
    lines = str(err.orig).strip().splitlines() or [type(err.orig).__name__]
    return redact(lines[0])[:300]
