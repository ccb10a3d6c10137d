"""Targets from their specs: any OpenAI-compatible URL (a real HTTP server on loopback), a
served endpoint of the gateway, and the errors a malformed spec gets."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from passline.errors import InvalidInput, PasslineError
from passline.evaluation.cases import Case
from passline.evaluation.targets import EndpointTarget, OpenAITarget, build_target, parse_target
from passline.services.workspace import Services
from tests.llm.conftest import FakeEndpoint, completion


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("hr/answer@2", "A target is TYPE:VALUE with TYPE one of prompt, model, rag"),
        ("fax:123", "A target is TYPE:VALUE"),
        ({"type": "carrier-pigeon"}, "Unknown target type 'carrier-pigeon'"),
        ({"type": "endpoint", "endpoint": "a/b", "model": "x"}, "has no option 'model'"),
        ({"type": "openai", "base_url": "ftp://host"}, "must be http:// or https://"),
        ({"type": "openai", "base_url": "http://h/v1", "api_key": "sk-123"}, "secret reference"),
        ({"type": "endpoint", "endpoint": "scorer"}, "Name the endpoint as project/name"),
    ],
)
def test_malformed_target_specs_are_refused(svc: Services, spec: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build_target(svc, spec)


def test_shorthand_and_options_make_the_same_spec() -> None:
    assert parse_target("rag:hr/handbook", as_user="alice", k=2) == {
        "type": "rag",
        "collection": "hr/handbook",
        "as_user": "alice",
        "k": 2,
    }
    assert parse_target("model:default") == {"type": "model", "model": None}


def test_an_openai_compatible_url_is_called_and_traced(
    svc: Services, endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVAL_KEY", "sk-test-123")
    endpoint.reply = lambda body, attempt: (200, completion("It is 25 days.", 30, 6), 0.0)
    target = build_target(
        svc,
        f"openai:{endpoint.url}",
        model="served-model",
        api_key="env:EVAL_KEY",
        system="Answer briefly.",
        project="qa",
    )
    answer = target.answer(Case(id="c", question="Days?", context=["25 days of leave."]))
    assert (answer.text, answer.input_tokens, answer.output_tokens) == ("It is 25 days.", 30, 6)
    sent = endpoint.requests[0]
    assert sent["model"] == "served-model" and sent["temperature"] == 0.0
    assert sent["messages"] == [
        {"role": "system", "content": "Answer briefly.\n\n[1] 25 days of leave."},
        {"role": "user", "content": "Days?"},
    ]
    assert endpoint.headers[0]["Authorization"] == "Bearer sk-test-123"
    assert target.spec()["api_key"] == "env:EVAL_KEY"  # the reference, never the key
    trace = svc.tracing.get(answer.trace_id or "")
    assert trace["trace"]["project"] == "qa" and trace["trace"]["input_tokens"] == 30
    assert isinstance(target, OpenAITarget) and target.lineage()[0][0].startswith("llm_model:")


def test_multi_turn_history_reaches_the_model(endpoint: FakeEndpoint) -> None:
    target = OpenAITarget(endpoint.url, max_retries=0)
    target.ask(
        "And now?",
        history=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
    )
    assert [m["content"] for m in endpoint.requests[0]["messages"]] == ["Hi", "Hello", "And now?"]


def gateway(handler: Any) -> httpx.Client:
    return httpx.Client(base_url="http://gateway", transport=httpx.MockTransport(handler))


def test_a_served_endpoint_gets_one_record_and_its_first_prediction_is_the_answer() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append({"path": request.url.path, "body": json.loads(request.content)})
        return httpx.Response(200, json={"request_id": "r", "predictions": [{"answer": "25"}]})

    target = EndpointTarget("hr/assistant", client=gateway(handler))
    answer = target.answer(Case(id="c", question="Days?"))
    assert answer.text == "25"
    assert seen == [
        {"path": "/v1/endpoints/hr/assistant/predict", "body": {"records": [{"question": "Days?"}]}}
    ]
    target.answer(Case(id="d", inputs={"amount": 12.5, "hour": 3}))
    assert seen[1]["body"] == {"records": [{"amount": 12.5, "hour": 3}]}
    with pytest.raises(InvalidInput, match="takes no history"):
        target.ask("x", history=[{"role": "user", "content": "y"}])


def test_a_gateway_error_is_the_case_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"code": "invalid_input", "message": "no field 'hour'"})

    target = EndpointTarget("shop/scorer", client=gateway(handler))
    with pytest.raises(PasslineError, match="endpoint shop/scorer answered HTTP 422: no field"):
        target.answer(Case(id="c", inputs={"amount": 1}))
