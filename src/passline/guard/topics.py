"""Topic restriction: a question must be close, by embedding similarity, to an allowed topic.

The policy describes each allowed topic in a sentence or a few words ("leave, holidays and
absences", "expense claims and travel"). The question and the topics are embedded with the
local model (all-MiniLM-L6-v2, the ``llm`` extra; vectors are L2-normalised, so a dot product
is the cosine similarity). A question whose best similarity is under ``threshold`` is off
topic. Topic vectors are computed once per guard.
"""

from __future__ import annotations

import threading
from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from passline.guard.base import Action, Guard, GuardConfig, GuardContext, Verdict

__all__ = ["TopicConfig", "TopicGuard"]


class TopicConfig(GuardConfig):
    """Allowed topics.

    Attributes:
        topics: each allowed topic, described in text.
        threshold: the cosine similarity under which a question is off topic.
    """

    type: Literal["topic"] = "topic"
    action: Action = "block"
    topics: tuple[str, ...]
    threshold: float = Field(default=0.3, ge=-1, le=1)

    @field_validator("topics")
    @classmethod
    def _some(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or not all(t.strip() for t in value):
            raise ValueError("name at least one allowed topic, each a non-empty text")
        return value


class TopicGuard(Guard[TopicConfig]):
    def __init__(self, config: TopicConfig) -> None:
        super().__init__(config)
        self._topics: np.ndarray | None = None
        self._lock = threading.Lock()

    def check(self, text: str, context: GuardContext) -> Verdict:
        embed = context.embedder()
        with self._lock:
            if self._topics is None:
                self._topics = embed(list(self.config.topics))
        similarities = self._topics @ embed([text])[0]
        best = int(np.argmax(similarities))
        score = float(similarities[best])
        off = score < self.config.threshold
        reason = (
            f"off topic: closest allowed topic #{best} ({self.config.topics[best]!r}) "
            f"at similarity {score:.2f} < {self.config.threshold}"
        )
        return Verdict(
            hit=off,
            reasons=[reason] if off else [],
            findings=[{"type": "off_topic", "topic": best, "similarity": round(score, 3)}]
            if off
            else [],
            score=round(score, 3),
        )
