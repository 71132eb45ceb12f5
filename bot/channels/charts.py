"""Small SVG charts drawn by our own code (no chart library): lines over days, horizontal bars.

Every text that goes into the SVG is escaped; the page shows the SVG as an image
(``data:image/svg+xml``), where scripts never run anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Final

from bot.services.console import BARS, LINES, Figure

WIDTH: Final = 640
HEIGHT: Final = 220
MARGIN_LEFT: Final = 48
MARGIN_RIGHT: Final = 12
MARGIN_TOP: Final = 24
MARGIN_BOTTOM: Final = 28
BAR_HEIGHT: Final = 18
BAR_GAP: Final = 6
BAR_LABEL_WIDTH: Final = 170
LABEL_CHARS: Final = 24
COLOURS: Final = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2")
FONT: Final = "font-family='sans-serif' font-size='11'"


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img'><title>{escape(title)}</title>"
        f"<rect width='{width}' height='{height}' fill='#fff'/>{''.join(body)}</svg>"
    )


def _scale_top(values: Sequence[float]) -> float:
    top = max(values, default=0.0)
    return top if top > 0 else 1.0


def line_chart(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], percent: bool = False
) -> str:
    """One line per series over ``labels`` (days), a y axis from 0 to the largest value."""
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    top = 1.0 if percent else _scale_top([v for values in series.values() for v in values])
    count = max(len(labels), 1)
    step = plot_w / max(count - 1, 1)
    body = [
        f"<line x1='{MARGIN_LEFT}' y1='{MARGIN_TOP + plot_h}' x2='{WIDTH - MARGIN_RIGHT}' "
        f"y2='{MARGIN_TOP + plot_h}' stroke='#999'/>",
        f"<text x='{MARGIN_LEFT - 4}' y='{MARGIN_TOP + 4}' text-anchor='end' {FONT}>"
        f"{escape(f'{top:.0%}' if percent else f'{top:g}')}</text>",
        f"<text x='{MARGIN_LEFT - 4}' y='{MARGIN_TOP + plot_h}' text-anchor='end' {FONT}>0</text>",
    ]
    if labels:
        body.append(
            f"<text x='{MARGIN_LEFT}' y='{HEIGHT - 8}' {FONT}>{escape(labels[0])}</text>"
            f"<text x='{WIDTH - MARGIN_RIGHT}' y='{HEIGHT - 8}' text-anchor='end' {FONT}>"
            f"{escape(labels[-1])}</text>"
        )
    for number, (name, values) in enumerate(series.items()):
        colour = COLOURS[number % len(COLOURS)]
        points = " ".join(
            f"{MARGIN_LEFT + i * step:.1f},{MARGIN_TOP + plot_h - (v / top) * plot_h:.1f}"
            for i, v in enumerate(values)
        )
        if len(values) == 1:
            x, y = points.split(",")
            body.append(f"<circle cx='{x}' cy='{y}' r='3' fill='{colour}'/>")
        elif values:
            body.append(
                f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{points}'/>"
            )
        legend_x = MARGIN_LEFT + 8 + number * 130
        body.append(
            f"<rect x='{legend_x}' y='6' width='10' height='10' fill='{colour}'/>"
            f"<text x='{legend_x + 14}' y='15' {FONT}>{escape(name)}</text>"
        )
    return _svg(WIDTH, HEIGHT, body, title)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float]) -> str:
    """Horizontal bars, one per label, longest for the largest value."""
    top = _scale_top(values)
    height = MARGIN_TOP + max(len(values), 1) * (BAR_HEIGHT + BAR_GAP) + 8
    plot_w = WIDTH - BAR_LABEL_WIDTH - MARGIN_RIGHT - 40
    body = []
    for number, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = MARGIN_TOP + number * (BAR_HEIGHT + BAR_GAP)
        shown = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
        length = max((value / top) * plot_w, 1.0)
        body.append(
            f"<text x='{BAR_LABEL_WIDTH - 6}' y='{y + 13}' text-anchor='end' {FONT}>"
            f"{escape(shown)}</text>"
            f"<rect x='{BAR_LABEL_WIDTH}' y='{y}' width='{length:.1f}' height='{BAR_HEIGHT}' "
            f"fill='{COLOURS[0]}'/>"
            f"<text x='{BAR_LABEL_WIDTH + length + 4:.1f}' y='{y + 13}' {FONT}>{value:g}</text>"
        )
    if not values:
        body.append(f"<text x='{MARGIN_LEFT}' y='{MARGIN_TOP + 12}' {FONT}>（无数据）</text>")
    return _svg(WIDTH, height, body, title)


def figure_svg(result: Figure) -> str:
    """The figure's chart (``""`` for a figure shown as a table only)."""
    columns = list(result.columns)
    if result.chart == LINES:
        labels = [str(row[0]) for row in result.rows]
        series = {
            name: [float(row[columns.index(name)]) for row in result.rows] for name in result.series
        }
        percent = all(name.endswith("_rate") for name in result.series)
        return line_chart(result.title, labels, series, percent)
    if result.chart == BARS and result.series:
        index = columns.index(result.series[0])
        return bar_chart(
            result.title,
            [
                str(row[0]) if columns[0] != "group" else f"#{row[0]} {row[3]}"
                for row in result.rows
            ],
            [float(row[index]) for row in result.rows],
        )
    return ""
