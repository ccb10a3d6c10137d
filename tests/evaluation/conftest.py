"""Shared pieces: a scripted model that stands in for the embedded one (``fake_model``),
workspaces with a project, and the switches for tests that need the real model or local
embeddings (from tests/llm/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from passline.llm.types import ChatParams, ChatResult, Message, Usage
from passline.services.llm import LlmModel, LlmService
from passline.services.workspace import Services, Workspace
from tests.llm.conftest import endpoint, needs_embedded, needs_embeddings  # noqa: F401

Reply = Callable[[list[Message]], str]


class FakeModel:
    """A model whose answer ``reply(messages)`` decides; it keeps every call it got."""

    name = "fake"
    provider = "test"
    context_tokens = 8192

    def __init__(self, reply: Reply | None = None) -> None:
        self.reply: Reply = reply or (lambda messages: "I don't know.")
        self.calls: list[list[Message]] = []

    def count_tokens(self, text: str) -> int:
        return len(text) // 4

    def chat(
        self, messages: list[Message], params: ChatParams, json_schema: Any = None
    ) -> ChatResult:
        self.calls.append(list(messages))
        text = self.reply(messages)
        return ChatResult(text, self.name, self.provider, Usage(100, 20))


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> FakeModel:
    """Every model name answers with the fake; priced at $1 / $2 per million tokens."""
    model = FakeModel()
    info = LlmModel(
        name="fake",
        provider="test",
        config={},
        input_price_per_mtok=1.0,
        output_price_per_mtok=2.0,
    )
    monkeypatch.setattr(LlmService, "provider", lambda self, name: (model, info))
    return model


@pytest.fixture
def svc(workspace: Workspace) -> Services:
    """The workspace admin, with project ``qa``."""
    admin = workspace.services(workspace.local_context("sdk"))
    admin.projects.create("qa")
    return admin


@pytest.fixture
def any_svc(any_workspace: Workspace) -> Services:
    """As ``svc``, on SQLite and on PostgreSQL in turn."""
    admin = any_workspace.services(any_workspace.local_context("sdk"))
    admin.projects.create("qa")
    return admin
