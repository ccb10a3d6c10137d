"""The personal-data guard: the :mod:`passline.guard.pii` scan as a policy guard."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from passline.guard.base import Action, Guard, GuardConfig, GuardContext, Span, Verdict, counts
from passline.guard.pii import ENTITIES, default_scanner

__all__ = ["PiiConfig", "PiiGuard"]


class PiiConfig(GuardConfig):
    """Personal data and secrets (see :data:`passline.guard.pii.ENTITIES`).

    Attributes:
        entities: the entity types to look for; empty: all of them.
        min_score: findings scored below this are ignored.
    """

    type: Literal["pii"] = "pii"
    action: Action = "redact"
    entities: tuple[str, ...] = ()
    min_score: float = 0.0

    can_redact = True

    @field_validator("entities")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        upper = tuple(e.upper() for e in value)
        unknown = [e for e in upper if e not in ENTITIES]
        if unknown:
            raise ValueError(f"unknown PII entity {unknown[0]!r}; choose among {list(ENTITIES)}")
        return upper

    @field_validator("min_score")
    @classmethod
    def _fraction(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError(f"must be in [0, 1], got {value}")
        return value


class PiiGuard(Guard[PiiConfig]):
    def check(self, text: str, context: GuardContext) -> Verdict:
        scanner = default_scanner()
        entities = set(self.config.entities) or None
        found = [f for f in scanner.scan([text], entities)[0] if f.score >= self.config.min_score]
        reasons = [f"{n} {entity}" for entity, n in counts([f.entity for f in found]).items()]
        if found and (entities is None or "PERSON" in entities) and scanner.names is None:
            reasons.append(f"names not checked (ner: {scanner.ner})")
        return Verdict(
            hit=bool(found),
            reasons=reasons if found else [],
            findings=[f.to_dict() for f in found],
            spans=[Span(f.start, f.end, f.entity) for f in found],
            score=max((f.score for f in found), default=None),
        )
