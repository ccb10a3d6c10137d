"""The one place Passline reads the time, so that every stored timestamp is UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utcnow", "as_utc"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Make a datetime read back from any backend timezone-aware UTC.

    SQLite returns naive datetimes (stored as UTC by us); PostgreSQL returns aware ones.
    """
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
