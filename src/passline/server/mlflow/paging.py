"""Pages of an in-memory list, with the opaque tokens Passline's run search issues."""

from __future__ import annotations

from typing import Any, TypeVar

from passline.server.mlflow.errors import invalid
from passline.services.run_search import decode_token, encode_token

__all__ = ["page"]

T = TypeVar("T")
MAX_RESULTS = 50_000


def page(
    items: list[T], max_results: int | None, token: str | None, default: int = 1000
) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token of the next (None at the end)."""
    size = default if max_results is None else max_results
    if not 1 <= size <= MAX_RESULTS:
        raise invalid(f"'max_results' must be in [1, {MAX_RESULTS}]. Got {size} instead.")
    start = decode_token(token)
    end = start + size
    return items[start:end], encode_token(end) if end < len(items) else None


def with_token(body: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token:
        body["next_page_token"] = token
    return body
