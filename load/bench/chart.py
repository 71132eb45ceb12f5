"""The bench's chart: a self-contained SVG (no scripts, no external references) and the same
figures as a text chart for the terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final
from xml.sax.saxutils import escape

from load.bench.figures import CHECKPOINTS, PROD, SINGLE, rolling_mean

COLOURS: Final = {SINGLE: "#1f77b4", PROD: "#d62728"}
WIDTH: Final = 1020
HEIGHT: Final = 380
PANEL: Final = (60, 40, 400, 280)  # left, top, width, height of the first panel
GAP: Final = 120
BAR_CHARS: Final = 40


def _element(tag: str, **attributes: object) -> str:
    """An empty SVG element; ``stroke_width`` becomes ``stroke-width``."""
    text = "".join(f' {key.replace("_", "-")}="{value}"' for key, value in attributes.items())
    return f"<{tag}{text}/>"


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, **extra: object) -> str:
    return _element(
        "line", x1=f"{x1:.1f}", y1=f"{y1:.1f}", x2=f"{x2:.1f}", y2=f"{y2:.1f}", stroke=stroke,
        **extra,
    )  # fmt: skip


def _text(
    x: float, y: float, text: str, size: int = 12, anchor: str = "middle", **extra: str
) -> str:
    attributes = "".join(f' {key.replace("_", "-")}="{value}"' for key, value in extra.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{attributes}>'
        f"{escape(text)}</text>"
    )


def _axes(
    left: float, top: float, width: float, height: float, top_value: float, unit: str
) -> list[str]:
    parts = [
        _line(left, top + height, left + width, top + height, "#333"),
        _line(left, top, left, top + height, "#333"),
    ]
    for i in range(5):
        value = top_value * i / 4
        y = top + height - height * i / 4
        parts.append(_line(left, y, left + width, y, "#eee"))
        parts.append(_text(left - 6, y + 4, f"{value:g}", 11, "end"))
    parts.append(
        _text(
            left - 45,
            top + height / 2,
            unit,
            12,
            transform=f"rotate(-90 {left - 45} {top + height / 2})",
        )
    )
    return parts


def _nice(value: float) -> float:
    """An axis top at or above ``value``: 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** len(str(int(value))) / 10
    for factor in (1, 2, 5, 10):
        if factor * power >= value:
            return factor * power
    return 10 * power


def _bars(profiles: Mapping[str, Mapping[str, Any]], senders: Sequence[int]) -> list[str]:
    left, top, width, height = PANEL
    rates = {
        (name, count): profile["runs"][str(count)]["turns_per_second"]
        for name, profile in profiles.items()
        for count in senders
        if str(count) in profile.get("runs", {})
    }
    top_value = _nice(max(rates.values(), default=1.0))
    parts = [_text(left + width / 2, top - 16, "turns per second, senders back to back", 14)]
    parts += _axes(left, top, width, height, top_value, "turns/s")
    group = width / max(1, len(senders))
    bar = group / (len(profiles) + 1)
    for g, count in enumerate(senders):
        for b, name in enumerate(profiles):
            value = rates.get((name, count))
            if value is None:
                continue
            x = left + g * group + bar * (b + 0.5)
            h = height * value / top_value
            parts.append(
                f'<rect x="{x:.1f}" y="{top + height - h:.1f}" width="{bar * 0.9:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS.get(name, "#777")}"/>'
            )
            parts.append(_text(x + bar * 0.45, top + height - h - 4, f"{value:.0f}", 11))
        parts.append(_text(left + g * group + group / 2, top + height + 18, f"{count} senders"))
    return parts


def _curve(profiles: Mapping[str, Mapping[str, Any]]) -> list[str]:
    left, top, width, height = PANEL
    left += width + GAP
    series = {
        name: rolling_mean(profile["latencies_ms"])
        for name, profile in profiles.items()
        if profile.get("latencies_ms")
    }
    turns = max((len(values) for values in series.values()), default=CHECKPOINTS[-1])
    top_value = _nice(max((max(values) for values in series.values()), default=1.0))
    parts = [_text(left + width / 2, top - 16, "turn latency along one conversation", 14)]
    parts += _axes(left, top, width, height, top_value, "ms (mean of 10 turns)")
    for turn in (checkpoint for checkpoint in CHECKPOINTS if checkpoint <= turns):
        x = left + width * turn / turns
        parts.append(_line(x, top, x, top + height, "#ddd", stroke_dasharray="3,3"))
        parts.append(_text(x, top + height + 18, f"turn {turn}", 11))
    for name, values in series.items():
        points = " ".join(
            f"{left + width * (i + 1) / turns:.1f},{top + height - height * v / top_value:.1f}"
            for i, v in enumerate(values)
        )
        parts.append(
            _element(
                "polyline",
                points=points,
                fill="none",
                stroke=COLOURS.get(name, "#777"),
                stroke_width="1.5",
            )
        )
    return parts


def svg(profiles: Mapping[str, Mapping[str, Any]], senders: Sequence[int], caption: str) -> str:
    """Both panels side by side, with a legend and ``caption`` (date, machine)."""
    parts = _bars(profiles, senders) + _curve(profiles)
    for i, name in enumerate(profiles):
        x = PANEL[0] + i * 260
        parts.append(
            _element(
                "rect", x=x, y=HEIGHT - 30, width=14, height=14, fill=COLOURS.get(name, "#777")
            )
        )
        parts.append(_text(x + 20, HEIGHT - 18, profiles[name].get("title", name), 12, "start"))
    parts.append(_text(WIDTH - 10, HEIGHT - 18, caption, 11, "end", fill="#555"))
    body = "\n  ".join(parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif">\n'
        f'  <rect width="100%" height="100%" fill="white"/>\n  {body}\n</svg>\n'
    )


def _bar(value: float, top: float) -> str:
    return "█" * max(1, round(BAR_CHARS * value / top)) if top > 0 else ""


def text_chart(profiles: Mapping[str, Mapping[str, Any]], senders: Sequence[int]) -> str:
    """turns/s per profile and sender count, then the checkpoint latencies, as text bars."""
    lines = ["turns per second (senders back to back)"]
    rates = [
        (f"{name:6} {count:>2} senders", profile["runs"][str(count)]["turns_per_second"])
        for count in senders
        for name, profile in profiles.items()
        if str(count) in profile.get("runs", {})
    ]
    top = max((value for _, value in rates), default=0.0)
    lines += [f"  {label}  {_bar(value, top)} {value:.1f}" for label, value in rates]
    lines.append("turn latency along a conversation, ms (mean of the 10 turns ending at)")
    points = [
        (f"{name:6} turn {turn:>3}", profile["curve"][str(turn)]["mean_ms"])
        for name, profile in profiles.items()
        for turn in CHECKPOINTS
        if str(turn) in profile.get("curve", {})
    ]
    top = max((value for _, value in points), default=0.0)
    lines += [f"  {label}  {_bar(value, top)} {value:.1f}" for label, value in points]
    return "\n".join(lines)
