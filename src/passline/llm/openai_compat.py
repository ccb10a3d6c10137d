"""Any OpenAI-compatible chat endpoint: vLLM, Ollama, a llama.cpp server, hosted APIs.

``POST {base_url}/chat/completions`` with a bearer key (resolved from a secret reference by
the caller, never stored in configuration or logged). A timeout per call; retries with
exponential backoff and jitter on timeouts, connection errors, 429 and 5xx (honouring
``Retry-After``); a client-side rate limit (requests per second, a token bucket shared by
the process); a JSON body that does not parse, or lacks ``choices``, is an error that says
so. JSON-schema output is asked for with ``response_format`` and, because not every server
enforces it, checked here; one repair attempt re-asks with the parse error.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from passline.errors import InvalidInput, Unavailable
from passline.llm.types import ChatChunk, ChatParams, ChatResult, Message, Usage

__all__ = ["OpenAICompatible", "ProviderError", "RateLimiter"]

_RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504}


class ProviderError(Unavailable):
    """The model endpoint failed after its retries, or answered something unusable."""

    code = "provider_error"
    http_status = 502


class RateLimiter:
    """A token bucket: at most ``rate`` calls per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int | None = None) -> None:
        self.rate = rate
        self.capacity = float(burst or max(1, int(rate)))
        self._tokens = self.capacity
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            self._tokens -= 1
        if wait:
            time.sleep(wait)
        return wait


@dataclass
class OpenAICompatible:
    name: str  # what Passline calls it
    base_url: str
    model: str  # what the endpoint calls it
    api_key: str | None = None
    timeout_s: float = 30.0
    max_retries: int = 3
    backoff_s: float = 0.5
    rate_limiter: RateLimiter | None = None
    context: int = 8192
    provider: str = "openai"
    transport: httpx.BaseTransport | None = None  # tests and proxies

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url.rstrip("/"),
            headers=headers,
            timeout=self.timeout_s,
            transport=self.transport,
        )

    @property
    def context_tokens(self) -> int:
        return self.context

    def count_tokens(self, text: str) -> int:
        """An estimate (4 characters a token): the endpoint's tokenizer is not known here."""
        return max(1, len(text) // 4)

    def _body(self, messages: list[Message], params: ChatParams, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in messages],
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            **extra,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        return body

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """One call with retries; the parsed body of the first usable answer."""
        last = ""
        for attempt in range(self.max_retries + 1):
            if self.rate_limiter:
                self.rate_limiter.acquire()
            try:
                response = self._http.post("/chat/completions", json=body)
            except httpx.TimeoutException:
                last = f"timed out after {self.timeout_s:g} s"
            except httpx.TransportError as exc:
                last = f"could not connect ({type(exc).__name__})"
            else:
                if response.status_code < 400:
                    return _json_body(response, self.name)
                last = f"answered HTTP {response.status_code}: {response.text[:200]!r}"
                if response.status_code not in _RETRYABLE:
                    raise ProviderError(f"Model {self.name!r} {last}.")
                if attempt < self.max_retries:
                    time.sleep(_retry_after(response) or self._backoff(attempt))
                    continue
            if attempt < self.max_retries:
                time.sleep(self._backoff(attempt))
        raise ProviderError(
            f"Model {self.name!r} at {self.base_url} {last} ({self.max_retries + 1} attempts).",
            hint="Check that the endpoint runs and answers; raise timeout_s or max_retries.",
        )

    def _backoff(self, attempt: int) -> float:
        return self.backoff_s * (2**attempt) * (0.5 + random.random())  # noqa: S311 - jitter

    def chat(
        self, messages: list[Message], params: ChatParams, json_schema: dict[str, Any] | None = None
    ) -> ChatResult:
        extra: dict[str, Any] = {}
        if json_schema is not None:
            extra["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": json_schema, "strict": True},
            }
        started = time.perf_counter()
        result = self._result(self._post(self._body(messages, params, **extra)), started)
        if json_schema is None:
            return result
        try:
            result.data = json.loads(result.text)
        except ValueError as exc:
            repair = [
                *messages,
                Message("assistant", result.text),
                Message(
                    "user", f"That was not valid JSON ({exc}). Answer again with only the JSON."
                ),
            ]
            result = self._result(self._post(self._body(repair, params, **extra)), started)
            try:
                result.data = json.loads(result.text)
            except ValueError:
                raise InvalidInput(
                    f"Model {self.name!r} did not produce valid JSON after a repair attempt: "
                    f"{result.text[:200]!r}"
                ) from None
        return result

    def _result(self, body: dict[str, Any], started: float) -> ChatResult:
        try:
            choice = body["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise ProviderError(
                f"Model {self.name!r} answered without choices[0].message.content: "
                f"{json.dumps(body)[:200]}"
            ) from None
        usage = body.get("usage") or {}
        return ChatResult(
            text=text,
            model=body.get("model") or self.model,
            provider=self.provider,
            usage=Usage(
                int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
            ),
            finish_reason=choice.get("finish_reason") or "stop",
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def stream(self, messages: list[Message], params: ChatParams) -> Iterator[ChatChunk]:
        """Server-sent events; no retry once the first byte arrived."""
        if self.rate_limiter:
            self.rate_limiter.acquire()
        body = self._body(messages, params, stream=True, stream_options={"include_usage": True})
        usage, finish = None, None
        try:
            with self._http.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    raise ProviderError(
                        f"Model {self.name!r} answered HTTP {response.status_code}."
                    )
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    event = _event(data, self.name)
                    if event.get("usage"):
                        usage = Usage(
                            event["usage"].get("prompt_tokens", 0),
                            event["usage"].get("completion_tokens", 0),
                        )
                    for choice in event.get("choices") or []:
                        finish = choice.get("finish_reason") or finish
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            yield ChatChunk(piece)
        except httpx.TimeoutException:
            raise ProviderError(
                f"Model {self.name!r} timed out after {self.timeout_s:g} s."
            ) from None
        except httpx.TransportError as exc:
            raise ProviderError(f"Model {self.name!r} could not be reached: {exc}.") from None
        yield ChatChunk("", done=True, usage=usage or Usage(), finish_reason=finish or "stop")

    def close(self) -> None:
        self._http.close()


def _json_body(response: httpx.Response, name: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(
            f"Model {name!r} answered HTTP {response.status_code} with a body that is not JSON: "
            f"{response.text[:200]!r}"
        ) from None
    if not isinstance(body, dict):
        raise ProviderError(f"Model {name!r} answered JSON that is not an object.")
    return body


def _event(data: str, name: str) -> dict[str, Any]:
    try:
        return json.loads(data)  # type: ignore[no-any-return]
    except ValueError:
        raise ProviderError(
            f"Model {name!r} streamed an event that is not JSON: {data[:100]!r}"
        ) from None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return min(float(value), 30.0) if value else None
    except ValueError:
        return None
