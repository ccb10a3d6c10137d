"""Small bar charts for dataset profiles, as geometry a template draws as inline SVG.

Two shapes: a histogram (vertical bars, one per bin, with the bin edges under the axis)
and a top-values chart (horizontal bars, one per value, each as long as the value's share
of the rows). Pure: numbers in, rectangles and labels out, so it is unit-tested on its
own and the page needs no JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "Bar",
    "BarChart",
    "Label",
    "histogram_chart",
    "short_number",
    "shorten",
    "top_values_chart",
]

Anchor = Literal["start", "middle", "end"]
Formatter = Callable[[float], str]

HIST_W = 320
HIST_H = 112
HIST_AXIS = 18  # room under the bars for the edge labels
PAD = 4
GAP = 1  # between two histogram bars, so equal neighbours stay distinct
MIN_BAR = 1.0  # a bin or value with any rows stays visible, however small

TOP_W = 320
TOP_ROW = 18
TOP_ROW_GAP = 4
TOP_LABEL_W = 124  # the value names, left of the bars
TOP_COUNT_W = 84  # "12,345 · 56%" right of the longest possible bar
CHAR_W = 7.5  # average glyph width of the template's 11px sans-serif (DejaVu), generous
TOP_LIMIT = 10


@dataclass(frozen=True, slots=True)
class Bar:
    """A rectangle; (x, y) is its top-left corner. ``title`` is the hover text."""

    x: float
    y: float
    width: float
    height: float
    count: int
    title: str


@dataclass(frozen=True, slots=True)
class Label:
    """A text at (x, y) (its baseline), aligned on x by ``anchor`` as SVG's text-anchor."""

    x: float
    y: float
    text: str
    anchor: Anchor = "start"
    title: str = ""


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    labels: list[Label]
    axis_y: float | None = None  # where the baseline is drawn; None for horizontal bars

    @property
    def empty(self) -> bool:
        return not any(b.count for b in self.bars)


def short_number(value: Any) -> str:
    """A number as people scan it in a table: ``2019``, ``12,345``, ``57.88``, ``1.77e+15``."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size >= 1e15 or (0 < size < 1e-3):
        return f"{value:.3g}"
    # Thousands are grouped from five digits on: years and codes such as 2019 read better bare.
    grouping = "," if size >= 10_000 else ""
    if float(value).is_integer():
        return f"{int(value):{grouping}}"
    if size >= 100:
        return f"{value:{grouping}.1f}"
    return f"{value:.4g}"


def shorten(text: str, chars: int) -> str:
    """``text`` cut to ``chars`` characters, the cut shown by an ellipsis."""
    return text if len(text) <= chars else text[: max(chars - 1, 0)] + "…"


def histogram_chart(
    edges: Sequence[float | None],
    counts: Sequence[int],
    fmt: Formatter = short_number,
    width: int = HIST_W,
    height: int = HIST_H,
) -> BarChart:
    """Vertical bars, bin ``i`` spanning ``edges[i]`` to ``edges[i + 1]``.

    Bar heights are relative to the fullest bin, which fills the plot. A profile of a
    column with one distinct value has one bin and two equal edges: one full-width bar.
    """
    if len(edges) != len(counts) + 1:
        raise ValueError(
            f"A histogram needs one edge more than counts; got {len(edges)} edges and "
            f"{len(counts)} counts."
        )
    axis_y = float(height - HIST_AXIS)
    plot_w, plot_h = width - 2 * PAD, axis_y - PAD
    peak = max(counts, default=0)
    slot = plot_w / len(counts) if counts else plot_w
    bars = []
    for i, count in enumerate(counts):
        tall = _scaled(count, peak, plot_h)
        span = f"{_edge(edges[i], fmt)} to {_edge(edges[i + 1], fmt)}"
        bars.append(
            Bar(
                x=round(PAD + i * slot, 2),
                y=round(axis_y - tall, 2),
                width=round(max(slot - GAP, MIN_BAR), 2),
                height=round(tall, 2),
                count=count,
                title=f"{span}: {count:,} row{'s' if count != 1 else ''}",
            )
        )
    return BarChart(width, height, bars, _edge_labels(edges, fmt, width, height), axis_y)


def _scaled(count: int, peak: int, full: float) -> float:
    if count <= 0 or peak <= 0:
        return 0.0
    return max(full * count / peak, MIN_BAR)


def _edge(value: float | None, fmt: Formatter) -> str:
    return "—" if value is None else fmt(value)


def _edge_labels(
    edges: Sequence[float | None], fmt: Formatter, width: int, height: int
) -> list[Label]:
    # The outer edges at the corners; the middle one too when there is room (3+ bins).
    y = height - 4
    first, last = _edge(edges[0], fmt), _edge(edges[-1], fmt)
    if len(edges) <= 2 and first == last:
        return [Label(width / 2, y, first, "middle")]
    labels = [Label(PAD, y, first, "start"), Label(width - PAD, y, last, "end")]
    if len(edges) >= 4 and len(edges) % 2 == 1:
        middle = _edge(edges[len(edges) // 2], fmt)
        room = width / 2 - CHAR_W * max(len(first), len(last)) - 12
        if CHAR_W * len(middle) / 2 < room:
            labels.insert(1, Label(width / 2, y, middle, "middle"))
    return labels


def top_values_chart(
    top: Sequence[Mapping[str, Any]],
    total: int,
    limit: int = TOP_LIMIT,
    width: int = TOP_W,
) -> BarChart:
    """Horizontal bars for the most frequent values, each as long as its share of ``total``.

    ``top`` holds ``{"value", "count"}`` items, most frequent first (a profile's ``top``);
    ``total`` is the non-null row count. Bars show shares, not ranks: values that are each
    a sliver of the rows draw as slivers, which is what the column looks like.
    """
    shown = list(top)[:limit]
    # The name column is as wide as the longest name shown (up to a cap): short codes
    # leave the room to the bars.
    names = [_value_text(item["value"]) for item in shown]
    max_chars = int((TOP_LABEL_W - PAD) / CHAR_W)
    longest = max((len(shorten(n, max_chars)) for n in names), default=0)
    label_right = PAD + longest * CHAR_W
    bar_x = label_right + 6
    bar_w = width - bar_x - TOP_COUNT_W
    bars, labels = [], []
    for i, (item, value) in enumerate(zip(shown, names, strict=True)):
        count = int(item["count"])
        share = count / total if total > 0 else 0.0
        long = max(bar_w * min(share, 1.0), MIN_BAR) if count > 0 else 0.0
        y = PAD + i * (TOP_ROW + TOP_ROW_GAP)
        text_y = y + TOP_ROW - 5
        percent = f"{share:.0%}" if share >= 0.01 or share == 0 else "<1%"
        title = f"{value}: {count:,} row{'s' if count != 1 else ''} ({percent})"
        bars.append(Bar(round(bar_x, 2), y, round(long, 2), TOP_ROW, count, title))
        name = shorten(value, max_chars)
        labels.append(Label(round(label_right, 2), text_y, name, "end", title))
        labels.append(Label(round(bar_x + long + 4, 2), text_y, f"{count:,} · {percent}"))
    rows = len(shown) * (TOP_ROW + TOP_ROW_GAP) - TOP_ROW_GAP
    return BarChart(width, 2 * PAD + rows if shown else 0, bars, labels)


def _value_text(value: Any) -> str:
    if value is None:
        return "(null)"
    text = str(value)
    return text if text.strip() else repr(text)  # show "" and "  " as what they are
