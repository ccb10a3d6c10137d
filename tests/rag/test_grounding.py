"""Figures an answer invents are removed with their sentence."""

from __future__ import annotations

from passline.rag.grounding import NO_ANSWER, ground

SOURCES = "Every employee gets 25 days of paid leave. Home office kit: up to 400 EUR (2026)."


def test_grounded_figures_stay() -> None:
    text = "You get 25 days of leave [1]. The kit is refunded up to 400 EUR [2]."
    assert ground(text, SOURCES) == (text, [])


def test_invented_figures_go_with_their_sentence() -> None:
    text = "You get 25 days [1]. The CTO earns about €15,000 (2022). Ask HR for more."
    assert ground(text, SOURCES) == ("You get 25 days [1]. Ask HR for more.", ["15000", "2022"])


def test_an_answer_made_only_of_invention_becomes_no_answer() -> None:
    assert ground("The CTO earns 240,000 EUR.", SOURCES) == (NO_ANSWER, ["240000"])


def test_the_askers_own_figure_and_formats_of_the_same_number() -> None:
    assert ground("Yes, 185 000 EUR.", "", "Who earns 185,000 EUR?") == ("Yes, 185 000 EUR.", [])
    assert ground("It is 1.200 EUR [12].", "costs 1,200 EUR") == ("It is 1.200 EUR [12].", [])
    assert ground("Three days a week, 5 at most.", SOURCES)[1] == []  # one digit: not a figure
