"""Answers held to their sources: invented figures removed, uncited sentences attributed.

Figures in an answer that its sources do not contain are removed with their sentence.

A small model invents numbers (asked for a salary it was never given, SmolLM2-135M says
"about €15,000"). Retrieval already keeps text a user may not read away from the model;
this keeps a made-up figure away from the user, whether or not it happens to match a real
one. A figure counts when it has at least two digits; it is grounded when the same digits
appear in the sources or in the question (the asker's own number may be repeated).
Citation marks like ``[1]`` are not figures.

A small model often answers right and cites nothing. :func:`attribute` then gives each
sentence the number of the source it shares most with (figures count three times as much
as words), so an answer still points at where it came from.
"""

from __future__ import annotations

import re

__all__ = ["NO_ANSWER", "attribute", "ground"]

NO_ANSWER = "The documents you may read do not answer this."
_CITATION = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
# 185,000 / 185.000 / 185 000 are one figure; "2026, 25" are two
_FIGURE = re.compile(r"\d{1,3}(?:[,.'\u202f\u00a0 ]\d{3})+(?!\d)|\d+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[^\W\d_]{4,}")
_COMMON = frozenset(
    "that this with from have what which when where their there they your about would "
    "could should these those than then into over under only also does each year".split()
)


def _figures(text: str) -> set[str]:
    found = (re.sub(r"\D", "", m.group()) for m in _FIGURE.finditer(_CITATION.sub(" ", text)))
    return {f for f in found if len(f) >= 2}


def ground(answer: str, sources: str, question: str = "") -> tuple[str, list[str]]:
    """The answer without the sentences holding figures absent from ``sources`` and
    ``question``, and those figures (as their digits)."""
    known = _figures(sources) | _figures(question)
    kept, dropped = [], []
    for sentence in _SENTENCE.split(answer.strip()):
        unknown = sorted(_figures(sentence) - known)
        if unknown:
            dropped.extend(unknown)
        elif sentence:
            kept.append(sentence)
    if not dropped:
        return answer, []
    return (" ".join(kept) or NO_ANSWER), dropped


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _COMMON


def attribute(answer: str, sources: dict[int, str]) -> tuple[str, bool]:
    """``answer`` with a ``[n]`` added to each uncited sentence that shares figures or words
    with source ``n`` (``sources``: number -> its passages' text); whether any was added.
    An answer that cites anything already is left as the model wrote it."""
    if _CITATION.search(answer) or answer == NO_ANSWER:
        return answer, False
    known = {n: (_figures(text), _words(text)) for n, text in sources.items()}
    out, added = [], False
    for sentence in _SENTENCE.split(answer.strip()):
        figures, words = _figures(sentence), _words(sentence)
        scores = {n: 3 * len(figures & f) + len(words & w) for n, (f, w) in known.items()}
        best = max(scores, key=lambda n: (scores[n], -n), default=None)
        if best is not None and scores[best] > 0:
            body, end = (sentence[:-1], sentence[-1]) if sentence[-1:] in ".!?" else (sentence, "")
            sentence, added = f"{body} [{best}]{end}", True
        out.append(sentence)
    return " ".join(out), added
