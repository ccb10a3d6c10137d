"""Transcripts and requirement documents to numbered lines.

txt and md keep the file's own line numbers; vtt and srt subtitles keep the line number of
each cue's text (timestamps and cue numbers are dropped); docx is numbered by paragraph.
An empty source, an unreadable docx and a non-English transcript are refused with a message
that says so.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from passline.errors import InvalidInput

__all__ = ["SUPPORTED", "Source", "detect_language", "read_source"]

SUPPORTED = (".txt", ".md", ".vtt", ".srt", ".docx")
_TIMESTAMP = re.compile(r"^\s*(\d{1,2}:)?\d{1,2}:\d{2}[.,]\d{1,3}\s*-->\s*")
_VOICE = re.compile(r"^<v\s+([^>]+)>(.*?)(</v>)?$")
_TAGS = re.compile(r"</?[a-z][^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    """A source as numbered lines (1-based); ``lines[n - 1]`` is line ``n``."""

    name: str
    lines: tuple[str, ...]
    numbers: tuple[int, ...]  # the source line number of each entry of ``lines``
    digest: str

    def numbered(self) -> list[tuple[int, str]]:
        return [(n, t) for n, t in zip(self.numbers, self.lines, strict=True) if t.strip()]

    def text_of(self, numbers: list[int]) -> str:
        wanted = set(numbers)
        return "\n".join(t for n, t in self.numbered() if n in wanted)

    @property
    def text(self) -> str:
        return "\n".join(t for _, t in self.numbered())


def read_source(data: bytes | str, name: str = "transcript.txt") -> Source:
    """Parse ``data`` by the extension of ``name``; refuse empty and non-English sources."""
    raw = data.encode() if isinstance(data, str) else data
    suffix = PurePosixPath(name).suffix.lower() or ".txt"
    if suffix not in SUPPORTED:
        raise InvalidInput(
            f"{name}: cannot draft stories from {suffix} files; supported: {', '.join(SUPPORTED)}.",
            hint="Save the transcript as .txt, .md, .vtt, .srt or .docx.",
        )
    if not raw.strip():
        raise InvalidInput(f"{name} is empty: there is no transcript to draft stories from.")
    numbered = _docx(raw, name) if suffix == ".docx" else _text_lines(raw, name, suffix)
    if not any(t.strip() for _, t in numbered):
        raise InvalidInput(f"{name} has no text: there is no transcript to draft stories from.")
    language = detect_language(" ".join(t for _, t in numbered))
    if language != "en":
        raise InvalidInput(
            f"{name} does not look like English (it reads as {language}); stories are drafted "
            "from English sources only.",
            hint="Translate the transcript to English first.",
        )
    return Source(
        name=name,
        lines=tuple(t for _, t in numbered),
        numbers=tuple(n for n, _ in numbered),
        digest="sha256:" + hashlib.sha256(raw).hexdigest(),
    )


def _text_lines(raw: bytes, name: str, suffix: str) -> list[tuple[int, str]]:
    from passline.rag.parsers import parse_text

    text = parse_text(raw, name).text.replace("\r\n", "\n").replace("\r", "\n")
    lines = list(enumerate(text.split("\n"), start=1))
    if suffix in (".vtt", ".srt"):
        return _subtitles(lines)
    return [(n, line.rstrip()) for n, line in lines]


def _subtitles(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Cue text only, with ``<v Speaker>`` voices written as ``Speaker: text``."""
    out: list[tuple[int, str]] = []
    for number, line in lines:
        stripped = line.strip()
        if not stripped or stripped.isdigit() or _TIMESTAMP.match(stripped):
            continue
        if stripped.startswith(("WEBVTT", "NOTE", "STYLE", "REGION")):
            continue
        voice = _VOICE.match(stripped)
        if voice:
            stripped = f"{voice.group(1).strip()}: {voice.group(2).strip()}"
        out.append((number, _TAGS.sub("", stripped).strip()))
    return out


def _docx(raw: bytes, name: str) -> list[tuple[int, str]]:
    from passline.rag.parsers import parse_docx

    text = parse_docx(raw, name).text
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return list(enumerate(paragraphs, start=1))


_STOPWORDS = {
    "English": set(
        "the a an and or of to in is are was were it that this we i you they he she be have has "
        "for on with as at by not do does will would should can could need must so but if what "
        "our their there from about just yes no okay ok".split()
    ),
    "French": set(
        "le la les un une et ou de des du en est sont nous vous ils elle pour sur avec pas que "
        "qui ce cette il je dans au aux".split()
    ),
    "German": set(
        "der die das und oder ein eine ist sind wir ihr sie nicht mit für auf zu den dem des "
        "ich es auch dass wie".split()
    ),
    "Spanish": set(
        "el la los las un una y o de del en es son nosotros para con por que no se lo como "
        "pero muy más está".split()
    ),
}


def detect_language(text: str) -> str:
    """ "en" when English stopwords dominate; otherwise the language that reads best, by
    stopword ratio (short texts are taken as English)."""
    words = re.findall(r"[a-zà-ÿß]+", text.lower())
    if len(words) < 12:
        return "en"
    ratios = {lang: sum(w in stop for w in words) / len(words) for lang, stop in _STOPWORDS.items()}
    best = max(ratios, key=lambda lang: ratios[lang])
    if best == "English" or ratios["English"] >= 0.12:
        return "en"
    return best if ratios[best] >= 0.08 else "an unknown language"
