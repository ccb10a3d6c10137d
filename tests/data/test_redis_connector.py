"""RedisStreamConnector against a real redis-server started by the tests (conftest)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pyarrow as pa
import pytest

from passline.data.connectors.redis_stream import RedisStreamConnector
from passline.errors import InvalidInput, Unavailable

from .conftest import free_port


@pytest.fixture
def stream() -> str:
    return f"events-{uuid.uuid4().hex[:8]}"


def connector(url: str, stream: str, **options: Any) -> RedisStreamConnector:
    options = {"block_ms": 50, **options}
    return RedisStreamConnector(url, stream, "ingest", "worker-1", **options)


def read(source: RedisStreamConnector) -> pa.Table | None:
    batches = list(source.batches())
    return pa.Table.from_batches(batches) if batches else None


def id_key(message_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in message_id.split("-"))


def pending(client: Any, stream: str) -> int:
    return int(client.xpending(stream, "ingest")["pending"])


def test_flat_messages_become_text_columns_with_the_stream_id(
    redis_server: str, redis_client: Any, stream: str
) -> None:
    ids = [redis_client.xadd(stream, {"user": f"u{i}", "n": str(i)}).decode() for i in range(5)]
    source = connector(redis_server, stream, batch_size=2)
    batches = list(source.batches())
    assert [b.num_rows for b in batches] == [2, 2, 1]
    table = pa.Table.from_batches(batches)
    assert table.schema == pa.schema(
        [("user", pa.string()), ("n", pa.string()), ("_stream_id", pa.string())]
    )
    assert table.column("_stream_id").to_pylist() == ids
    assert source.report.cursor == {"last_id": ids[-1], "ids": 5}


def test_json_messages_keep_their_types(redis_server: str, redis_client: Any, stream: str) -> None:
    for i in range(3):
        payload = {"user": f"u{i}", "amount": i * 1.5, "tags": ["a", "b"], "geo": {"lat": 1.0}}
        redis_client.xadd(stream, {"data": json.dumps(payload)})
    redis_client.xadd(stream, {"json": json.dumps({"user": "u3", "amount": 9})})
    table = read(connector(redis_server, stream))
    assert table is not None
    assert table.schema.field("amount").type == pa.float64()
    assert table.schema.field("geo").type == pa.struct([("lat", pa.float64())])
    assert table.column("user").to_pylist() == ["u0", "u1", "u2", "u3"]


def test_bad_json_is_quarantined_with_its_id_not_fatal(
    redis_server: str, redis_client: Any, stream: str
) -> None:
    redis_client.xadd(stream, {"data": json.dumps({"n": 1})})
    bad = redis_client.xadd(stream, {"data": "{oops"}).decode()
    array = redis_client.xadd(stream, {"data": "[1, 2]"}).decode()
    redis_client.xadd(stream, {"data": json.dumps({"n": 4})})
    source = connector(redis_server, stream)
    table = read(source)
    assert table is not None and table.column("n").to_pylist() == [1, 4]
    quarantined = source.report.quarantined
    assert quarantined.line_numbers == [2, 3]
    assert f"stream id {bad}: field 'data' is not valid JSON" in quarantined.reasons[0]
    assert (
        f"stream id {array}" in quarantined.reasons[1] and "not an object" in quarantined.reasons[1]
    )
    assert json.loads(quarantined.texts[0]) == {"_stream_id": bad, "data": "{oops"}
    source.commit()  # quarantined messages are acknowledged with the rest
    assert pending(redis_client, stream) == 0


def test_crash_before_commit_redelivers_and_after_id_dedupes(
    redis_server: str, redis_client: Any, stream: str
) -> None:
    for i in range(4):
        redis_client.xadd(stream, {"n": str(i)})
    first = connector(redis_server, stream)
    assert read(first) is not None
    stored_up_to = first.report.cursor["last_id"]
    # The version was stored, then the process died before commit(): nothing acknowledged.
    assert pending(redis_client, stream) == 4
    redis_client.xadd(stream, {"n": "4"})
    redis_client.xadd(stream, {"n": "5"})

    second = connector(redis_server, stream, after_id=stored_up_to)
    table = read(second)
    assert table is not None
    assert table.column("n").to_pylist() == ["4", "5"]  # the 4 re-delivered ones are dropped
    assert second.report.cursor["ids"] == 6
    assert id_key(second.report.cursor["last_id"]) > id_key(stored_up_to)
    second.commit()
    assert pending(redis_client, stream) == 0

    third = connector(redis_server, stream, after_id=second.report.cursor["last_id"])
    assert read(third) is None
    assert third.report.cursor == {"last_id": second.report.cursor["last_id"], "ids": 0}


def test_without_after_id_a_crash_redelivers_everything(
    redis_server: str, redis_client: Any, stream: str
) -> None:
    for i in range(3):
        redis_client.xadd(stream, {"n": str(i)})
    assert read(connector(redis_server, stream)) is not None
    again = read(connector(redis_server, stream))
    assert again is not None and again.num_rows == 3


def test_commit_acknowledges_exactly_the_ids_read(
    redis_server: str, redis_client: Any, stream: str
) -> None:
    for i in range(5):
        redis_client.xadd(stream, {"n": str(i)})
    source = connector(redis_server, stream, max_messages=3)
    table = read(source)
    assert table is not None and table.num_rows == 3
    assert pending(redis_client, stream) == 3
    source.commit()
    assert pending(redis_client, stream) == 0
    rest = connector(redis_server, stream)
    remaining = read(rest)
    assert remaining is not None and remaining.column("n").to_pylist() == ["3", "4"]
    rest.commit()
    info = redis_client.xinfo_groups(stream)[0]
    assert info["pending"] == 0


def test_empty_stream_creates_the_group_and_yields_nothing(
    redis_server: str, redis_client: Any, stream: str
) -> None:
    source = connector(redis_server, stream)
    assert read(source) is None
    assert source.report.cursor == {"last_id": None, "ids": 0}
    assert redis_client.xinfo_groups(stream)[0]["name"] == b"ingest"
    source.commit()  # nothing to acknowledge


def test_unreachable_redis_is_unavailable_without_the_password() -> None:
    url = f"redis://:s3cret-pass-777@127.0.0.1:{free_port()}/0"
    source = RedisStreamConnector(url, "s", "g", "c")
    with pytest.raises(Unavailable, match=r"redis://:\*\*\*@127.0.0.1") as caught:
        read(source)
    assert "s3cret-pass-777" not in str(caught.value)
    assert "s3cret-pass-777" not in str(source.describe())


def test_a_key_that_is_not_a_stream_is_invalid_input(redis_server: str, redis_client: Any) -> None:
    key = f"plain-{uuid.uuid4().hex[:8]}"
    redis_client.set(key, "x")
    with pytest.raises(InvalidInput, match="WRONGTYPE"):
        read(connector(redis_server, key))


def test_after_id_must_be_a_stream_id() -> None:
    with pytest.raises(InvalidInput, match="not a Redis stream id"):
        RedisStreamConnector("redis://h", "s", "g", "c", after_id="yesterday")
