"""The prediction log's files: their schema and how a window of them is read.

The gateway writes one Parquet file per endpoint, day and flush
(``predictions/endpoint=ID/date=YYYY-MM-DD/*.parquet``) with a row per predicted row;
monitoring reads only the days a window covers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

__all__ = ["LATENCY_BUCKETS_MS", "LOG_SCHEMA", "latency_bucket", "read_log"]

#: Upper bounds (ms) of the latency histogram kept per minute; the last bucket is open.
LATENCY_BUCKETS_MS = (0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)

LOG_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("row", pa.int32()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("version_id", pa.string()),
        ("version", pa.int32()),
        ("role", pa.string()),
        ("status", pa.int32()),
        ("latency_ms", pa.float64()),
        ("prediction", pa.string()),
        ("error", pa.string()),
        ("inputs", pa.string()),
        ("key", pa.string()),
    ]
)


def latency_bucket(latency_ms: float) -> int:
    for index, bound in enumerate(LATENCY_BUCKETS_MS):
        if latency_ms <= bound:
            return index
    return len(LATENCY_BUCKETS_MS)


def read_log(home: Path, endpoint_id: str, start: datetime, end: datetime) -> pa.Table:
    """The log rows of an endpoint between two instants (only the days in range are read)."""
    import pyarrow.dataset as ds

    folder = Path(home) / "predictions" / f"endpoint={endpoint_id}"
    if not folder.exists():
        return LOG_SCHEMA.empty_table()
    days = {d.strftime("%Y-%m-%d") for d in _days(start, end)}
    files = [
        str(f)
        for d in sorted(folder.glob("date=*"))
        if d.name[5:] in days
        for f in sorted(d.glob("*.parquet"))
    ]
    if not files:
        return LOG_SCHEMA.empty_table()
    table = ds.dataset(files, format="parquet", schema=LOG_SCHEMA).to_table(
        filter=(ds.field("at") >= pa.scalar(start, pa.timestamp("us", tz="UTC")))
        & (ds.field("at") < pa.scalar(end, pa.timestamp("us", tz="UTC")))
    )
    return table


def _days(start: datetime, end: datetime) -> list[datetime]:
    day, out = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0), []
    while day <= end:
        out.append(day)
        day += timedelta(days=1)
    return out
