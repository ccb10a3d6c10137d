"""Drafting with a model: the source's numbered lines go to the model with a JSON schema
(constrained decoding on the embedded model), and every story that comes back is grounded
(:func:`passline.backlog.grounding.ground`) before anyone sees it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from passline.backlog.entities import FIBONACCI, PRIORITIES, TBD, StoryDraft
from passline.backlog.grounding import ground
from passline.backlog.rules import _merge_into
from passline.backlog.sources import Source

__all__ = ["STORY_SCHEMA", "Chat", "draft_llm"]

WINDOW = 30  # lines per model call: the embedded model has a small context
Chat = Callable[[list[dict[str, str]], dict[str, Any]], Any]

_TEXT = {"type": "string", "maxLength": 160}
STORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "stories": {
            "type": "array",
            "maxItems": 6,
            "items": {
                "type": "object",
                "properties": {
                    "title": {"type": "string", "maxLength": 90},
                    "priority": {"type": "string", "enum": [*PRIORITIES, TBD]},
                    "points": {"type": "string", "enum": [*map(str, FIBONACCI), TBD]},
                    "role": {"type": "string", "maxLength": 60},
                    "want": _TEXT,
                    "benefit": _TEXT,
                    "acceptance_criteria": {"type": "array", "maxItems": 3, "items": _TEXT},
                    "labels": {
                        "type": "array",
                        "maxItems": 3,
                        "items": {"type": "string", "maxLength": 20},
                    },
                    "lines": {"type": "array", "maxItems": 4, "items": {"type": "integer"}},
                },
                "required": [
                    "title",
                    "priority",
                    "points",
                    "role",
                    "want",
                    "benefit",
                    "acceptance_criteria",
                    "labels",
                    "lines",
                ],
            },
        }
    },
    "required": ["stories"],
}

SYSTEM = (
    "You turn meeting transcripts into backlog stories. Return JSON only. One story per "
    "requirement someone stated (we need..., the system must..., as a ... I want...). "
    "For each story give the numbers of the lines it comes from. Use only what the lines say: "
    f"when a priority, an estimate, a user role or a benefit was not said, write '{TBD}'. "
    "Never invent numbers, names or dates.\n"
    "Example. Lines:\n3: Sam: We need a login page for buyers.\n4: Kim: High priority.\n"
    'Stories: {"stories": [{"title": "Login page for buyers", "priority": "High", '
    f'"points": "{TBD}", "role": "buyer", "want": "a login page", "benefit": "{TBD}", '
    '"acceptance_criteria": [], "labels": ["login"], "lines": [3, 4]}]}'
)


def draft_llm(
    source: Source, chat: Chat, rules: list[StoryDraft] | None = None
) -> list[StoryDraft]:
    """Stories from ``source`` by ``chat(messages, schema) -> parsed JSON``, grounded; then
    the ``rules`` stories on lines no model story covers (a small model misses many)."""
    numbered = source.numbered()
    stories: list[StoryDraft] = []
    for start in range(0, len(numbered), WINDOW):
        window = numbered[start : start + WINDOW]
        lines = "\n".join(f"{n}: {text}" for n, text in window)
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Transcript lines:\n{lines}\n\nThe stories as JSON:"},
        ]
        data = chat(messages, STORY_SCHEMA)
        for raw in (data or {}).get("stories", []) if isinstance(data, dict) else []:
            story = ground(raw, source) if isinstance(raw, dict) else None
            if story is not None and not _merge_into(stories, story):
                stories.append(story)
    return sorted(_combine(rules or [], stories), key=lambda s: s.source_lines[:1])


def _combine(rules: list[StoryDraft], drafted: list[StoryDraft]) -> list[StoryDraft]:
    """The rules' stories, each enriched by the model story on its statement line (fields
    the rules left TO BE DEFINED and the model filled with support); model stories on no
    rules statement are added as they are."""
    out = list(rules)
    touched: set[int] = set()
    for story in drafted:
        hit = next(
            (
                i
                for i, r in enumerate(out[: len(rules)])
                if set(r.source_lines[:1]) & set(story.source_lines)
            ),
            None,
        )
        if hit is None:
            out.append(story.model_copy(update={"notes": [*story.notes, "drafted by the model"]}))
            continue
        out[hit] = _enrich(out[hit], story)
        touched.add(hit)
    note = "found by the rules: the model did not draft it"
    return [
        s.model_copy(update={"notes": [*s.notes, note]})
        if i < len(rules) and i not in touched
        else s
        for i, s in enumerate(out)
    ]


def _enrich(rule: StoryDraft, model: StoryDraft) -> StoryDraft:
    update: dict[str, object] = {}
    if rule.acceptance_criteria == [TBD] and model.acceptance_criteria != [TBD]:
        update["acceptance_criteria"] = model.acceptance_criteria
    if model.description.count(TBD) < rule.description.count(TBD):
        update["description"] = model.description
    labels = list(dict.fromkeys([*rule.labels, *model.labels]))[:3]
    if labels != rule.labels:
        update["labels"] = labels
    filled = ", ".join(sorted(update)) or "nothing the rules had not"
    notes = [*rule.notes, *model.notes, f"the model also drafted it; it filled: {filled}"]
    return rule.model_copy(update={**update, "notes": notes})
