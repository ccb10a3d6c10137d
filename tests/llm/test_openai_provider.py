"""The OpenAI-compatible provider against a real HTTP server that misbehaves on purpose:
timeouts, 5xx then success, 4xx, bodies that are not JSON or lack choices, schema repair,
streaming, rate limiting."""

from __future__ import annotations

import pytest

from passline.errors import InvalidInput
from passline.llm.openai_compat import OpenAICompatible, ProviderError, RateLimiter
from passline.llm.types import ChatParams, Message
from tests.llm.conftest import FakeEndpoint, completion

ASK = [Message("user", "Say hello")]


def provider(endpoint: FakeEndpoint, **options: object) -> OpenAICompatible:
    defaults = {"timeout_s": 2.0, "max_retries": 2, "backoff_s": 0.01}
    return OpenAICompatible(
        "fake", endpoint.url, "fake-model", api_key="k-123", **{**defaults, **options}
    )  # type: ignore[arg-type]


def test_a_call_sends_the_openai_body_and_reads_usage(endpoint: FakeEndpoint) -> None:
    result = provider(endpoint).chat(ASK, ChatParams(max_tokens=20, temperature=0.1, seed=3))
    assert result.text == "hello" and result.usage.input_tokens == 11
    sent = endpoint.requests[0]
    assert sent["model"] == "fake-model" and sent["max_tokens"] == 20 and sent["seed"] == 3
    assert sent["messages"] == [{"role": "user", "content": "Say hello"}]
    assert endpoint.headers[0]["Authorization"] == "Bearer k-123"


def test_server_errors_are_retried_then_succeed(endpoint: FakeEndpoint) -> None:
    endpoint.reply = lambda body, n: (
        (503, {"error": "busy"}, 0) if n < 3 else (200, completion("finally"), 0)
    )
    assert provider(endpoint).chat(ASK, ChatParams()).text == "finally"
    assert len(endpoint.requests) == 3


def test_a_timeout_after_every_retry_is_a_clear_error(endpoint: FakeEndpoint) -> None:
    endpoint.reply = lambda body, n: (200, completion("late"), 1.0)
    with pytest.raises(ProviderError, match=r"timed out after 0.3 s \(2 attempts\)"):
        provider(endpoint, timeout_s=0.3, max_retries=1).chat(ASK, ChatParams())


def test_client_errors_are_not_retried(endpoint: FakeEndpoint) -> None:
    endpoint.reply = lambda body, n: (400, {"error": "bad model"}, 0)
    with pytest.raises(ProviderError, match="HTTP 400"):
        provider(endpoint).chat(ASK, ChatParams())
    assert len(endpoint.requests) == 1


def test_bodies_that_are_not_json_or_lack_choices(endpoint: FakeEndpoint) -> None:
    endpoint.reply = lambda body, n: (200, "<html>gateway</html>", 0)
    with pytest.raises(ProviderError, match="not JSON"):
        provider(endpoint).chat(ASK, ChatParams())
    endpoint.reply = lambda body, n: (200, {"object": "chat.completion"}, 0)
    with pytest.raises(ProviderError, match="without choices"):
        provider(endpoint).chat(ASK, ChatParams())


def test_unreachable_endpoint(endpoint: FakeEndpoint) -> None:
    dead = OpenAICompatible("dead", "http://127.0.0.1:9/v1", "m", timeout_s=0.5, max_retries=0)
    with pytest.raises(ProviderError, match="could not connect"):
        dead.chat(ASK, ChatParams())


def test_schema_output_is_repaired_once_then_refused(endpoint: FakeEndpoint) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    endpoint.reply = lambda body, n: (
        200,
        completion("Paris!" if n == 1 else '{"city": "Paris"}'),
        0,
    )
    result = provider(endpoint).chat(ASK, ChatParams(), json_schema=schema)
    assert result.data == {"city": "Paris"} and len(endpoint.requests) == 2
    assert endpoint.requests[0]["response_format"]["type"] == "json_schema"
    assert "not valid JSON" in endpoint.requests[1]["messages"][-1]["content"]
    endpoint.requests.clear()
    endpoint.reply = lambda body, n: (200, completion("never json"), 0)
    with pytest.raises(InvalidInput, match="did not produce valid JSON after a repair"):
        provider(endpoint).chat(ASK, ChatParams(), json_schema=schema)


def test_streaming_reads_server_sent_events(endpoint: FakeEndpoint) -> None:
    events = [{"choices": [{"delta": {"content": piece}}]} for piece in ("Hel", "lo")]
    events.append(
        {
            "choices": [{"delta": {}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 2},
        }
    )
    endpoint.reply = lambda body, n: (200, events, 0)
    chunks = list(provider(endpoint).stream(ASK, ChatParams()))
    assert "".join(c.text for c in chunks) == "Hello"
    assert chunks[-1].done and chunks[-1].usage.output_tokens == 2  # type: ignore[union-attr]


def test_the_rate_limiter_spaces_calls() -> None:
    limiter = RateLimiter(rate=20.0, burst=1)
    assert limiter.acquire() == 0.0
    assert limiter.acquire() > 0.0  # the second call within a twentieth of a second waits
