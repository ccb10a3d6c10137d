"""Profile chart geometry: bars inside the drawing, in proportion, labelled and titled."""

from __future__ import annotations

import pytest

from passline.server.charts import (
    CHAR_W,
    HIST_AXIS,
    MIN_BAR,
    PAD,
    BarChart,
    histogram_chart,
    short_number,
    shorten,
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
