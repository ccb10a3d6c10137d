"""Small charts, as geometry a template draws as inline SVG.

A histogram (vertical bars, one per bin, with the bin edges under the axis) and a
top-values chart (horizontal bars, one per value, each as long as the value's share of the
rows) for dataset profiles; a line chart (one or more metric histories on shared axes) for
runs, or series over clock time (UTC) for an endpoint's traffic; and paired charts for
drift reports, which draw a reference and a current distribution side by side on shared
bins or categories; and a waterfall of a trace's spans (a bar per span on a shared time axis,
children under their parent). Pure: numbers in, rectangles, points and labels out, so it is
unit-tested on its own and the page needs no JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "PALETTE",
    "Bar",
    "BarChart",
    "IntervalChart",
    "Label",
    "Line",
    "LineChart",
    "Marker",
    "PairedChart",
    "Plot",
    "SPAN_KINDS",
    "Series",
    "SpanBar",
    "Waterfall",
    "finite",
    "histogram_chart",
    "interval_chart",
    "interval_span",
    "line_chart",
    "nice_ticks",
    "paired_bars_chart",
    "paired_histogram_chart",
    "rate_bars_chart",
    "share_text",
    "short_number",
    "shorten",
    "span_tree",
    "tick_text",
    "time_ticks",
    "top_values_chart",
    "waterfall_chart",
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


# --- line charts ------------------------------------------------------------------------------

LINE_W = 560
LINE_H = 220
LINE_TOP = 10
LINE_RIGHT = 16  # room for half of the last step label
LINE_AXIS = 22  # room under the plot for the step labels
TICK_GAP = 6  # between a value label and the plot
MARKERS_MAX = 60  # points drawn as hoverable dots, up to this many per line
#: Line colours, distinct for the usual colour-vision deficiencies (Okabe-Ito, darkened).
PALETTE = (
    "#2f6fde",
    "#d55e00",
    "#009e73",
    "#cc79a7",
    "#b8860b",
    "#56b4e9",
    "#7a4fb8",
    "#4d4d4d",
)


@dataclass(frozen=True, slots=True)
class Series:
    """A named line: ``(x, value)`` points in drawing order. A value may be a float or a
    metric as JSON carries it (``"NaN"``, ``"Infinity"``, ``"-Infinity"``)."""

    name: str
    points: Sequence[tuple[float, Any]]


@dataclass(frozen=True, slots=True)
class Marker:
    """A dot on a line at (x, y); ``title`` is the hover text."""

    x: float
    y: float
    title: str


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    color: str
    points: list[tuple[float, float]]  # drawing coordinates, in order
    markers: list[Marker]
    drawn: int  # finite points in the data (before thinning to the drawing's width)
    skipped: int  # NaN and infinite points, which cannot be drawn

    @property
    def path(self) -> str:
        """The points as SVG's ``<polyline points>`` wants them."""
        return " ".join(f"{x},{y}" for x, y in self.points)


@dataclass(frozen=True, slots=True)
class Plot:
    """The data area inside the drawing (axes and labels lie outside it)."""

    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True, slots=True)
class LineChart:
    width: int
    height: int
    plot: Plot
    lines: list[Line]
    x_labels: list[Label]
    y_labels: list[Label]
    y_grid: list[float]  # drawing y of each value label's grid line
    x_title: str

    @property
    def skipped(self) -> int:
        return sum(line.skipped for line in self.lines)

    @property
    def empty(self) -> bool:
        return not any(line.drawn for line in self.lines)


def finite(value: Any) -> float | None:
    """A metric value as a float, or None for NaN, infinities and anything not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return None  # "NaN", "Infinity", "-Infinity": what JSON carries instead of them
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def nice_ticks(lo: float, hi: float, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten apart) covering [lo, hi].

    About ``count`` ticks; the first is at or below ``lo``, the last at or above ``hi``.
    With ``integer``, ticks are whole numbers (steps of a training loop).
    """
    lo, hi = min(lo, hi), max(lo, hi)
    if hi == lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = 10 * magnitude
    for multiple in (1, 2, 2.5, 5, 10):
        candidate = multiple * magnitude
        if integer and not float(candidate).is_integer():
            continue
        if candidate >= raw * (1 - 1e-9):
            step = candidate
            break
    if integer:
        step = max(step, 1)
    start = math.floor(lo / step + 1e-9)
    end = math.ceil(hi / step - 1e-9)
    return [_clean(i * step) for i in range(start, end + 1)]


def _clean(value: float) -> float:
    # 3 * 0.1 is 0.30000000000000004: round away what binary fractions add.
    return float(f"{value:.12g}")


def tick_text(value: float, step: float) -> str:
    """A tick label with just the decimals its step needs: ``0.84``, ``1,200``, ``2.5e-07``."""
    if step <= 0 or not math.isfinite(step):
        return short_number(value)
    if value != 0 and (abs(value) >= 1e15 or step < 1e-6):
        return f"{value:.3g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    fraction = step * 10**decimals % 1
    if min(fraction, 1 - fraction) > 1e-6:  # steps of 2.5 need one decimal more
        decimals += 1
    if decimals == 0:
        return short_number(round(value))
    return f"{value:.{decimals}f}"


def line_chart(
    series: Sequence[Series],
    width: int = LINE_W,
    height: int = LINE_H,
    x_title: str = "step",
    *,
    x_span: tuple[float, float] | None = None,
    time_axis: bool = False,
    from_zero: bool = False,
) -> LineChart:
    """Lines of ``(x, value)`` points on shared axes: one per series, coloured in turn.

    NaN and infinite values are left out of the lines and counted (``Line.skipped``). The
    x axis spans the points exactly, or ``x_span`` when given (points outside it are left
    out); the value axis is widened to round ticks, and starts at 0 with ``from_zero`` when
    no value is negative (counts, rates, latencies). With ``time_axis``, x is epoch seconds
    and is labelled by the clock (UTC). A line of more points than the drawing has pixels
    is thinned to each pixel column's lowest and highest point, so its shape survives; up
    to ``MARKERS_MAX`` points get a hover dot.
    """
    clean: list[list[tuple[float, float]]] = []
    skipped: list[int] = []
    for s in series:
        kept = []
        for x, v in s.points:
            fx, fv = finite(x), finite(v)
            if fx is not None and fv is not None:
                kept.append((fx, fv))
        clean.append(kept)
        skipped.append(len(s.points) - len(kept))
    if x_span is not None:
        clean = [[(x, v) for x, v in points if x_span[0] <= x <= x_span[1]] for points in clean]
    xs = [x for points in clean for x, _ in points]
    ys = [y for points in clean for _, y in points]
    if not xs:
        plot = Plot(PAD, LINE_TOP, width - LINE_RIGHT, height - LINE_AXIS)
        lines = [
            Line(s.name, PALETTE[i % len(PALETTE)], [], [], 0, skipped[i])
            for i, s in enumerate(series)
        ]
        return LineChart(width, height, plot, lines, [], [], [], x_title)

    y_ticks, y_step = _value_ticks(min(ys), max(ys), from_zero)
    y_texts = [tick_text(t, y_step) for t in y_ticks]
    left = PAD + CHAR_W * max(len(t) for t in y_texts) + TICK_GAP
    plot = Plot(round(left, 2), LINE_TOP, width - LINE_RIGHT, height - LINE_AXIS)
    x_lo, x_hi = x_span if x_span is not None else (min(xs), max(xs))
    x_ticks, x_texts, point_text = _x_axis(xs, x_lo, x_hi, x_title, time_axis)
    if x_hi == x_lo:  # one step: the points stand in the middle
        x_lo, x_hi = x_lo - 1, x_hi + 1

    def sx(x: float) -> float:
        return round(plot.left + (x - x_lo) / (x_hi - x_lo) * (plot.right - plot.left), 2)

    y_lo, y_hi = y_ticks[0], y_ticks[-1]

    def sy(y: float) -> float:
        return round(plot.bottom - (y - y_lo) / (y_hi - y_lo) * (plot.bottom - plot.top), 2)

    lines = []
    for i, (s, points) in enumerate(zip(series, clean, strict=True)):
        drawn = [(sx(x), sy(y)) for x, y in points]
        markers = []
        if len(points) <= MARKERS_MAX:
            markers = [
                Marker(px, py, f"{s.name} · {point_text(x)}: {y:.6g}")
                for (px, py), (x, y) in zip(drawn, points, strict=True)
            ]
        thinned = _thin(drawn, int(plot.right - plot.left))
        lines.append(
            Line(s.name, PALETTE[i % len(PALETTE)], thinned, markers, len(points), skipped[i])
        )

    y_labels = [
        Label(round(plot.left - TICK_GAP, 2), round(sy(t) + 4, 2), text, "end")
        for t, text in zip(y_ticks, y_texts, strict=True)
    ]
    x_labels = _x_labels(
        [(sx(t), text) for t, text in zip(x_ticks, x_texts, strict=True)], width, height
    )
    return LineChart(
        width, height, plot, lines, x_labels, y_labels, [sy(t) for t in y_ticks], x_title
    )


def _x_axis(
    xs: list[float], lo: float, hi: float, x_title: str, time_axis: bool
) -> tuple[list[float], list[str], Formatter]:
    """Where the x ticks go, their labels, and how a point's x reads in its hover text."""
    if time_axis:
        ticks, step = time_ticks(lo, hi)
        return ticks, [_clock(t, step) for t in ticks], _minute
    integer = all(float(x).is_integer() for x in xs)
    ticks = [t for t in nice_ticks(lo, hi, 6, integer) if lo <= t <= hi]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    return ticks, [tick_text(t, step) for t in ticks], lambda x: f"{x_title} {short_number(x)}"


def _value_ticks(lo: float, hi: float, from_zero: bool = False) -> tuple[list[float], float]:
    if from_zero and lo >= 0:
        lo, hi = 0.0, hi or 1.0  # all zeros: a line along the bottom of a 0-1 axis
    if hi == lo:  # a flat line sits in the middle of a small range around it
        spread = abs(lo) * 0.1 or 1.0
        lo, hi = lo - spread, hi + spread
    ticks = nice_ticks(lo, hi, 5)
    return ticks, ticks[1] - ticks[0]


#: Steps between clock ticks, in seconds: 1, 2, 5, 10, 15, 30 minutes; 1, 2, 3, 6, 12 hours;
#: 1, 2, 7 days.
TIME_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
DAY = 86400


def time_ticks(lo: float, hi: float, count: int = 6) -> tuple[list[float], float]:
    """Round clock times (epoch seconds, UTC) in [lo, hi], at most about ``count`` of them,
    and the step between them: every 10 minutes over an hour, every 6 hours over a day."""
    span = max(hi - lo, 0.0)
    step = next((s for s in TIME_STEPS if span / s <= count), TIME_STEPS[-1])
    first = math.ceil(lo / step) * step
    return [float(t) for t in range(int(first), int(hi) + 1, step)], float(step)


def _clock(epoch: float, step: float) -> str:
    """A clock tick as people read it: ``07:40``; the date (``11-30``) at midnight."""
    moment = datetime.fromtimestamp(epoch, UTC)
    if step >= DAY or (moment.hour == 0 and moment.minute == 0):
        return moment.strftime("%m-%d")
    return moment.strftime("%H:%M")


def _minute(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _x_labels(ticks: list[tuple[float, str]], width: int, height: int) -> list[Label]:
    # Centred under their tick; the outer ones are pulled inside the drawing.
    y = height - 6
    labels = []
    for x, text in ticks:
        half = CHAR_W * len(text) / 2
        if x + half > width:
            labels.append(Label(width - 1, y, text, "end"))
        elif x - half < 0:
            labels.append(Label(1, y, text, "start"))
        else:
            labels.append(Label(x, y, text, "middle"))
    return labels


def _thin(points: list[tuple[float, float]], columns: int) -> list[tuple[float, float]]:
    """At most two points per pixel column (its lowest and highest, in order)."""
    if len(points) <= 2 * max(columns, 1):
        return points
    out: list[tuple[float, float]] = []
    column: list[tuple[float, float]] = []
    for point in points:
        if column and int(point[0]) != int(column[0][0]):
            out.extend(_extremes(column))
            column = []
        column.append(point)
    out.extend(_extremes(column))
    return out


def _extremes(column: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(column) <= 2:
        return column
    low = min(range(len(column)), key=lambda i: column[i][1])
    high = max(range(len(column)), key=lambda i: column[i][1])
    return [column[i] for i in sorted({low, high})]


# --- paired charts: a reference and a current side on shared axes --------------------------------

PAIR_W = 420
PAIR_H = 132
PAIR_BAR = 8  # height of each side's bar in a category row
PAIR_BAR_GAP = 2  # between the reference's bar and the current's in a row
PAIR_ROW_GAP = 6  # between two category rows
PAIR_TEXT_W = 92  # "100% → 100%" right of the bars
SIDES = ("reference", "current")


@dataclass(frozen=True, slots=True)
class PairedChart:
    """Two sides of one distribution drawn together: ``reference[i]`` and ``current[i]``
    are the same bin or category. ``axis_y`` is set for vertical bars (a histogram)."""

    width: int
    height: int
    reference: list[Bar]
    current: list[Bar]
    labels: list[Label]
    axis_y: float | None = None
    peak: float = 0.0  # the largest share of either side, which fills the plot

    @property
    def empty(self) -> bool:
        return self.peak <= 0

    @property
    def peak_text(self) -> str:
        return share_text(self.peak)


def share_text(share: float) -> str:
    """A share of rows as a percentage, small ones to a tenth: ``38%``, ``4.5%``, ``<0.1%``."""
    if share <= 0:
        return "0%"
    if share < 0.001:
        return "<0.1%"
    return f"{share:.1%}" if share < 0.0995 else f"{share:.0%}"


def _shares(counts: Sequence[float]) -> list[float]:
    total = sum(counts)
    return [c / total if total > 0 else 0.0 for c in counts]


def paired_histogram_chart(
    edges: Sequence[float | None],
    reference: Sequence[int],
    current: Sequence[int],
    fmt: Formatter = short_number,
    width: int = PAIR_W,
    height: int = PAIR_H,
) -> PairedChart:
    """Two bars per bin, the reference's left of the current's, on shared bins.

    Each side is drawn as shares of its own rows (the two sides seldom have as many), so
    equal distributions draw equal bars; the largest share of either side fills the plot.
    """
    if not len(reference) == len(current) == len(edges) - 1:
        raise ValueError(
            f"A paired histogram needs one edge more than counts on each side; got "
            f"{len(edges)} edges, {len(reference)} reference and {len(current)} current counts."
        )
    axis_y = float(height - HIST_AXIS)
    plot_w, plot_h = width - 2 * PAD, axis_y - PAD
    shares = {"reference": _shares(reference), "current": _shares(current)}
    peak = max(max(s, default=0.0) for s in shares.values())
    counts = {"reference": reference, "current": current}
    slot = plot_w / len(reference) if reference else plot_w
    bar_w = max((slot - GAP) / 2, MIN_BAR / 2)
    bars: dict[str, list[Bar]] = {"reference": [], "current": []}
    for i in range(len(reference)):
        span = f"{_edge(edges[i], fmt)} to {_edge(edges[i + 1], fmt)}"
        for side_index, side in enumerate(SIDES):
            share, count = shares[side][i], int(counts[side][i])
            tall = _scaled_share(share, peak, plot_h)
            rows = f"{count:,} row{'s' if count != 1 else ''}"
            bars[side].append(
                Bar(
                    x=round(PAD + i * slot + side_index * bar_w, 2),
                    y=round(axis_y - tall, 2),
                    width=round(bar_w, 2),
                    height=round(tall, 2),
                    count=count,
                    title=f"{span} · {side}: {share_text(share)} ({rows})",
                )
            )
    labels = _edge_labels(edges, fmt, width, height)
    return PairedChart(width, height, bars["reference"], bars["current"], labels, axis_y, peak)


def _scaled_share(share: float, peak: float, full: float) -> float:
    if share <= 0 or peak <= 0:
        return 0.0
    return max(full * share / peak, MIN_BAR)


def paired_bars_chart(
    categories: Mapping[str, Sequence[float]],
    values: tuple[int, int] | None = None,
    width: int = PAIR_W,
) -> PairedChart:
    """A row per category with two horizontal bars, the reference's above the current's.

    ``categories`` maps a value to ``[reference share, current share]``, in the order to
    draw (a drift report's ``distribution["categories"]``). Bars are scaled so that the
    largest share of either side fills the row, and both shares are written right of the
    bars. With ``values`` (each side's non-null rows), a bar's ``count`` and hover text
    give its rows; without, ``count`` is 1 for a bar with any share and 0 for none.
    """
    names = [_value_text(name) for name in categories]
    max_chars = int((TOP_LABEL_W - PAD) / CHAR_W)
    longest = max((len(shorten(n, max_chars)) for n in names), default=0)
    label_right = PAD + longest * CHAR_W
    bar_x = label_right + 6
    bar_w = width - bar_x - PAIR_TEXT_W
    pairs = [(float(a), float(b)) for a, b in categories.values()]
    peak = max((share for pair in pairs for share in pair), default=0.0)
    row_h = 2 * PAIR_BAR + PAIR_BAR_GAP
    bars: dict[str, list[Bar]] = {"reference": [], "current": []}
    labels = []
    for i, (name, pair) in enumerate(zip(names, pairs, strict=True)):
        y = PAD + i * (row_h + PAIR_ROW_GAP)
        for side_index, side in enumerate(SIDES):
            share = pair[side_index]
            count = round(share * values[side_index]) if values else int(share > 0)
            rows = f" ({count:,} row{'s' if count != 1 else ''})" if values else ""
            long = _scaled_share(share, peak, bar_w)
            title = f"{name} · {side}: {share_text(share)}{rows}"
            bar_y = y + side_index * (PAIR_BAR + PAIR_BAR_GAP)
            bars[side].append(Bar(round(bar_x, 2), bar_y, round(long, 2), PAIR_BAR, count, title))
        shares = f"{share_text(pair[0])} → {share_text(pair[1])}"
        text_y = y + row_h - 5
        full = f"{name}: {shares}"
        labels.append(Label(round(label_right, 2), text_y, shorten(name, max_chars), "end", full))
        labels.append(Label(round(bar_x + bar_w + 6, 2), text_y, shares, "start", full))
    height = 2 * PAD + len(names) * (row_h + PAIR_ROW_GAP) - PAIR_ROW_GAP if names else 0
    return PairedChart(width, height, bars["reference"], bars["current"], labels, None, peak)


# --- span waterfalls ------------------------------------------------------------------------

WATERFALL_W = 960
WATERFALL_LABEL_W = 260  # span names, indented by depth, left of the time axis
WATERFALL_ROW = 24
WATERFALL_BAR = 14
WATERFALL_AXIS = 22  # room above the rows for the time labels
WATERFALL_INDENT = 14
WATERFALL_TEXT_W = 90  # "12,345.6 ms" beside a bar
#: Span kinds with a colour of their own; any other kind is drawn as "other".
SPAN_KINDS = ("chat", "retrieval", "guard")


@dataclass(frozen=True, slots=True)
class SpanBar:
    """A span's row of a waterfall: its name (indented by depth), its bar, its duration."""

    id: str
    kind: str  # one of SPAN_KINDS, or "other": safe as a CSS class
    status: str
    depth: int
    top: float  # the row's top edge (rows are WATERFALL_ROW high)
    bar: Bar  # ``title``: the hover text the caller described
    name: Label
    took: Label


@dataclass(frozen=True, slots=True)
class Waterfall:
    width: int
    height: int
    plot: Plot  # the time axis runs from plot.left (0 ms) to plot.right (total_ms)
    rows: list[SpanBar]
    ticks: list[Label]
    grid: list[float]  # drawing x of each tick's line
    total_ms: float


def span_tree(spans: Sequence[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    """Spans as (depth, span), each parent followed by its children, siblings in start order.

    A span whose parent is not among ``spans`` (a partial OTLP batch) is a root; spans caught
    in a parent cycle are shown too, as roots, so every span appears exactly once.
    """
    ids = {s["id"] for s in spans}
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for span in spans:
        parent = span.get("parent_id")
        key = parent if parent in ids and parent != span["id"] else None
        children.setdefault(key, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: float(s.get("offset_ms") or 0.0))
    ordered: list[tuple[int, Mapping[str, Any]]] = []
    seen: set[str] = set()
    pending = [(0, s) for s in reversed(children.get(None, []))]
    leftovers = sorted(spans, key=lambda s: float(s.get("offset_ms") or 0.0), reverse=True)
    while pending or leftovers:
        if not pending:  # only cycles remain: start again from the earliest unseen span
            span = leftovers.pop()
            if span["id"] not in seen:
                pending.append((0, span))
            continue
        depth, span = pending.pop()
        if span["id"] in seen:
            continue
        seen.add(span["id"])
        ordered.append((depth, span))
        pending += [(depth + 1, c) for c in reversed(children.get(span["id"], []))]
    return ordered


def waterfall_chart(
    spans: Sequence[Mapping[str, Any]],
    total_ms: float | None = None,
    describe: Callable[[Mapping[str, Any]], str] | None = None,
    width: int = WATERFALL_W,
) -> Waterfall:
    """Horizontal bars on a shared time axis, one row per span (``span_tree`` order).

    A span is a mapping with ``id``, ``parent_id``, ``name``, ``kind``, ``offset_ms`` (from
    the trace's start), ``duration_ms`` and ``status``. The axis spans ``total_ms`` or the
    latest span end, whichever is later; a bar is at least ``MIN_BAR`` wide, so an instant
    span stays visible. ``describe`` gives each bar's hover text (default: its timing).
    """
    rows = span_tree(spans)
    ends = [_offset(s) + _took(s) for _, s in rows]
    total = max([float(total_ms or 0.0), *ends, 0.0]) or 1.0
    height = WATERFALL_AXIS + len(rows) * WATERFALL_ROW + PAD
    plot = Plot(WATERFALL_LABEL_W, WATERFALL_AXIS, width - WATERFALL_TEXT_W, height - PAD)
    scale = (plot.right - plot.left) / total
    describe = describe or _span_timing
    bars = []
    for i, (depth, span) in enumerate(rows):
        y = WATERFALL_AXIS + i * WATERFALL_ROW
        x = plot.left + _offset(span) * scale
        long = max(_took(span) * scale, MIN_BAR)
        middle = y + WATERFALL_ROW / 2
        indent = PAD + min(depth, 8) * WATERFALL_INDENT
        chars = int((plot.left - indent - 8) / CHAR_W)
        name = str(span.get("name") or "")
        took = f"{short_number(round(_took(span), 1))} ms"
        kind = str(span.get("kind") or "")
        bars.append(
            SpanBar(
                id=str(span["id"]),
                kind=kind if kind in SPAN_KINDS else "other",
                status=str(span.get("status") or ""),
                depth=depth,
                top=y,
                bar=Bar(
                    round(x, 2),
                    round(middle - WATERFALL_BAR / 2, 2),
                    round(long, 2),
                    WATERFALL_BAR,
                    1,
                    describe(span),
                ),
                name=Label(indent, round(middle + 4, 2), shorten(name, chars), "start", name),
                took=_took_label(x, long, middle, took, plot),
            )
        )
    ticks = [t for t in nice_ticks(0.0, total, 6) if t <= total * (1 + 1e-9)]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else total
    tick_x = [round(plot.left + t * scale, 2) for t in ticks]
    labels = [
        Label(x, WATERFALL_AXIS - 8, f"{tick_text(t, step)} ms", "middle")
        for x, t in zip(tick_x, ticks, strict=True)
    ]
    return Waterfall(width, height, plot, bars, labels, tick_x, total)


def _offset(span: Mapping[str, Any]) -> float:
    return max(finite(span.get("offset_ms")) or 0.0, 0.0)


def _took(span: Mapping[str, Any]) -> float:
    return max(finite(span.get("duration_ms")) or 0.0, 0.0)


def _span_timing(span: Mapping[str, Any]) -> str:
    return (
        f"{span.get('name')} ({span.get('kind')}): starts at "
        f"{short_number(round(_offset(span), 1))} ms, "
        f"takes {short_number(round(_took(span), 1))} ms"
    )


def _took_label(x: float, long: float, middle: float, text: str, plot: Plot) -> Label:
    # Right of the bar; a bar that ends near the axis's end gets it on its left instead.
    y = round(middle + 4, 2)
    if x + long + 6 + CHAR_W * len(text) <= plot.right + WATERFALL_TEXT_W:
        return Label(round(x + long + 6, 2), y, text, "start")
    return Label(round(x - 6, 2), y, text, "end")


# --- intervals around zero and rates as bars ------------------------------------------------

INTERVAL_W = 220
INTERVAL_H = 30
INTERVAL_PAD = 10  # room beside the scale's ends for the whiskers' caps
INTERVAL_AXIS_Y = 12  # the scale's line; the tick labels sit under it


@dataclass(frozen=True, slots=True)
class IntervalChart:
    """A difference and its confidence interval on a scale from ``-span`` to ``+span``, with
    the zero line marked: an interval wholly left of it is a significant drop."""

    width: int
    height: int
    axis_y: float
    left: float  # drawing x of -span
    right: float  # drawing x of +span
    zero_x: float
    low_x: float
    high_x: float
    diff_x: float
    labels: list[Label]
    title: str


def interval_span(bounds: Sequence[float | None]) -> float:
    """A round half-width of a scale that holds every bound (and 0): ``0.5``, ``0.02``."""
    largest = max((abs(b) for b in bounds if finite(b) is not None), default=0.0)
    if largest == 0:
        return 1.0
    return nice_ticks(0.0, largest, 3)[-1]


def interval_chart(
    low: float,
    high: float,
    diff: float,
    span: float,
    width: int = INTERVAL_W,
    height: int = INTERVAL_H,
) -> IntervalChart:
    """``diff`` with its interval [``low``, ``high``] on a symmetric scale of half-width
    ``span`` (share one span across rows so that their intervals compare at a glance);
    values beyond the scale are drawn at its ends."""
    span = span if span > 0 else 1.0
    left, right = float(INTERVAL_PAD), float(width - INTERVAL_PAD)

    def sx(value: float) -> float:
        clipped = min(max(value, -span), span)
        return round(left + (clipped + span) / (2 * span) * (right - left), 2)

    text = tick_text(span, span)
    y = height - 2
    labels = [
        Label(left, y, f"-{text}", "start"),
        Label(sx(0.0), y, "0", "middle"),
        Label(right, y, f"+{text}", "end"),
    ]
    title = f"{diff:+.3g}, interval [{low:+.3g}, {high:+.3g}]"
    return IntervalChart(
        width,
        height,
        float(INTERVAL_AXIS_Y),
        left,
        right,
        sx(0.0),
        sx(low),
        sx(high),
        sx(diff),
        labels,
        title,
    )


RATE_W = 560
RATE_LABEL_W = 210  # names such as "Markdown-image exfiltration", left of the bars
RATE_ROW = 18
RATE_ROW_GAP = 4
RATE_TEXT_W = 96  # "100% · 12/12" right of the longest possible bar


def rate_bars_chart(
    rows: Sequence[tuple[str, float | None, str]],
    width: int = RATE_W,
    label_width: int = RATE_LABEL_W,
) -> BarChart:
    """A horizontal bar per ``(name, rate, text)``, as long as the rate (0 to 1, the full
    width at 1); ``text`` is written right of the bar. A rate of None (nothing to count)
    draws no bar. The bars share one scale, so a rate reads the same in every row."""
    max_chars = int((label_width - PAD) / CHAR_W)
    longest = max((len(shorten(name, max_chars)) for name, _, _ in rows), default=0)
    label_right = PAD + longest * CHAR_W
    bar_x = label_right + 6
    bar_w = width - bar_x - RATE_TEXT_W
    bars, labels = [], []
    for i, (name, rate, text) in enumerate(rows):
        y = PAD + i * (RATE_ROW + RATE_ROW_GAP)
        share = min(max(finite(rate) or 0.0, 0.0), 1.0)
        long = max(bar_w * share, MIN_BAR) if share > 0 else 0.0
        title = f"{name}: {text}"
        bars.append(Bar(round(bar_x, 2), y, round(long, 2), RATE_ROW, int(share > 0), title))
        text_y = y + RATE_ROW - 5
        labels.append(Label(round(label_right, 2), text_y, shorten(name, max_chars), "end", title))
        labels.append(Label(round(bar_x + long + 4, 2), text_y, text))
    rows_h = len(rows) * (RATE_ROW + RATE_ROW_GAP) - RATE_ROW_GAP
    return BarChart(width, 2 * PAD + rows_h if rows else 0, bars, labels)
