"""Read JSON records from an HTTP API: pagination, retries, rate limiting and secret auth.

Each page's records (the list at ``records_path`` in the JSON body) are gathered into record
batches of ``batch_records`` rows; the first batch fixes the schema, nested objects stay Arrow
structs. Requests that fail with 429, 5xx or a connection error are retried with exponential
backoff and jitter, honouring ``Retry-After``; ``rate_limit`` spaces requests at least
``1 / rate_limit`` seconds apart, retries included.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pyarrow as pa

from passline.data.connectors._rows import RowBatcher, arrow_types
from passline.data.connectors.base import Connector
from passline.data.secrets import redact, resolve_secret
from passline.errors import InvalidInput, Unavailable
from passline.settings import Settings

__all__ = ["PAGINATIONS", "HttpJsonConnector"]

PAGINATIONS = ("none", "page", "offset", "cursor", "link")
MAX_RETRY_AFTER_S = 120.0  # a server asking for a longer pause is treated as unavailable
_SENSITIVE = ("key", "token", "secret", "password", "passwd", "signature", "sig", "auth")


class HttpJsonConnector(Connector):
    """Records from a JSON API, following its pagination.

    Args:
        url: the first page's URL.
        records_path: dotted path to the list of records in the body; ``""``: the body is it.
        pagination: ``none``; ``page`` (``page_param`` from ``start_page``, with
            ``page_size_param``; stops on an empty page); ``offset`` (``offset_param`` and
            ``limit_param``; stops on a short page); ``cursor`` (``cursor_param`` set from the
            body's ``cursor_path``; stops when it is null); ``link`` (the ``Link: <...>;
            rel="next"`` header).
        auth_value_ref: secret reference of the credential, sent as ``auth_template`` with
            ``{secret}`` replaced, in header ``auth_header`` (or query ``auth_param`` if set).
        max_retries: retries of one request after the first attempt.
        backoff_s: first retry's pause; doubled per retry, with jitter.
        rate_limit: most requests per second (None: no limit).
        timeout: seconds per request.
        batch_records: records per batch.
        max_pages: a safety limit; reaching it is an error, not a silent truncation.
        column_types: ``{column: type}`` declared instead of inferred from the first batch.

    An API that returns no records yields no batch: there is no schema to give.
    """

    kind = "http"

    def __init__(
        self,
        url: str,
        records_path: str = "data",
        pagination: str = "none",
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        page_param: str = "page",
        page_size_param: str = "page_size",
        page_size: int = 100,
        start_page: int = 1,
        offset_param: str = "offset",
        limit_param: str = "limit",
        cursor_param: str = "cursor",
        cursor_path: str = "next_cursor",
        auth_header: str = "Authorization",
        auth_param: str | None = None,
        auth_value_ref: str | None = None,
        auth_template: str = "Bearer {secret}",
        max_retries: int = 5,
        backoff_s: float = 0.5,
        rate_limit: float | None = None,
        timeout: float = 30.0,
        batch_records: int = 10_000,
        max_pages: int = 10_000,
        column_types: Mapping[str, str] | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__()
        if pagination not in PAGINATIONS:
            raise InvalidInput(
                f"The 'pagination' parameter of HttpJsonConnector must be one of "
                f"{', '.join(PAGINATIONS)}. Got {pagination!r} instead."
            )
        _check_positive(page_size=page_size, batch_records=batch_records, max_pages=max_pages)
        if max_retries < 0:
            raise InvalidInput(f"max_retries must be 0 or more; got {max_retries}.")
        if rate_limit is not None and rate_limit <= 0:
            raise InvalidInput(
                f"rate_limit must be positive (requests per second); got {rate_limit}."
            )
        self.url, self.records_path, self.pagination = url, records_path, pagination
        self.params, self.headers = dict(params or {}), dict(headers or {})
        self.page_param, self.page_size_param = page_param, page_size_param
        self.page_size, self.start_page = page_size, start_page
        self.offset_param, self.limit_param = offset_param, limit_param
        self.cursor_param, self.cursor_path = cursor_param, cursor_path
        self.auth_header, self.auth_param = auth_header, auth_param
        self.auth_value_ref, self.auth_template = auth_value_ref, auth_template
        self.max_retries, self.backoff_s = max_retries, backoff_s
        self.rate_limit, self.timeout = rate_limit, timeout
        self.batch_records, self.max_pages = batch_records, max_pages
        self.types = arrow_types(column_types)
        self.settings = settings or Settings()
        self._last_request = 0.0

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": safe_url(self.url), "pagination": self.pagination}

    def batches(self) -> Iterator[pa.RecordBatch]:
        batcher = RowBatcher(f"The API {safe_url(self.url)}", self.report, self.types)
        pending: list[dict[str, Any]] = []
        seen = 0
        for records in self._pages():
            pending.extend(records)
            while len(pending) >= self.batch_records:
                chunk, pending = pending[: self.batch_records], pending[self.batch_records :]
                yield batcher.from_records(chunk, f"records {seen + 1}-{seen + len(chunk)}")
                seen += len(chunk)
        if pending:
            yield batcher.from_records(pending, f"records {seen + 1}-{seen + len(pending)}")

    # --- pages --------------------------------------------------------------------------

    def _pages(self) -> Iterator[list[dict[str, Any]]]:
        """Each page's records, following the pagination until it says stop."""
        # httpx replaces a URL's query with `params`, so the URL's own query moves into them.
        parts = urlsplit(self.url)
        url = urlunsplit(parts._replace(query=""))
        params = dict(parse_qsl(parts.query, keep_blank_values=True)) | self._first_params()
        with httpx.Client(timeout=self.timeout, follow_redirects=True) as client:
            auth = self._auth()
            for _ in range(self.max_pages):
                response = self._get(client, url, params | auth.get("params", {}), auth)
                body = _json_body(response)
                records = self._records(body, response)
                yield records
                following = self._next(url, params, response, body, len(records))
                if following is None:
                    return
                url, params = following
        raise InvalidInput(
            f"{safe_url(self.url)} still had a next page after max_pages={self.max_pages}.",
            hint="Raise max_pages if the source really is that large.",
        )

    def _first_params(self) -> dict[str, Any]:
        start = {
            "page": {self.page_param: self.start_page, self.page_size_param: self.page_size},
            "offset": {self.offset_param: 0, self.limit_param: self.page_size},
        }.get(self.pagination, {})
        return {**self.params, **start}

    def _next(
        self, url: str, params: dict[str, Any], response: httpx.Response, body: Any, count: int
    ) -> tuple[str, dict[str, Any]] | None:
        """The next page's URL and parameters, or None after the last page."""
        style = self.pagination
        if style == "page" and count > 0:
            return url, params | {self.page_param: params[self.page_param] + 1}
        if style == "offset" and count >= self.page_size:
            return url, params | {self.offset_param: params[self.offset_param] + count}
        if style == "cursor":
            cursor = _dig(body, self.cursor_path, missing=None)
            if cursor not in (None, ""):
                return url, params | {self.cursor_param: cursor}
        if style == "link" and (link := response.links.get("next", {}).get("url")):
            following = urljoin(str(response.url), link)  # it carries its whole query
            if self.auth_value_ref and _origin(following) != _origin(self.url):
                raise InvalidInput(
                    f"The next page link of {safe_url(self.url)} leads to another site "
                    f"({safe_url(following)}); the credentials are not sent there."
                )
            return following, {}
        return None

    def _records(self, body: Any, response: httpx.Response) -> list[dict[str, Any]]:
        records = _dig(body, self.records_path, missing=...)
        where = safe_url(str(response.url))
        if records is ...:
            keys = sorted(body) if isinstance(body, dict) else type(body).__name__
            raise InvalidInput(
                f"{where} has no {self.records_path!r} in its JSON body (it has {keys}).",
                hint="Set records_path to the dotted path of the records' list ('' for the body).",
            )
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise InvalidInput(
                f"{where}: {self.records_path or 'the body'!r} must be a list of JSON objects; "
                f"got {_cut(json.dumps(records, default=str))}."
            )
        return records

    # --- requests -----------------------------------------------------------------------

    def _auth(self) -> dict[str, dict[str, str]]:
        if not self.auth_value_ref:
            return {}
        value = self.auth_template.replace(
            "{secret}", resolve_secret(self.auth_value_ref, self.settings)
        )
        if self.auth_param:
            return {"params": {self.auth_param: value}}
        return {"headers": {self.auth_header: value}}

    def _get(
        self, client: httpx.Client, url: str, params: dict[str, Any], auth: dict[str, Any]
    ) -> httpx.Response:
        """One page, retried on 429, 5xx and connection errors."""
        headers = {"Accept": "application/json", **self.headers, **auth.get("headers", {})}
        problem, wait = "", 0.0
        for attempt in range(self.max_retries + 1):
            time.sleep(wait)
            self._throttle()
            try:
                # No `params` at all (not {}) keeps the query a next link carries.
                response = client.get(url, params=params or None, headers=headers)
            except httpx.TransportError as err:
                problem, wait = f"{type(err).__name__}: {redact(str(err))}", self._backoff(attempt)
                continue
            if response.status_code != 429 and response.status_code < 500:
                return self._checked(response)
            problem = f"HTTP {response.status_code}"
            asked = _retry_after(response)
            wait = self._backoff(attempt) if asked is None else asked
            if wait > MAX_RETRY_AFTER_S:
                problem += f", asked to wait {wait:.0f} s"
                break
        raise Unavailable(
            f"{safe_url(url)} failed after {attempt + 1} attempts; last: {problem}.",
            hint="Check that the API is up; max_retries and backoff_s control the retries.",
        )

    def _checked(self, response: httpx.Response) -> httpx.Response:
        status, where = response.status_code, safe_url(str(response.url))
        if status in (401, 403):
            ref = f" (from {self.auth_value_ref})" if self.auth_value_ref else " (none were sent)"
            raise InvalidInput(
                f"{where} refused the credentials{ref}: HTTP {status}.",
                hint="Check the secret and that it grants read access to this API.",
            )
        if status >= 400:
            raise InvalidInput(
                f"{where} answered HTTP {status}: {_cut(redact(response.text))!r}.",
                hint="Check the URL, records_path and the query parameters.",
            )
        return response

    def _throttle(self) -> None:
        """Space requests at least 1/rate_limit seconds apart."""
        if self.rate_limit:
            pause = self._last_request + 1 / self.rate_limit - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        self._last_request = time.monotonic()

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so that many clients do not retry in step."""
        ceiling = self.backoff_s * 2.0**attempt
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def _json_body(response: httpx.Response) -> Any:
    content_type = response.headers.get("content-type", "")
    where = safe_url(str(response.url))
    if "json" in content_type.lower():
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
    raise InvalidInput(
        f"{where} did not answer JSON (content-type {content_type or 'none'!r}): "
        f"{_cut(redact(response.text))!r}.",
        hint="Check the URL: an HTML answer is often a login page or an error page.",
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _dig(body: Any, path: str, missing: Any) -> Any:
    """The value at a dotted path in a JSON body, or ``missing``."""
    for part in path.split(".") if path else []:
        if not isinstance(body, dict) or part not in body:
            return missing
        body = body[part]
    return body


def safe_url(url: str) -> str:
    """``url`` without user info, and with credential-like query values masked."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = [
        (k, "***" if any(word in k.lower() for word in _SENSITIVE) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return redact(urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="*"))))


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.rsplit("@", 1)[-1]


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise InvalidInput(
                f"The '{name}' parameter of HttpJsonConnector must be at least 1. "
                f"Got {value} instead."
            )


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
