"""LLM mode: every field the model fills is checked against the source, so an invented
value becomes TO BE DEFINED; and one short draft by the real embedded model."""

from __future__ import annotations

from typing import Any

import pytest

from passline.backlog.entities import TBD
from passline.backlog.grounding import ground, invented_facts
from passline.backlog.sources import read_source
from passline.errors import InvalidInput
from passline.llm.types import ChatParams, ChatResult, Message, Usage
from passline.services.llm import LlmModel, LlmService
from passline.services.workspace import Services
from tests.backlog.test_drafting import MEETING


class InventingModel:
    """A model that drafts one real story and garnishes it with invented details."""

    name = "inventor"
    provider = "test"
    context_tokens = 8192

    def __init__(self, data: Any = None, text: str | None = None) -> None:
        self.data, self.text = data, text
        self.calls = 0

    def count_tokens(self, text: str) -> int:
        return len(text) // 4

    def chat(
        self, messages: list[Message], params: ChatParams, json_schema: Any = None
    ) -> ChatResult:
        self.calls += 1
        text = self.text if self.text is not None else "{}"
        return ChatResult(text, self.name, self.provider, Usage(100, 50), data=self.data)


INVENTED = {
    "stories": [
        {
            "title": "Demand forecast for every store",
            "priority": "Low",  # the meeting said top priority
            "points": "13",  # the meeting said 5
            "role": "CFO Dave Miller",
            "want": "a demand forecast for every store",
            "benefit": "revenue grows 20% by March",
            "acceptance_criteria": ["Given 300 stores, when it runs, then it is ready by 6am"],
            "labels": ["forecast", "blockchain"],
            "lines": [2],
        },
        {
            "title": "Loyalty app on the blockchain",
            "priority": "High",
            "points": "3",
            "role": "shopper",
            "want": "a loyalty token",
            "benefit": TBD,
            "acceptance_criteria": [],
            "labels": [],
            "lines": [77],
        },
    ]
}


@pytest.fixture
def inventor(monkeypatch: pytest.MonkeyPatch) -> InventingModel:
    model = InventingModel(INVENTED)
    info = LlmModel(name="inventor", provider="test", config={})
    monkeypatch.setattr(LlmService, "provider", lambda self, name: (model, info))
    return model


def test_the_checker_turns_invented_fields_into_to_be_defined() -> None:
    source = read_source(MEETING, "m.txt")
    story = ground(INVENTED["stories"][0], source)
    assert story is not None
    assert story.source_lines == [2]
    assert story.priority == "Highest" and story.points == 5  # what the source says
    assert story.description == (
        f"As a {TBD}, I want a demand forecast for every store, so that {TBD}"
    )
    assert story.acceptance_criteria == [TBD] and story.labels == ["forecast"]
    assert any("CFO Dave Miller" in n for n in story.notes)
    assert ground(INVENTED["stories"][1], source) is None  # nothing in the source says it


def test_invented_facts_are_numbers_names_and_dates_not_in_the_source() -> None:
    assert invented_facts("Ready by Friday for 20 stores, says Tom", MEETING) == set()
    assert invented_facts("Ready by March for 300 stores, says Dave", MEETING) == {
        "march",
        "300",
        "dave",
    }


def test_llm_mode_stores_only_grounded_fields(admin: Services, inventor: InventingModel) -> None:
    admin.projects.create("retail")
    batch = admin.backlog.draft("retail", text=MEETING, name="m.txt", mode="llm", model="inventor")
    assert inventor.calls == 1
    titles = [s.title for s in batch.stories]
    assert "Loyalty app on the blockchain" not in titles
    first = batch.stories[0]
    assert first.title == "Demand forecast for every store" and first.priority == "Highest"
    assert first.points == 5 and first.source_lines == [2, 3]  # the rules' structure
    assert any("the model also drafted it" in n for n in first.notes)
    assert "Dave" not in first.description and "20%" not in first.description
    # what the model missed, the rules still draft (marked so)
    assert any("export the forecast" in t for t in titles)
    assert all("Dave" not in s.model_dump_json(exclude={"notes"}) for s in batch.stories)
    assert any("CFO Dave Miller" in n for n in first.notes)  # the reviewer sees what was cut


def test_a_model_that_returns_no_json_is_a_clear_error(
    admin: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = InventingModel(None, "Sure! Here are your stories: a forecast, a dashboard")
    info = LlmModel(name="inventor", provider="test", config={})
    monkeypatch.setattr(LlmService, "provider", lambda self, name: (model, info))
    admin.projects.create("retail")
    with pytest.raises(InvalidInput, match="did not return valid JSON for the story schema"):
        admin.backlog.draft("retail", text=MEETING, name="m.txt", mode="llm", model="inventor")


def test_a_short_draft_by_the_embedded_model(admin: Services) -> None:
    pytest.importorskip("llama_cpp")
    from passline.llm.embedded import model_file

    try:
        model_file()
    except Exception:  # noqa: BLE001
        pytest.skip("the embedded model file is not installed")
    admin.projects.create("retail")
    text = "Priya: We need a demand forecast for every store.\nTom: That's top priority.\n"
    batch = admin.backlog.draft("retail", text=text, name="short.txt", mode="llm")
    assert batch.mode == "llm" and len(batch.stories) >= 1
    source = read_source(text, "short.txt")
    for story in batch.stories:
        assert story.source_lines and set(story.source_lines) <= set(source.numbers)
        assert story.priority in ("Highest", TBD) and story.points == TBD
        said = " ".join([story.title, story.description, *story.acceptance_criteria, *story.labels])
        assert not invented_facts(said, text)
