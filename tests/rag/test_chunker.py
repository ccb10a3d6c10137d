"""Chunks keep their offsets, respect the size, overlap, and cut at natural boundaries."""

from __future__ import annotations

import re

import pytest

from passline.errors import InvalidInput
from passline.rag import chunk_text

TEXT = (
    "# Leave policy\n\n"
    "Every employee gets 25 days of paid leave a year. Unused days expire on 31 March.\n\n"
    "- Sick leave: a note after three days.\n- Parental leave: 16 weeks.\n\n"
    + " ".join(f"Rule {i} says something about leave." for i in range(120))
)


def words(text: str) -> int:
    return len(text.split())


def test_offsets_point_at_the_chunk_text() -> None:
    chunks = chunk_text(TEXT, chunk_tokens=50)
    assert len(chunks) > 5
    for i, c in enumerate(chunks):
        assert c.index == i
        assert TEXT[c.start : c.end] == c.text
        assert c.words == words(c.text) <= 50
        assert not c.text[0].isspace() and not c.text[-1].isspace()


def test_every_word_is_in_some_chunk_and_neighbours_overlap() -> None:
    chunks = chunk_text(TEXT, chunk_tokens=50, overlap=10)
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    for match in re.finditer(r"\S+", TEXT):
        assert match.start() in covered
    overlapping = [a for a, b in zip(chunks, chunks[1:], strict=False) if b.start < a.end]
    assert len(overlapping) >= len(chunks) // 2
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start > a.start  # always moves forward
        assert words(TEXT[b.start : a.end]) <= 10 if b.start < a.end else True


def test_cuts_fall_between_sentences_and_paragraphs() -> None:
    chunks = chunk_text(TEXT, chunk_tokens=50)
    assert chunks[0].text.endswith("16 weeks.")  # the first paragraph break after half
    for c in chunks[1:]:
        assert c.text[-1] in ".:" or c is chunks[-1]
        assert c.text.startswith(("Rule", "- ", "Every"))


def test_a_sentence_longer_than_a_chunk_is_cut_between_words() -> None:
    text = " ".join(f"w{i}" for i in range(130)) + "."
    chunks = chunk_text(text, chunk_tokens=50, overlap=0)
    assert [c.words for c in chunks] == [50, 50, 30]
    assert "".join(c.text + " " for c in chunks).strip() == text


def test_short_text_is_one_chunk() -> None:
    [only] = chunk_text("Just one line.", chunk_tokens=200)
    assert (only.start, only.end, only.text) == (0, 14, "Just one line.")


@pytest.mark.parametrize(
    ("size", "overlap", "message"),
    [(5, None, "'chunk_tokens' must be an integer in \\[20, 2000\\]. Got 5"),
     (100, 60, "'overlap' must be in \\[0, 50\\) words. Got 60")],
)  # fmt: skip
def test_bad_sizes_name_the_parameter(size: int, overlap: int | None, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        chunk_text(TEXT, size, overlap)
