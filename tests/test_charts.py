"""Chart geometry: bars inside the drawing, in proportion, labelled and titled; metric
lines on shared axes with round ticks, NaN and infinities left out and counted."""

from __future__ import annotations

import math

import pytest

from passline.server.charts import (
    CHAR_W,
    HIST_AXIS,
    MIN_BAR,
    PAD,
    PALETTE,
    BarChart,
    LineChart,
    PairedChart,
    Series,
    finite,
    histogram_chart,
    line_chart,
    nice_ticks,
    paired_bars_chart,
    paired_histogram_chart,
    share_text,
    short_number,
    shorten,
    tick_text,
    top_values_chart,
)


def inside(chart: BarChart) -> bool:
    return all(
        b.x >= 0 and b.y >= 0 and b.x + b.width <= chart.width and b.y + b.height <= chart.height
        for b in chart.bars
    )


def edges(lo: float, hi: float, bins: int) -> list[float]:
    return [lo + (hi - lo) * i / bins for i in range(bins + 1)]


# --- histogram ------------------------------------------------------------------------------


def test_histogram_bars_are_in_order_proportional_and_on_the_axis() -> None:
    counts = [1, 4, 2, 0, 8] * 4
    chart = histogram_chart(edges(0, 100, 20), counts)
    assert len(chart.bars) == 20 and inside(chart)
    assert [b.count for b in chart.bars] == counts
    xs = [b.x for b in chart.bars]
    assert xs == sorted(xs) and xs[0] == PAD
    assert all(b.y + b.height == pytest.approx(chart.axis_y) for b in chart.bars)
    assert chart.axis_y == chart.height - HIST_AXIS
    tallest = max(b.height for b in chart.bars)
    assert tallest == pytest.approx(chart.axis_y - PAD)  # the fullest bin fills the plot
    assert chart.bars[1].height == pytest.approx(tallest / 2)  # 4 of 8
    assert chart.bars[3].height == 0  # an empty bin draws nothing


def test_histogram_bars_do_not_overlap() -> None:
    chart = histogram_chart(edges(0, 1, 20), [5] * 20)
    for left, right in zip(chart.bars, chart.bars[1:], strict=False):
        assert left.x + left.width < right.x
    assert chart.bars[-1].x + chart.bars[-1].width <= chart.width - PAD + 0.01


def test_a_tiny_bin_stays_visible() -> None:
    chart = histogram_chart(edges(0, 10, 2), [1, 100_000])
    assert chart.bars[0].height == MIN_BAR


def test_histogram_titles_give_the_span_and_count() -> None:
    chart = histogram_chart([0.0, 0.5, 1.0], [1, 12])
    assert chart.bars[0].title == "0 to 0.5: 1 row"
    assert chart.bars[1].title == "0.5 to 1: 12 rows"


def test_histogram_labels_the_outer_edges_and_the_middle_when_it_fits() -> None:
    chart = histogram_chart(edges(0, 200, 20), [1] * 20)
    assert [(lb.text, lb.anchor) for lb in chart.labels] == [
        ("0", "start"),
        ("100", "middle"),
        ("200", "end"),
    ]
    assert chart.labels[0].x == PAD and chart.labels[-1].x == chart.width - PAD
    assert all(lb.y > chart.axis_y for lb in chart.labels)  # under the bars


def test_histogram_drops_the_middle_label_when_the_edges_are_long() -> None:
    long = histogram_chart(edges(0, 10, 20), [1] * 20, fmt=lambda v: f"{v:.0f}".rjust(22, "x"))
    assert [lb.anchor for lb in long.labels] == ["start", "end"]


def test_histogram_formats_edges_with_the_given_formatter() -> None:
    chart = histogram_chart([0.0, 1.0], [3], fmt=lambda v: f"day {v:.0f}")
    assert [lb.text for lb in chart.labels] == ["day 0", "day 1"]
    assert chart.bars[0].title == "day 0 to day 1: 3 rows"


def test_a_column_with_one_value_is_one_full_width_bar() -> None:
    chart = histogram_chart([7.0, 7.0], [50])
    (bar,) = chart.bars
    assert bar.x == PAD and bar.width == pytest.approx(chart.width - 2 * PAD - 1)
    assert [(lb.text, lb.anchor) for lb in chart.labels] == [("7", "middle")]


def test_an_empty_histogram_is_empty() -> None:
    chart = histogram_chart([None, None], [0])
    assert chart.empty and chart.bars[0].height == 0
    assert chart.labels[0].text == "—"


def test_histogram_needs_one_edge_more_than_counts() -> None:
    with pytest.raises(ValueError, match="one edge more than counts"):
        histogram_chart([0.0, 1.0], [1, 2])


# --- top values -----------------------------------------------------------------------------


TOP = [{"value": "s0", "count": 60}, {"value": "s1", "count": 30}, {"value": "s2", "count": 10}]


def test_top_values_are_rows_of_bars_as_long_as_their_share() -> None:
    chart = top_values_chart(TOP, total=100)
    assert inside(chart) and chart.axis_y is None
    first, second, third = chart.bars
    assert first.y < second.y < third.y and first.x == second.x == third.x
    assert second.width == pytest.approx(first.width / 2)
    assert third.width == pytest.approx(first.width / 6)
    assert first.x + first.width / 0.6 <= chart.width  # a 100% bar would still fit


def test_top_values_label_names_and_counts_with_percentages() -> None:
    chart = top_values_chart(TOP, total=100)
    texts = [lb.text for lb in chart.labels]
    assert texts == ["s0", "60 · 60%", "s1", "30 · 30%", "s2", "10 · 10%"]
    names = chart.labels[::2]
    assert all(lb.anchor == "end" and lb.x < chart.bars[0].x for lb in names)
    counts = chart.labels[1::2]
    assert all(lb.x > b.x + b.width for lb, b in zip(counts, chart.bars, strict=True))
    assert chart.bars[0].title == "s0: 60 rows (60%)"


def test_top_values_shorten_long_names_but_keep_them_in_the_title() -> None:
    value = "a-very-long-category-name-that-does-not-fit"
    chart = top_values_chart([{"value": value, "count": 1}], total=1)
    label = chart.labels[0]
    assert label.text.endswith("…") and len(label.text) < len(value)
    assert label.title.startswith(value)


def test_short_names_leave_the_room_to_the_bars_and_long_ones_stay_inside() -> None:
    short = top_values_chart([{"value": "s0", "count": 5}], total=10)
    long = top_values_chart([{"value": "x" * 60, "count": 5}], total=10)
    assert short.bars[0].x < long.bars[0].x
    assert short.bars[0].width > long.bars[0].width
    for chart in (short, long):
        name = chart.labels[0]
        assert name.x - len(name.text) * CHAR_W >= 0  # the text starts inside the drawing
        assert name.x < chart.bars[0].x


def test_top_values_show_at_most_the_limit_and_size_the_drawing_to_them() -> None:
    many = [{"value": f"v{i}", "count": 100 - i} for i in range(20)]
    chart = top_values_chart(many, total=5000, limit=10)
    assert len(chart.bars) == 10
    assert chart.height == pytest.approx(chart.bars[-1].y + chart.bars[-1].height + PAD)


def test_rare_values_are_slivers_marked_below_one_percent() -> None:
    chart = top_values_chart([{"value": "x", "count": 1}], total=1000)
    assert chart.bars[0].width == MIN_BAR
    assert chart.labels[1].text == "1 · <1%"


def test_null_and_blank_values_are_shown_as_such() -> None:
    chart = top_values_chart([{"value": None, "count": 2}, {"value": " ", "count": 1}], total=3)
    assert [lb.text for lb in chart.labels[::2]] == ["(null)", "' '"]


def test_no_top_values_is_an_empty_chart() -> None:
    chart = top_values_chart([], total=0)
    assert chart.empty and chart.bars == [] and chart.height == 0


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0, "0"),
        (1234567, "1,234,567"),
        (2019, "2019"),  # no grouping below five digits
        (12345.0, "12,345"),
        (16.0, "16"),
        (57.879184, "57.88"),
        (0.123456, "0.1235"),
        (1234.5678, "1234.6"),
        (-54321.25, "-54,321.2"),
        (-3.5, "-3.5"),
        (0.0001234, "0.000123"),
        (1.7684352e15, "1.77e+15"),
        (float("nan"), "nan"),
        (True, "True"),
        ("s0", "s0"),
    ],
)
def test_short_number(value: object, text: str) -> None:
    assert short_number(value) == text


def test_shorten() -> None:
    assert shorten("abc", 3) == "abc"
    assert shorten("abcdef", 4) == "abc…"


# --- line charts ----------------------------------------------------------------------------


def within(chart: LineChart) -> bool:
    """Every point and dot inside the plot area."""
    plot = chart.plot
    points = [p for line in chart.lines for p in line.points]
    points += [(m.x, m.y) for line in chart.lines for m in line.markers]
    return all(
        plot.left - 0.01 <= x <= plot.right + 0.01 and plot.top - 0.01 <= y <= plot.bottom + 0.01
        for x, y in points
    )


def test_a_line_spans_the_plot_from_first_to_last_step() -> None:
    chart = line_chart([Series("auc", [(0, 0.5), (1, 0.7), (2, 0.6), (3, 0.83)])])
    line = chart.lines[0]
    assert within(chart) and line.drawn == 4 and line.skipped == 0
    xs = [x for x, _ in line.points]
    assert xs == sorted(xs)
    assert xs[0] == chart.plot.left and xs[-1] == chart.plot.right
    ys = [y for _, y in line.points]
    assert ys[3] < ys[1] < ys[2] < ys[0]  # higher values draw higher (smaller y)
    assert line.path == " ".join(f"{x},{y}" for x, y in line.points)
    assert len(line.markers) == 4
    assert line.markers[3].title == "auc · step 3: 0.83"


def test_the_value_axis_is_widened_to_round_ticks_that_cover_the_data() -> None:
    chart = line_chart([Series("auc", [(0, 0.52), (1, 0.87)])])
    assert [lb.text for lb in chart.y_labels] == ["0.5", "0.6", "0.7", "0.8", "0.9"]
    assert chart.y_grid[0] == chart.plot.bottom and chart.y_grid[-1] == chart.plot.top
    assert all(lb.anchor == "end" and lb.x < chart.plot.left for lb in chart.y_labels)
    # The value labels get the room they need, and no more.
    widest = max(len(lb.text) for lb in chart.y_labels)
    assert chart.plot.left == pytest.approx(PAD + widest * CHAR_W + 6)


def test_step_labels_are_whole_numbers_and_stay_inside_the_drawing() -> None:
    chart = line_chart([Series("loss", [(s, 1 / (s + 1)) for s in range(0, 1001, 10)])])
    texts = [lb.text for lb in chart.x_labels]
    assert texts == ["0", "200", "400", "600", "800", "1000"]
    for label in chart.x_labels:
        half = len(label.text) * CHAR_W / 2
        start = {"start": label.x, "middle": label.x - half, "end": label.x - 2 * half}
        assert 0 <= start[label.anchor] and start[label.anchor] + 2 * half <= chart.width
    assert all(lb.y > chart.plot.bottom for lb in chart.x_labels)


def test_nan_and_infinite_values_are_skipped_and_counted() -> None:
    points = [(0, 0.5), (1, "NaN"), (2, 0.7), (3, "Infinity"), (4, float("-inf")), (5, 0.8)]
    chart = line_chart([Series("auc", points)])
    line = chart.lines[0]
    assert line.drawn == 3 and line.skipped == 3 and chart.skipped == 3
    assert len(line.points) == 3 and len(line.markers) == 3
    assert within(chart)


def test_a_chart_of_nothing_finite_is_empty() -> None:
    chart = line_chart([Series("auc", [(0, "NaN"), (1, "Infinity")])])
    assert chart.empty and chart.skipped == 2
    assert chart.lines[0].points == [] and chart.y_labels == [] and chart.x_labels == []
    assert line_chart([]).empty


def test_one_point_stands_in_the_middle_of_a_small_range() -> None:
    chart = line_chart([Series("auc", [(0, 0.9)])])
    marker = chart.lines[0].markers[0]
    assert marker.x == pytest.approx((chart.plot.left + chart.plot.right) / 2)
    assert marker.y == pytest.approx((chart.plot.top + chart.plot.bottom) / 2)
    assert [lb.text for lb in chart.x_labels] == ["0"]
    flat = line_chart([Series("zero", [(0, 0.0), (1, 0.0)])])
    assert [lb.text for lb in flat.y_labels][0] == "-1.0" and within(flat)


def test_lines_share_the_axes_and_take_colours_in_turn() -> None:
    runs = [
        Series("a", [(0, 0.1), (1, 0.2)]),
        Series("b", [(0, 0.4), (5, 0.9)]),
        Series("c", [(2, 0.3)]),
    ]
    chart = line_chart(runs)
    assert [line.color for line in chart.lines] == list(PALETTE[:3])
    assert [line.name for line in chart.lines] == ["a", "b", "c"]
    a, b = chart.lines[0], chart.lines[1]
    assert a.points[0][0] == b.points[0][0] == chart.plot.left  # both start at step 0
    assert b.points[-1][0] == chart.plot.right  # the longest run reaches the end
    assert a.points[-1][0] < chart.plot.right
    assert a.points[0][1] > b.points[0][1]  # 0.1 below 0.4
    assert within(chart)
    many = line_chart([Series(str(i), [(0, i)]) for i in range(len(PALETTE) + 1)])
    assert many.lines[-1].color == PALETTE[0]


def test_a_long_history_is_thinned_to_the_drawing_but_keeps_its_extremes() -> None:
    values = [math.sin(i / 50) + (5 if i == 4321 else 0) for i in range(10_000)]
    chart = line_chart([Series("loss", list(enumerate(values)))])
    line = chart.lines[0]
    columns = chart.plot.right - chart.plot.left
    assert line.drawn == 10_000 and len(line.points) <= 2 * (columns + 1)
    assert line.markers == []  # too many to hover
    (v0, y0), (v1, y1) = [
        (float(lb.text), lb.y - 4) for lb in (chart.y_labels[0], chart.y_labels[-1])
    ]
    spike = y0 + (max(values) - v0) * (y1 - y0) / (v1 - v0)
    assert min(y for _, y in line.points) == pytest.approx(spike, abs=0.01)  # it survived
    assert [x for x, _ in line.points] == sorted(x for x, _ in line.points)


@pytest.mark.parametrize(
    ("lo", "hi", "count", "integer", "ticks"),
    [
        (0.52, 0.87, 5, False, [0.5, 0.6, 0.7, 0.8, 0.9]),
        (0, 100, 6, True, [0, 20, 40, 60, 80, 100]),
        (0, 4, 6, True, [0, 1, 2, 3, 4]),
        (0, 3, 6, True, [0, 1, 2, 3]),  # never half steps
        (0, 10, 5, False, [0, 2.5, 5, 7.5, 10]),
        (-0.3, 0.3, 5, False, [-0.4, -0.2, 0.0, 0.2, 0.4]),
        (7, 7, 5, False, [7]),
    ],
)
def test_nice_ticks(lo: float, hi: float, count: int, integer: bool, ticks: list[float]) -> None:
    assert nice_ticks(lo, hi, count, integer) == pytest.approx(ticks)


@pytest.mark.parametrize(
    ("value", "step", "text"),
    [
        (0.8, 0.1, "0.8"),
        (0.25, 0.05, "0.25"),
        (7.5, 2.5, "7.5"),
        (5.0, 2.5, "5.0"),
        (1200, 200, "1200"),
        (12000, 2000, "12,000"),
        (0.0, 0.1, "0.0"),
        (2.5e-7, 5e-8, "2.5e-07"),
    ],
)
def test_tick_text(value: float, step: float, text: str) -> None:
    assert tick_text(value, step) == text


@pytest.mark.parametrize(
    ("value", "number"),
    [(0.5, 0.5), (3, 3.0), ("NaN", None), ("Infinity", None), (math.inf, None), (True, None)],
)
def test_finite(value: object, number: float | None) -> None:
    assert finite(value) == number


# --- paired charts (drift: a reference and a current side) ---------------------------------------


def paired_inside(chart: PairedChart) -> bool:
    bars = chart.reference + chart.current
    return all(
        b.x >= 0 and b.y >= 0 and b.x + b.width <= chart.width and b.y + b.height <= chart.height
        for b in bars
    )


def test_a_paired_histogram_draws_both_sides_per_bin_as_shares_of_their_rows() -> None:
    # The current side has half the rows but the same shape: its bars are as tall.
    reference, current = [10, 40, 30, 20], [5, 20, 15, 10]
    chart = paired_histogram_chart(edges(0, 4, 4), reference, current)
    assert paired_inside(chart) and chart.axis_y == chart.height - HIST_AXIS
    assert len(chart.reference) == len(chart.current) == 4
    for ref, cur in zip(chart.reference, chart.current, strict=True):
        assert ref.height == pytest.approx(cur.height)
        assert ref.x + ref.width == pytest.approx(cur.x)  # side by side, reference first
        assert ref.y + ref.height == pytest.approx(chart.axis_y)
    assert chart.peak == pytest.approx(0.4)
    assert chart.reference[1].height == pytest.approx(chart.axis_y - PAD)  # the peak fills
    assert chart.reference[0].height == pytest.approx((chart.axis_y - PAD) / 4)
    assert [b.count for b in chart.current] == current


def test_a_shifted_current_side_draws_where_its_rows_are() -> None:
    chart = paired_histogram_chart(edges(0, 4, 4), [50, 50, 0, 0], [0, 0, 25, 75])
    assert [b.height > 0 for b in chart.reference] == [True, True, False, False]
    assert [b.height > 0 for b in chart.current] == [False, False, True, True]
    assert chart.current[3].height == pytest.approx(chart.axis_y - PAD)  # 75% is the peak
    assert chart.reference[0].height == pytest.approx((chart.axis_y - PAD) * 50 / 75, abs=0.01)


def test_paired_histogram_pairs_do_not_overlap_the_next_bin() -> None:
    chart = paired_histogram_chart(edges(0, 1, 20), [3] * 20, [4] * 20)
    for cur, ref in zip(chart.current, chart.reference[1:], strict=False):
        assert cur.x + cur.width < ref.x
    assert chart.current[-1].x + chart.current[-1].width <= chart.width - PAD + 0.01


def test_paired_histogram_titles_name_the_side_share_and_rows() -> None:
    chart = paired_histogram_chart([0.0, 0.5, 1.0], [3, 1], [0, 200])
    assert chart.reference[0].title == "0 to 0.5 · reference: 75% (3 rows)"
    assert chart.reference[1].title == "0.5 to 1 · reference: 25% (1 row)"
    assert chart.current[0].title == "0 to 0.5 · current: 0% (0 rows)"
    assert chart.current[1].title == "0.5 to 1 · current: 100% (200 rows)"
    assert [(lb.text, lb.anchor) for lb in chart.labels] == [("0", "start"), ("1", "end")]


def test_a_constant_column_is_one_bin_of_two_bars() -> None:
    chart = paired_histogram_chart([7.0, 7.0], [400], [144])
    assert len(chart.reference) == len(chart.current) == 1
    assert chart.reference[0].height == chart.current[0].height == pytest.approx(chart.axis_y - PAD)
    assert [lb.text for lb in chart.labels] == ["7"]


def test_a_paired_histogram_formats_edges_and_checks_its_lengths() -> None:
    chart = paired_histogram_chart([0.0, 1.0], [1], [1], fmt=lambda v: f"day {v:.0f}")
    assert chart.reference[0].title.startswith("day 0 to day 1 · reference")
    with pytest.raises(ValueError, match="one edge more than counts on each side"):
        paired_histogram_chart([0.0, 1.0, 2.0], [1, 2], [1])


def test_an_empty_paired_histogram_is_empty() -> None:
    chart = paired_histogram_chart([0.0, 1.0], [0], [0])
    assert chart.empty and chart.reference[0].height == 0 and chart.peak_text == "0%"


CATEGORIES = {"web": [0.5, 0.2], "store": [0.3, 0.3], "app": [0.2, 0.4], "__new__": [0.0, 0.1]}


def test_paired_bars_are_rows_of_two_bars_scaled_to_the_largest_share() -> None:
    chart = paired_bars_chart(CATEGORIES, values=(1000, 500))
    assert paired_inside(chart) and chart.axis_y is None
    assert len(chart.reference) == len(chart.current) == 4
    full = chart.reference[0].width  # 50%, the largest share of either side
    for (ref_share, cur_share), ref, cur in zip(
        CATEGORIES.values(), chart.reference, chart.current, strict=True
    ):
        assert ref.x == cur.x and ref.y + ref.height < cur.y  # reference above current
        assert ref.width == pytest.approx(full * ref_share / 0.5) or ref_share == 0
        assert cur.width == pytest.approx(full * cur_share / 0.5)
    assert chart.reference[3].width == 0  # a value the reference never had
    assert chart.current[3].y + chart.current[3].height + PAD == pytest.approx(chart.height)
    rows = [b.y for b in chart.reference]
    assert rows == sorted(rows)  # in the order given


def test_paired_bars_label_names_and_both_shares() -> None:
    chart = paired_bars_chart(CATEGORIES, values=(1000, 500))
    texts = [lb.text for lb in chart.labels]
    assert texts[:4] == ["web", "50% → 20%", "store", "30% → 30%"]
    assert texts[-1] == "0% → 10%"
    names, shares = chart.labels[::2], chart.labels[1::2]
    assert all(lb.anchor == "end" and lb.x < chart.reference[0].x for lb in names)
    widest = max(b.x + b.width for b in chart.reference + chart.current)
    assert all(lb.x > widest for lb in shares)
    assert all(lb.x + CHAR_W * len(lb.text) <= chart.width + 1 for lb in shares)
    assert chart.reference[0].title == "web · reference: 50% (500 rows)"
    assert chart.current[0].title == "web · current: 20% (100 rows)"
    assert chart.current[0].count == 100


def test_paired_bars_without_row_counts_give_shares_only() -> None:
    chart = paired_bars_chart({"0": [0.6, 0.55], "1": [0.4, 0.45]})
    assert chart.reference[0].title == "0 · reference: 60%"
    assert [b.count for b in chart.current] == [1, 1]


def test_paired_bars_shorten_long_names_and_show_blanks() -> None:
    value = "a-very-long-category-name-that-does-not-fit"
    chart = paired_bars_chart({value: [0.5, 0.5], "": [0.5, 0.5]})
    assert chart.labels[0].text.endswith("…") and chart.labels[0].title.startswith(value)
    assert chart.labels[2].text == "''"


def test_no_categories_is_an_empty_paired_chart() -> None:
    chart = paired_bars_chart({})
    assert chart.empty and chart.height == 0 and chart.reference == []


@pytest.mark.parametrize(
    ("share", "text"),
    [(0, "0%"), (0.0004, "<0.1%"), (0.005, "0.5%"), (0.045, "4.5%"), (0.38, "38%"), (1, "100%")],
)
def test_share_text(share: float, text: str) -> None:
    assert share_text(share) == text
