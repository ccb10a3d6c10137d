"""SqlConnector on SQLite (a file made here) and on the real PostgreSQL (``postgres_url``)."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from passline.data.connectors.sql import SqlConnector
from passline.errors import InvalidInput, Unavailable
from passline.settings import Settings

from .conftest import free_port

SECRET = "Zx9-pg-secret-value-417"


def read(connector: SqlConnector) -> list[pa.RecordBatch]:
    return list(connector.batches())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file with 250 rows; ``late`` is null in the first 120 rows."""
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER, item TEXT, price REAL, late INTEGER)")
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [(i, f"item{i}", i * 1.5, None if i <= 120 else i) for i in range(1, 251)],
        )
    db.close()
    return f"sqlite:///{path}"


def test_sqlite_streams_chunks_of_one_schema(sqlite_url: str) -> None:
    connector = SqlConnector(sqlite_url, "SELECT * FROM orders ORDER BY id", chunk_rows=100)
    batches = read(connector)
    assert [b.num_rows for b in batches] == [100, 100, 50]
    assert len({b.schema for b in batches}) == 1
    assert batches[0].schema.types[:3] == [pa.int64(), pa.string(), pa.float64()]
    table = pa.Table.from_batches(batches)
    assert table.column("id").to_pylist() == list(range(1, 251))
    # SQLite reports no types and `late` has no value in the first chunk: kept as text.
    assert table.schema.field("late").type == pa.string()
    assert table.column("late").to_pylist()[-1] == "250"
    assert any("'late'" in note for note in connector.report.notes)


def test_query_params_are_bound(sqlite_url: str) -> None:
    connector = SqlConnector(sqlite_url, "SELECT id FROM orders WHERE id > :low", {"low": 247})
    assert pa.Table.from_batches(read(connector)).column("id").to_pylist() == [248, 249, 250]


def test_empty_result_yields_the_columns(sqlite_url: str) -> None:
    batches = read(SqlConnector(sqlite_url, "SELECT id, item FROM orders WHERE id < 0"))
    assert [b.num_rows for b in batches] == [0]
    assert batches[0].schema.names == ["id", "item"]


def test_later_value_that_does_not_fit_names_the_column(sqlite_url: str) -> None:
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE orders SET price = 'free' WHERE id = 150")
    db.close()
    connector = SqlConnector(sqlite_url, "SELECT * FROM orders ORDER BY id", chunk_rows=100)
    with pytest.raises(InvalidInput, match=r"rows 101-200: column 'price' .* double"):
        read(connector)


def test_bad_query_is_invalid_input(sqlite_url: str) -> None:
    with pytest.raises(InvalidInput, match=r"The query failed .*no such table: nope"):
        read(SqlConnector(sqlite_url, "SELECT * FROM nope"))


def test_unreachable_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/missing/dir/x.db"
    with pytest.raises(Unavailable, match="Cannot connect to sqlite:///"):
        read(SqlConnector(url, "SELECT 1"))


def test_describe_shows_url_without_password_and_the_query() -> None:
    connector = SqlConnector("postgresql+psycopg://bob:hunter2@db:5432/sales", "SELECT 1")
    assert connector.describe() == {
        "kind": "sql",
        "url": "postgresql+psycopg://bob:***@db:5432/sales",
        "query": "SELECT 1",
    }


def test_chunk_rows_must_be_positive() -> None:
    with pytest.raises(InvalidInput, match="'chunk_rows' .* Got 0 instead"):
        SqlConnector("sqlite://", "SELECT 1", chunk_rows=0)


# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture
def pg_table(postgres_url: str) -> Iterator[str]:
    """A table of 1000 rows in a fresh database; ``maybe`` is null in the first 600."""
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE readings AS SELECT g AS id, g * 0.5::float8 AS value,"
                " 'sensor-' || g AS label, g % 2 = 0 AS even,"
                " timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' AS at,"
                " (g / 3.0)::numeric(12, 4) AS ratio,"
                " CASE WHEN g > 600 THEN g END::int AS maybe"
                " FROM generate_series(1, 1000) AS g"
            )
        )
    engine.dispose()
    yield postgres_url


@pytest.mark.postgres
def test_postgres_streams_with_types_from_the_cursor(pg_table: str) -> None:
    connector = SqlConnector(pg_table, "SELECT * FROM readings ORDER BY id", chunk_rows=300)
    batches = read(connector)
    assert [b.num_rows for b in batches] == [300, 300, 300, 100]
    schema = batches[0].schema
    assert all(b.schema == schema for b in batches)
    assert schema.field("id").type == pa.int64()
    assert schema.field("value").type == pa.float64()
    assert schema.field("label").type == pa.string()
    assert schema.field("even").type == pa.bool_()
    assert schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("ratio").type == pa.decimal128(38, 4)
    # Null in the first chunks but declared int: PostgreSQL's type wins over a text fallback.
    assert schema.field("maybe").type == pa.int64()
    table = pa.Table.from_batches(batches)
    assert table.column("maybe").to_pylist()[600:602] == [601, 602]
    assert table.column("ratio").to_pylist()[2] == Decimal("1.0000")
    assert table.column("at").to_pylist()[0] == dt.datetime(2024, 1, 1, 0, 1, tzinfo=dt.UTC)


@pytest.mark.postgres
def test_postgres_password_ref_is_used_and_never_shown(
    pg_table: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    monkeypatch.setenv("PG_PASSWORD", SECRET)
    try:
        connector = SqlConnector(
            pg_table, "SELECT id FROM readings WHERE id <= 5", password_ref="env:PG_PASSWORD"
        )
        assert sum(b.num_rows for b in read(connector)) == 5
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.NOTSET)
    assert SECRET not in caplog.text
    assert SECRET not in str(connector.describe())


@pytest.mark.postgres
def test_postgres_connection_failure_is_unavailable_without_the_secret(
    pg_table: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("PG_PASSWORD", SECRET)
    url = make_url(pg_table).set(port=free_port(), username="reader", password="inline-pw-123")
    connector = SqlConnector(
        url.render_as_string(hide_password=False), "SELECT 1", password_ref="env:PG_PASSWORD"
    )
    with pytest.raises(Unavailable) as caught:
        read(connector)
    message = str(caught.value)
    assert f"Cannot connect to postgresql+psycopg://reader:***@127.0.0.1:{url.port}/" in message
    for secret in (SECRET, "inline-pw-123"):
        assert secret not in message
        assert secret not in caplog.text
        assert secret not in repr(caught.value.details)


def test_connection_failure_never_shows_a_secret_from_the_secrets_file(tmp_path: Path) -> None:
    """The same check without PostgreSQL: the password goes through the secrets file."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'db = "{SECRET}"\n')
    url = f"postgresql+psycopg://reader@127.0.0.1:{free_port()}/x"
    connector = SqlConnector(
        url, "SELECT 1", password_ref="secret:db", settings=Settings(secrets_file=secrets)
    )
    with pytest.raises(Unavailable) as caught:
        read(connector)
    assert SECRET not in str(caught.value)
    assert "postgresql+psycopg://reader@127.0.0.1" in str(caught.value)
