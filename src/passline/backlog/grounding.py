"""The check every model-drafted field passes: a value with no support in the source lines
it cites becomes TO BE DEFINED, so a small model cannot invent.

A text is supported when every fact in it (numbers, names, dates) is in the source and most
of its content words are too; a priority or an estimate only when the source's words give
that very value (the rules of :mod:`passline.backlog.rules` read them).
"""

from __future__ import annotations

import re
from typing import Any

from passline.backlog.entities import PRIORITIES, TBD, StoryDraft
from passline.backlog.rules import find_points, find_priority
from passline.backlog.sources import Source

__all__ = ["facts", "ground", "invented_facts", "supported"]

_STOP = set(
    "a an the and or of to in is are was were it that this these those we i you they he she be "
    "been have has had for on with as at by not do does did will would should can could need "
    "needs must shall so but if what our their there from about just want wants able us my me "
    "your its into than then when given also all any each every some more most very per via "
    "which who whom whose where how why new get gets".split()
)
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday|jan|feb|mar|apr|jun|jul|aug|sep|"
    "sept|oct|nov|dec"
)
_FACT = re.compile(
    rf"\b\d[\d.,:/%-]*\b|\b(?:{_MONTHS})\b|(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+\b", re.IGNORECASE
)
_NAME = re.compile(r"(?<!^)(?<![.!?:]\s)\b[A-Z][a-z]{2,}\b")
_COMMON_CAPS = {"As", "Given", "When", "Then", "The", "This", "That", "And", "But", "So"}


def facts(text: str) -> set[str]:
    """Numbers, dates and names in ``text``, lower-cased (what may not be invented)."""
    found = {
        m.group(0).lower().strip(".,") for m in re.finditer(r"\b\d[\d.,:/%-]*\d\b|\b\d\b", text)
    }
    found |= {m.group(0).lower() for m in re.finditer(rf"\b(?:{_MONTHS})\b", text, re.IGNORECASE)}
    found |= {m.group(0).lower() for m in _NAME.finditer(text) if m.group(0) not in _COMMON_CAPS}
    return {f for f in found if f and f != TBD.lower()}


def invented_facts(text: str, source_text: str) -> set[str]:
    """The facts of ``text`` that ``source_text`` does not contain."""
    haystack = source_text.lower()
    return {f for f in facts(text.replace(TBD, "")) if f not in haystack}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _content(text: str) -> set[str]:
    return {
        _stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 2
    }


def supported(text: str, support: str, ratio: float = 0.6) -> bool:
    """Every fact of ``text`` is in ``support`` and most of its content words are too."""
    if not text.strip() or text.strip() == TBD:
        return True
    if invented_facts(text, support):
        return False
    words = _content(text.replace(TBD, ""))
    if not words:
        return True
    return len(words & _content(support)) / len(words) >= ratio


def ground(raw: dict[str, Any], source: Source) -> StoryDraft | None:
    """A model's story, each field kept only where ``source`` supports it; None when the
    story as a whole has no support (no line it cites, or could cite, says anything like it)."""
    notes: list[str] = []
    lines = _lines(raw, source, notes)
    if not lines:
        return None
    support = source.text_of(_with_context(lines, source))
    title = str(raw.get("title") or "").strip()
    if not supported(title, support):
        notes.append(f"title {title!r} is not in the source; the source line is used")
        title = source.text_of(lines[:1]).split(": ", 1)[-1][:90]
    role, want, benefit = (
        _text_field(raw, key, support, notes) for key in ("role", "want", "benefit")
    )
    criteria = [
        c for c in (str(x) for x in raw.get("acceptance_criteria") or []) if c.strip() and c != TBD
    ]
    kept = [c for c in criteria if supported(c, support)]
    if len(kept) < len(criteria):
        notes.append(f"{len(criteria) - len(kept)} acceptance criteria not in the source dropped")
    return StoryDraft(
        title=title,
        priority=_checked(raw.get("priority"), find_priority(support), "priority", notes),
        points=_points(raw.get("points"), support, notes),
        description=f"As a {role}, I want {want}, so that {benefit}",
        acceptance_criteria=kept or [TBD],
        labels=[
            str(x).lower()
            for x in raw.get("labels") or []
            if str(x).strip() and str(x).lower() in support.lower()
        ][:3],
        source_lines=lines,
        notes=notes,
    )


def _lines(raw: dict[str, Any], source: Source, notes: list[str]) -> list[int]:
    valid = set(source.numbers)
    cited = sorted({int(n) for n in raw.get("lines") or [] if str(n).isdigit() and int(n) in valid})
    claim = f"{raw.get('title', '')} {raw.get('want', '')}"
    if cited and supported(claim, source.text_of(_with_context(cited, source)), 0.4):
        return cited
    best = max(
        source.numbered(),
        key=lambda item: len(_content(claim) & _content(item[1])),
        default=None,
    )
    if best is None or not _content(claim) or len(_content(claim) & _content(best[1])) < 2:
        return []
    notes.append(f"cited lines {cited or 'none'} do not say this; line {best[0]} does")
    return [best[0]]


def _with_context(lines: list[int], source: Source) -> list[int]:
    numbers = list(source.numbers)
    out = set(lines)
    for n in lines:
        if n in numbers:
            out.update(numbers[numbers.index(n) : numbers.index(n) + 3])
    return sorted(out)


def _text_field(raw: dict[str, Any], key: str, support: str, notes: list[str]) -> str:
    value = str(raw.get(key) or "").strip() or TBD
    if value != TBD and not supported(value, support):
        notes.append(f"{key} {value!r} is not in the source")
        return TBD
    return value


def _checked(value: Any, said: str, field: str, notes: list[str]) -> str:
    value = str(value or TBD)
    if value in PRIORITIES and value != said:
        notes.append(f"{field} {value!r} is not said in the source; it says {said!r}")
    return said


def _points(value: Any, support: str, notes: list[str]) -> int | str:
    said = find_points(support)
    if str(value) in (TBD, "", "None"):
        return TBD
    if said is None or str(said) != str(value):
        notes.append(f"points {value!r} are not said in the source; it says {said or TBD!r}")
    return said or TBD
