"""The guard contract: a frozen configuration, and one required method.

A guard type is two classes registered together: a :class:`GuardConfig` (pydantic, frozen,
with a stable ``type`` id: what a policy file says) and a :class:`Guard` built from it,
whose :meth:`Guard.check` looks at one text and returns a :class:`Verdict`. Built-ins are
registered in :mod:`passline.guard.builtin` through the same :func:`register` a third party
uses::

    class NoShouting(GuardConfig):
        type: Literal["no_shouting"] = "no_shouting"
        action: Action = "block"

    class NoShoutingGuard(Guard):
        config: NoShouting

        def check(self, text: str, context: GuardContext) -> Verdict:
            loud = text.isupper()
            return Verdict(hit=loud, reasons=["all capitals"] if loud else [])

    register(NoShouting, NoShoutingGuard)

A verdict's findings are what gets stored: types, counts, positions and scores, never the
text they point at.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from passline.errors import InvalidInput

__all__ = [
    "Action",
    "Guard",
    "GuardConfig",
    "GuardContext",
    "Span",
    "Verdict",
    "apply_spans",
    "guard_types",
    "register",
]

Action = Literal["block", "redact", "allow"]
Stage = Literal["input", "output"]
Embed = Callable[[list[str]], np.ndarray]  # texts -> L2-normalised rows


class GuardConfig(BaseModel):
    """What a policy says about one guard. Subclasses add a ``type`` literal and options.

    Attributes:
        action: what a hit does: ``block`` the text, ``redact`` the spans found (guards
            that find spans only) or ``allow`` it and record the event.
        name: how events name this guard (default: its type); two guards of one type
            need different names.
        exempt_groups: callers in any of these groups are not checked by this guard
            (e.g. ``["hr"]`` for a salary guard).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    action: Action = "block"
    name: str | None = Field(default=None, max_length=64)
    exempt_groups: tuple[str, ...] = ()

    can_redact: ClassVar[bool] = False

    @property
    def label(self) -> str:
        return self.name or self.type


@dataclass(frozen=True)
class GuardContext:
    """Who and what a check is about.

    Attributes:
        user: the caller's name, if known.
        groups: the caller's groups (guards may exempt some).
        app: the app whose policy applies.
        prompt: for output checks, the input that led to the output.
        embed: embeds texts into L2-normalised rows; None uses the local embedding model
            (the ``llm`` extra). Tests pass a fake.
    """

    user: str | None = None
    groups: tuple[str, ...] = ()
    app: str = ""
    prompt: str | None = None
    embed: Embed | None = None

    def embedder(self) -> Embed:
        if self.embed is not None:
            return self.embed
        from passline.llm.embeddings import embedder  # heavy: only when a guard needs it

        return embedder().embed


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of the checked text that a redacting action replaces by ``[label]``."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Verdict:
    """What one guard saw in one text.

    Attributes:
        hit: whether the guard fired.
        reasons: short sentences for people, without the sensitive text.
        findings: what is stored: types, counts, positions, scores; never the text.
        spans: what a ``redact`` action replaces (redacting guards only).
        score: the guard's score, when it has one.
    """

    hit: bool
    reasons: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    score: float | None = None


C = TypeVar("C", bound=GuardConfig)


class Guard(ABC, Generic[C]):
    """Checks one text. Built from its frozen config; keeps no state between checks
    (guards run concurrently), apart from caches that are safe to share.
    """

    def __init__(self, config: C) -> None:
        self.config = config

    @abstractmethod
    def check(self, text: str, context: GuardContext) -> Verdict:
        """Look at ``text`` and say what was found."""


_REGISTRY: dict[str, tuple[type[GuardConfig], type[Guard[Any]]]] = {}


def register(config: type[GuardConfig], guard: type[Guard[Any]]) -> None:
    """Make a guard type known to policies, under its config's ``type`` default."""
    type_id = config.model_fields["type"].default
    if not isinstance(type_id, str) or not type_id:
        raise InvalidInput(f"{config.__name__} needs a 'type' field with a string default.")
    _REGISTRY[type_id] = (config, guard)


def guard_types() -> dict[str, tuple[type[GuardConfig], type[Guard[Any]]]]:
    """Every registered guard type: id -> (config class, guard class)."""
    from passline.guard import builtin  # noqa: F401  (registers the built-ins once)

    return dict(_REGISTRY)


def build(config: GuardConfig) -> Guard[Any]:
    """The guard a config describes."""
    return guard_types()[config.type][1](config)


def apply_spans(text: str, spans: Iterable[Span]) -> str:
    """``text`` with each span replaced by ``[label]``; overlapping spans are merged, so no
    part of a value survives between two placeholders."""
    merged: list[list[Any]] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], span.end)
        else:
            merged.append([span.start, span.end, span.label])
    parts, at = [], 0
    for start, end, label in merged:
        parts += [text[at:start], f"[{label}]"]
        at = end
    parts.append(text[at:])
    return "".join(parts)


def counts(labels: Sequence[str]) -> dict[str, int]:
    """How many of each label, in first-seen order."""
    out: dict[str, int] = {}
    for label in labels:
        out[label] = out.get(label, 0) + 1
    return out
