"""The meeting beside the stories: decisions, action items with owners, open questions (by
rules); and the backlog's health: near-duplicates by embedding similarity, stories without
acceptance criteria or estimates, fields still TO BE DEFINED."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from passline.backlog.entities import TBD, ActionItem, MeetingSummary, Story
from passline.backlog.rules import sentences
from passline.backlog.sources import Source

__all__ = ["DUPLICATE_THRESHOLD", "find_duplicates", "summarise"]

DUPLICATE_THRESHOLD = 0.85
_DECISION = re.compile(
    r"\b(we decided|we've decided|decided to|decision\b|we agreed|agreed to|let's go with|"
    r"we'll go with|we will go with|settled on|final call|we're going with)\b",
    re.IGNORECASE,
)
_ACTION_MARK = re.compile(r"^(?:action(?: item)?|todo|ai|next step)\s*[:\-]\s*(.+)", re.I)
_OWNER_VERB = re.compile(
    r"^([A-Z][a-z]+(?: [A-Z][a-z]+)?) (?:will|is going to|to|'ll|can you|should) (.+)"
)
_SELF = re.compile(r"^(?:i'll|i will|i can|i'm going to|let me) (.+)", re.IGNORECASE)
_OPEN = re.compile(
    r"\b(open question|not sure|unclear|to be decided|tbd|we don't know|no idea|"
    r"need to figure out|still open)\b",
    re.IGNORECASE,
)
_NOT_NAMES = {"We", "I", "The", "This", "That", "It", "They", "You", "Everyone", "Someone"}


def summarise(source: Source) -> MeetingSummary:
    """Decisions, action items with owners (TBD when nobody was named) and open questions."""
    decisions, actions, questions, speakers = [], [], [], []
    for item in sentences(source):
        if item.speaker and item.speaker not in speakers:
            speakers.append(item.speaker)
        text = item.text.strip()
        if _DECISION.search(text):
            decisions.append({"text": text, "line": item.line})
        elif (action := _action(text, item.speaker)) is not None:
            actions.append(ActionItem(text=action[1], owner=action[0], line=item.line))
        elif (text.endswith("?") and len(text.split()) >= 4) or _OPEN.search(text):
            questions.append({"text": text, "line": item.line})
    return MeetingSummary(
        decisions=decisions, action_items=actions, open_questions=questions, speakers=speakers
    )


def _action(text: str, speaker: str | None) -> tuple[str, str] | None:
    """(owner, task) of an action item, the owner TBD when nobody was named."""
    marked = _ACTION_MARK.match(text)
    body = marked.group(1).strip() if marked else text
    named = _OWNER_VERB.match(body)
    if named and named.group(1) not in _NOT_NAMES:
        return named.group(1), named.group(2).rstrip(". ")
    if (mine := _SELF.match(body)) is not None:
        return speaker or TBD, mine.group(1).rstrip(". ")
    return (TBD, body.rstrip(". ")) if marked else None


def find_duplicates(
    stories: Sequence[Story],
    embed: Callable[[list[str]], Sequence[Sequence[float]]] | None,
    threshold: float = DUPLICATE_THRESHOLD,
) -> tuple[list[dict[str, object]], str]:
    """Pairs of stories whose title and description are this similar (cosine of the
    embeddings, or word overlap when no embedding model is there)."""
    texts = [f"{s.title}. {s.description}" for s in stories]
    if len(texts) < 2:
        return [], "embeddings" if embed else "words"
    if embed is not None:
        import numpy as np

        vectors = np.asarray(embed(texts), dtype=float)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        scores = vectors @ vectors.T
        score: Callable[[int, int], float] = lambda i, j: float(scores[i, j])  # noqa: E731
        method = "embeddings"
    else:
        words = [set(re.findall(r"[a-z0-9]+", t.lower())) for t in texts]
        score = lambda i, j: len(words[i] & words[j]) / max(1, len(words[i] | words[j]))  # noqa: E731
        method, threshold = "words", min(threshold, 0.6)
    pairs = [
        {
            "a": stories[i].id,
            "b": stories[j].id,
            "title_a": stories[i].title,
            "title_b": stories[j].title,
            "similarity": round(score(i, j), 3),
        }
        for i in range(len(stories))
        for j in range(i + 1, len(stories))
        if score(i, j) >= threshold
    ]
    return pairs, method
