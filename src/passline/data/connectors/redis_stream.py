"""Read a Redis Stream through a consumer group, at least once, made idempotent.

Delivery is at-least-once: messages are acknowledged (XACK) only in :meth:`commit`, which
the caller runs after the dataset version is durably stored. A crash before that leaves them
pending; the next run with the same group and consumer re-reads them first, and drops those
whose id is at or below ``after_id`` (the last id the previous version stored). So no
message is lost and none is stored twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from passline.data.connectors._rows import RowBatcher, arrow_types
from passline.data.connectors.base import Connector
from passline.data.secrets import redact, resolve_secret
from passline.errors import InvalidInput, MissingExtra, Unavailable
from passline.settings import Settings, redact_url

__all__ = ["RedisStreamConnector"]

PAYLOAD_FIELDS = ("data", "json")
ID_COLUMN = "_stream_id"
ACK_CHUNK = 1_000

Message = tuple[str, dict[bytes, bytes] | None]  # (id, fields); no fields once deleted


class RedisStreamConnector(Connector):
    """The messages of one Redis Stream, read with XREADGROUP.

    A message is either one field, ``data`` or ``json``, holding a JSON object (its keys
    become columns), or flat fields (each a text column). Each row also gets the message id
    in a ``_stream_id`` column. A message that cannot be decoded (invalid JSON, a JSON value
    that is not an object, bytes that are not UTF-8) does not stop the read: it goes to
    ``report.quarantined`` with its stream id and the reason, and is acknowledged with the
    rest.

    The read first re-delivers this consumer's pending messages (read before, never
    acknowledged), then new ones; it stops when ``block_ms`` pass without a new message, or
    after ``max_messages``. Keep ``consumer`` stable per source: pending messages belong to
    the consumer that read them.

    ``report.cursor`` is ``{"last_id": ..., "ids": n}``: the highest id stored so far (give it
    back as ``after_id`` next time) and how many messages this run read.

    Args:
        url: ``redis://host:6379/0``; the password, if any, through ``password_ref``.
        stream, group, consumer: the stream key, the consumer group (created at id 0 with
            MKSTREAM if absent, so a new group reads the stream from its start) and this
            reader's name in it.
        batch_size: rows per batch, and messages per XREADGROUP call.
        block_ms: how long to wait for a new message before the read ends.
        max_messages: most messages read in one run, re-delivered ones included.
        after_id: the last id already stored; messages up to it are skipped.
        column_types: ``{column: type}`` declared instead of inferred from the first batch.
    """

    kind = "redis"

    def __init__(
        self,
        url: str,
        stream: str,
        group: str,
        consumer: str,
        batch_size: int = 1000,
        block_ms: int = 1000,
        max_messages: int | None = None,
        after_id: str | None = None,
        *,
        password_ref: str | None = None,
        column_types: dict[str, str] | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1 or block_ms < 1 or (max_messages is not None and max_messages < 1):
            raise InvalidInput(
                "The 'batch_size', 'block_ms' and 'max_messages' parameters of "
                f"RedisStreamConnector must be at least 1. Got {batch_size}, {block_ms} and "
                f"{max_messages} instead."
            )
        self.url, self.stream, self.group, self.consumer = url, stream, group, consumer
        self.batch_size, self.block_ms, self.max_messages = batch_size, block_ms, max_messages
        self.after_id = after_id
        self._after = _id_key(after_id, "after_id") if after_id else (-1, -1)
        self.password_ref = password_ref
        self.types = arrow_types(column_types)
        self.settings = settings or Settings()
        self._read_ids: list[str] = []

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "location": redact_url(self.url),
            "stream": self.stream,
            "group": self.group,
        }

    def batches(self) -> Iterator[pa.RecordBatch]:
        self._read_ids = []
        batcher = RowBatcher(f"The stream {self.stream!r}", self.report, self.types)
        last = self.after_id
        rows: list[dict[str, Any]] = []
        with self._client() as client:
            self._ensure_group(client)
            for message_id, fields in self._messages(client):
                self._read_ids.append(message_id)
                if _id_key(message_id) <= self._after:
                    continue  # stored by an earlier version; acknowledged again at commit
                last = message_id
                if (row := self._row(message_id, fields)) is not None:
                    rows.append(row)
                if len(rows) == self.batch_size:
                    self._set_cursor(last)
                    yield batcher.from_records(rows, f"up to message {message_id}")
                    rows = []
        self._set_cursor(last)
        if rows:
            yield batcher.from_records(rows, f"up to message {last}")

    def _set_cursor(self, last_id: str | None) -> None:
        self.report.cursor = {"last_id": last_id, "ids": len(self._read_ids)}

    def commit(self) -> None:
        """Acknowledge exactly the messages this run read (re-delivered ones included)."""
        if not self._read_ids:
            return
        with self._client() as client:
            for start in range(0, len(self._read_ids), ACK_CHUNK):
                chunk = self._read_ids[start : start + ACK_CHUNK]
                self._call(client.xack, self.stream, self.group, *chunk)
        self._read_ids = []

    # --- reading ------------------------------------------------------------------------

    def _messages(self, client: Any) -> Iterator[Message]:
        """Pending messages of this consumer first (id 0 onwards), then new ones ('>')."""
        done = 0
        pending_from = "0"
        while entries := self._read(client, pending_from, block=None, done=done):
            yield from entries
            done += len(entries)
            pending_from = entries[-1][0]
        while entries := self._read(client, ">", block=self.block_ms, done=done):
            yield from entries
            done += len(entries)

    def _read(self, client: Any, start: str, block: int | None, done: int) -> list[Message]:
        """Up to one batch of messages after ``start``, within what max_messages leaves."""
        room = self.batch_size
        if self.max_messages is not None:
            room = min(room, self.max_messages - done)
            if room <= 0:
                return []
        answer = self._call(
            client.xreadgroup,
            self.group,
            self.consumer,
            {self.stream: start},
            count=room,
            block=block,
        )
        if isinstance(answer, dict):  # RESP3 answers {stream: [entries]}
            answer = list(answer.items())
        entries = answer[0][1] if answer else []
        return [(_text(i), fields) for i, fields in entries]

    def _row(self, message_id: str, fields: dict[bytes, bytes] | None) -> dict[str, Any] | None:
        """The message as a row, or None when it is quarantined."""
        try:
            row = _decode(fields)
        except ValueError as err:
            raw = {_text(k, "replace"): _text(v, "replace") for k, v in (fields or {}).items()}
            text = json.dumps({ID_COLUMN: message_id, **raw}, ensure_ascii=False)
            self.report.quarantined.add(len(self._read_ids), text, f"stream id {message_id}: {err}")
            return None
        return {**row, ID_COLUMN: message_id}

    # --- the connection -----------------------------------------------------------------

    def _client(self) -> Any:
        try:
            import redis
        except ImportError:
            raise MissingExtra.for_extra("redis", "Reading Redis Streams") from None
        password = resolve_secret(self.password_ref, self.settings) if self.password_ref else None
        extra = {"password": password} if password else {}
        try:
            return redis.Redis.from_url(self.url, **extra)
        except ValueError as err:
            raise InvalidInput(f"{redact_url(self.url)} is not a Redis URL: {err}") from None

    def _ensure_group(self, client: Any) -> None:
        try:
            self._call(client.xgroup_create, self.stream, self.group, id="0", mkstream=True)
        except InvalidInput as err:
            if "BUSYGROUP" not in str(err):  # the group exists already: fine
                raise

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a Redis command, turning driver errors into Passline's."""
        import redis

        try:
            return method(*args, **kwargs)
        except redis.AuthenticationError as err:  # before ConnectionError: it is one
            raise InvalidInput(
                f"Redis at {redact_url(self.url)} refused the credentials: {redact(str(err))}"
            ) from None
        except (redis.ConnectionError, redis.TimeoutError) as err:
            raise Unavailable(
                f"Cannot reach Redis at {redact_url(self.url)}: {redact(str(err))}",
                hint="Check that the server is running and reachable.",
            ) from None
        except redis.ResponseError as err:
            raise InvalidInput(
                f"Redis at {redact_url(self.url)}, stream {self.stream!r}: {redact(str(err))}"
            ) from None


def _decode(fields: dict[bytes, bytes] | None) -> dict[str, Any]:
    """A message's fields as a row; raises ValueError saying why it cannot be one."""
    if fields is None:
        raise ValueError("the message was deleted from the stream before it was read")
    decoded = {_text(k): _text(v) for k, v in fields.items()}
    if len(decoded) == 1 and (key := next(iter(decoded))) in PAYLOAD_FIELDS:
        try:
            value = json.loads(decoded[key])
        except json.JSONDecodeError as err:
            raise ValueError(f"field {key!r} is not valid JSON ({err.msg})") from None
        if not isinstance(value, dict):
            raise ValueError(f"field {key!r} holds a JSON {type(value).__name__}, not an object")
        return value
    return decoded


def _text(value: bytes | str, errors: str = "strict") -> str:
    """UTF-8 text; a UnicodeDecodeError (a ValueError) quarantines the message."""
    return value if isinstance(value, str) else value.decode("utf-8", errors)


def _id_key(message_id: str, name: str = "message id") -> tuple[int, int]:
    """A stream id ``ms-seq`` as a tuple that sorts like the ids do."""
    ms, _, seq = message_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        raise InvalidInput(
            f"The {name} {message_id!r} is not a Redis stream id like '1700000000000-0'."
        ) from None
