"""Text to overlapping windows of about ``chunk_tokens`` words, cut at paragraph and
sentence boundaries, each keeping its character offsets in the text.

Words stand in for tokens. all-MiniLM-L6-v2 reads at most 256 word pieces and ignores the
rest; English prose runs about 1.3 pieces a word and technical text up to 1.6, so the
default of 150 words keeps most chunks whole for the embedder. A window closes before the
unit that would overflow it; the next one starts with the last sentences of the previous
one, up to ``overlap`` words, so that an answer spanning a cut is still found whole in one
chunk. A sentence longer than a window is cut between words.
``text[chunk.start:chunk.end] == chunk.text`` always holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from passline.errors import InvalidInput

__all__ = ["Chunk", "chunk_text"]

_PARAGRAPH = re.compile(r"\n[ \t]*\n")
# a sentence ends at . ! ? (maybe closed by a quote or bracket) followed by white space and
# a capital, digit or opening mark; a line that starts a list item, heading or table row
# starts a unit too (wrapped lines of a PDF do not)
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[A-Z0-9\"'(\[])"
    r"|\n(?=[ \t]*(?:[-*+#|]|\d+[.)]\s))"
)
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int
    end: int
    text: str
    words: int


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    words: int
    paragraph_end: bool


def chunk_text(text: str, chunk_tokens: int = 150, overlap: int | None = None) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``chunk_tokens`` words (``overlap`` words
    repeated between neighbours; 15% by default)."""
    if not 20 <= chunk_tokens <= 2000:
        raise InvalidInput(
            f"The 'chunk_tokens' must be an integer in [20, 2000]. Got {chunk_tokens} instead."
        )
    overlap = chunk_tokens * 15 // 100 if overlap is None else overlap
    if not 0 <= overlap < chunk_tokens // 2:
        raise InvalidInput(
            f"The 'overlap' must be in [0, {chunk_tokens // 2}) words. Got {overlap} instead."
        )
    units = list(_units(text, chunk_tokens))
    return [
        Chunk(i, s, e, text[s:e], sum(u.words for u in units[a:b]))
        for i, (a, b, s, e) in enumerate(_windows(units, chunk_tokens, overlap))
    ]


def _units(text: str, limit: int) -> Iterator[_Unit]:
    """Sentences (or pieces of over-long ones), flagged when they close a paragraph."""
    for p_start, p_end in _spans(text, _PARAGRAPH, 0, len(text)):
        sentences = list(_spans(text, _SENTENCE_END, p_start, p_end))
        for i, (s, e) in enumerate(sentences):
            last = i == len(sentences) - 1
            words = [m.span() for m in _WORD.finditer(text, s, e)]
            for j in range(0, len(words), limit):
                piece = words[j : j + limit]
                tail = j + limit >= len(words)
                yield _Unit(piece[0][0], piece[-1][1], len(piece), last and tail)


def _spans(
    text: str, separator: re.Pattern[str], start: int, end: int
) -> Iterator[tuple[int, int]]:
    """Non-blank stretches of ``text[start:end]`` between matches of ``separator``,
    trimmed of surrounding white space."""
    at = start
    for match in separator.finditer(text, start, end):
        yield from _trimmed(text, at, match.start())
        at = match.end()
    yield from _trimmed(text, at, end)


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end


def _windows(units: list[_Unit], limit: int, overlap: int) -> Iterator[tuple[int, int, int, int]]:
    """(first unit, last unit + 1, start offset, end offset) of each window."""
    first = 0
    while first < len(units):
        last, words = first, 0
        while last < len(units) and words + units[last].words <= limit:
            words += units[last].words
            last += 1
        last = max(last, first + 1)
        last = _prefer_paragraph_end(units, first, last, limit)
        yield first, last, units[first].start, units[last - 1].end
        if last >= len(units):
            return
        first = max(_overlap_start(units, first, last, overlap), first + 1)


def _prefer_paragraph_end(units: list[_Unit], first: int, last: int, limit: int) -> int:
    """Close the window at the last paragraph end in its second half, if there is one."""
    if last >= len(units) or units[last - 1].paragraph_end:
        return last
    words = 0
    best = None
    for i in range(first, last):
        words += units[i].words
        if units[i].paragraph_end and words >= limit // 2:
            best = i + 1
    return best or last


def _overlap_start(units: list[_Unit], first: int, last: int, overlap: int) -> int:
    """The first unit of the next window: the tail of this one, up to ``overlap`` words."""
    start, words = last, 0
    while start - 1 > first and words + units[start - 1].words <= overlap:
        start -= 1
        words += units[start].words
    return start
