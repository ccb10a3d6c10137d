"""Traces: saved redacted (or without content), received over OTLP in protobuf and JSON,
read back with permissions, joined to prompts and feedback in the lineage graph."""

from __future__ import annotations

import json
import os
import time

import pytest
from fastapi.testclient import TestClient

from passline.errors import InvalidInput, NotFound
from passline.llm.tracing import GENAI
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as

EMAIL = "jane.doe@example.com"


@pytest.fixture
def svc(any_workspace: Workspace) -> Services:
    services = any_workspace.services(any_workspace.local_context("sdk"))
    services.projects.create("hr")
    services.identity.create_user("alice")
    services.projects.add_member("hr", "alice", "contributor")
    return services


def record(svc: Services, question: str, content: str = "redacted") -> str:
    trace = svc.tracing.start(app="assistant", name="chat", project="hr", user="alice")
    trace.input_preview = question
    with trace.span(
        "chat fake",
        kind="chat",
        **{
            GENAI.REQUEST_MODEL: "fake",
            GENAI.INPUT_TOKENS: 12,
            GENAI.OUTPUT_TOKENS: 5,
            GENAI.COST: 0.001,
            GENAI.INPUT_MESSAGES: question,
        },
    ):
        pass
    trace.output_preview = f"Write to {EMAIL}"
    return svc.tracing.save(trace, content)


def test_saved_traces_keep_totals_and_never_personal_data(svc: Services) -> None:
    trace_id = record(svc, f"I am {EMAIL}, card 4111 1111 1111 1111: my leave?")
    found = svc.tracing.get(trace_id)
    head = found["trace"]
    assert (head["input_tokens"], head["output_tokens"], head["model"]) == (12, 5, "fake")
    assert head["cost_usd"] == pytest.approx(0.001) and head["user"] == "alice"
    stored = json.dumps(found)
    assert EMAIL not in stored and "4111 1111 1111 1111" not in stored
    assert "[EMAIL]" in head["input_preview"]
    assert found["spans"][0]["attributes"][GENAI.INPUT_TOKENS] == 12


def test_metrics_only_keeps_no_content(svc: Services) -> None:
    trace_id = record(svc, "How many days of leave?", content="metrics_only")
    found = svc.tracing.get(trace_id)
    assert found["trace"]["input_preview"] is None and found["trace"]["output_preview"] is None
    assert GENAI.INPUT_MESSAGES not in found["spans"][0]["attributes"]
    assert found["trace"]["input_tokens"] == 12


def otlp_json(trace_id: str, spans: list[tuple[str, str | None, str, dict]]) -> dict:
    now = time.time_ns()

    def attribute(k, v):
        return {
            "key": k,
            "value": (  # noqa: E731
                {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}
            ),
        }

    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [attribute("service.name", "chatbot")]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "parentSpanId": parent or "",
                                "name": name,
                                "kind": 3,
                                "startTimeUnixNano": str(now),
                                "endTimeUnixNano": str(now + 5_000_000),
                                "attributes": [attribute(k, v) for k, v in attrs.items()],
                            }
                            for span_id, parent, name, attrs in spans
                        ]
                    }
                ],
            }
        ]
    }


def test_otlp_json_and_protobuf_land_redacted(svc: Services) -> None:
    trace_id = os.urandom(16).hex()
    body = otlp_json(
        trace_id,
        [
            ("a" * 16, None, "handle question", {"user.id": "alice"}),
            (
                "b" * 16,
                "a" * 16,
                "chat gpt",
                {
                    GENAI.OPERATION: "chat",
                    GENAI.REQUEST_MODEL: "gpt-x",
                    GENAI.INPUT_TOKENS: 30,
                    GENAI.OUTPUT_TOKENS: 9,
                    "gen_ai.prompt": f"mail {EMAIL}",
                },
            ),
        ],
    )
    result = svc.tracing.ingest_otlp(json.dumps(body).encode(), "application/json", "hr")
    assert result == {"traces": 1, "spans": 2}
    found = svc.tracing.get(trace_id)
    assert found["trace"]["app"] == "chatbot" and found["trace"]["name"] == "handle question"
    assert found["trace"]["input_tokens"] == 30 and found["trace"]["user"] == "alice"
    assert EMAIL not in json.dumps(found)
    assert {s["kind"] for s in found["spans"]} == {"client", "chat"}
    # A later batch of the same trace adds to it.
    more = otlp_json(trace_id, [("c" * 16, "a" * 16, "chat again", {GENAI.INPUT_TOKENS: 3})])
    svc.tracing.ingest_otlp(json.dumps(more).encode(), "application/json", "hr")
    assert svc.tracing.get(trace_id)["trace"]["input_tokens"] == 33
    # Feedback on an imported trace joins the lineage graph like any other.
    svc.tracing.add_feedback(trace_id, -1, "wrong model")
    assert svc.tracing.get(trace_id)["feedback"][0]["score"] == -1

    pytest.importorskip("opentelemetry.proto")
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    other = os.urandom(16).hex()
    proto_body = otlp_json(other, [("d" * 16, None, "root", {GENAI.OUTPUT_TOKENS: 4})])
    for span in proto_body["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId", "parentSpanId"):  # protobuf's JSON form is base64
            import base64

            span[key] = base64.b64encode(bytes.fromhex(span[key])).decode() if span[key] else ""
    message = ParseDict(proto_body, ExportTraceServiceRequest())
    svc.tracing.ingest_otlp(message.SerializeToString(), "application/x-protobuf", "hr")
    assert svc.tracing.get(other)["trace"]["output_tokens"] == 4


def test_bad_otlp_bodies_are_refused(svc: Services) -> None:
    with pytest.raises(InvalidInput, match="not JSON"):
        svc.tracing.ingest_otlp(b"{oops", "application/json")
    with pytest.raises(InvalidInput, match="application/x-protobuf or application/json"):
        svc.tracing.ingest_otlp(b"x", "text/plain")
    with pytest.raises(InvalidInput, match="traceId"):
        svc.tracing.ingest_otlp(
            json.dumps(otlp_json("", [("a" * 16, None, "x", {})])).encode(), "application/json"
        )
    pytest.importorskip("opentelemetry.proto")
    with pytest.raises(InvalidInput, match="not an ExportTraceServiceRequest"):
        svc.tracing.ingest_otlp(b"\xff\xff\xff", "application/x-protobuf")


def test_otlp_over_http_needs_a_token(app_client: TestClient, admin_token: str) -> None:
    body = json.dumps(otlp_json(os.urandom(16).hex(), [("e" * 16, None, "x", {})]))
    refused = app_client.post(
        "/v1/traces", content=body, headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 401
    accepted = app_client.post(
        "/v1/traces",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {admin_token}"},
    )
    assert accepted.status_code == 200 and accepted.json()["spans"] == 1


def test_feedback_is_redacted_summed_and_linked(any_workspace: Workspace, svc: Services) -> None:
    svc.prompts.create("hr/answer", "{{ question }}", {"question": "string"})
    trace = svc.tracing.start(app="assistant", project="hr")
    trace.prompt_version_id = svc.prompts.version("hr/answer@1").id
    svc.tracing.save(trace)
    alice = services_as(any_workspace, "alice")
    alice.tracing.add_feedback(trace.id, 1, f"great, mail me at {EMAIL}")
    alice.tracing.add_feedback(trace.id, -1, correction="The answer is 25 days.")
    found = svc.tracing.get(trace.id)
    assert [f["score"] for f in found["feedback"]] == [1, -1]
    assert "[EMAIL]" in found["feedback"][0]["comment"]
    summary = svc.tracing.feedback_summary("hr")
    assert summary == [
        {
            "prompt_version": "hr/answer@v1",
            "feedback": 2,
            "up": 1,
            "down": 1,
            "corrections": 1,
            "approval": 0.5,
        }
    ]
    graph = svc.lineage.graph(f"trace:{trace.id}", "both")
    assert {e.type for e in graph.edges} >= {"traced_in", "scored_by"}
    with pytest.raises(InvalidInput, match="1 \\(thumbs up\\) or -1"):
        alice.tracing.add_feedback(trace.id, 5)
    with pytest.raises(InvalidInput, match="score, a comment or a correction"):
        alice.tracing.add_feedback(trace.id)
    with pytest.raises(NotFound):
        alice.tracing.add_feedback("0" * 32, 1)


def test_who_asked_what_and_visibility(any_workspace: Workspace, svc: Services) -> None:
    record(svc, "first question")
    record(svc, "second question")
    alice = services_as(any_workspace, "alice")
    asked = alice.tracing.list(project="hr", user="alice")
    assert len(asked) == 2 and asked[0].input_preview == "second question"
    svc.identity.create_user("eve")
    eve = services_as(any_workspace, "eve")
    assert eve.tracing.list() == []
    with pytest.raises(Exception, match="needs the 'viewer' role"):
        eve.tracing.get(asked[0].id)
