"""The bench's arithmetic: figures of a run, the conversation-length curve, ratios, targets."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any, Final

from load.bench.script import Run
from load.stats import percentile

CHECKPOINTS: Final = (10, 100, 200, 400)
# A checkpoint's figure is the mean of the turns ending there: two whole rounds of the script,
# so every checkpoint has the same mix of turns. Not their median: the script's turns cost
# about 4.5 or about 8.5 ms, and the median of ten such turns sat between the two clusters,
# jumping from one to the other on a change of 1 ms (turn 400 / turn 10 of one run: 1.74 by
# the median, 1.19 by the mean of the same turns).
CURVE_WINDOW: Final = 10
# One conversation after another, each turn's latency the median over them (one slow turn of
# one conversation, a timer or a log rotation, does not count).
CURVE_CONVERSATIONS: Final = 3
SINGLE: Final = "single"
PROD: Final = "prod"

# Issue 15's targets: (title, figure key in `ratios`/profiles, bound, direction).
TARGETS: Final = (
    ("prod/single turns/s, 10 senders", "prod_over_single_10", 1.2, ">="),
    ("prod/single turns/s, 20 senders", "prod_over_single_20", 1.2, ">="),
    ("prod p95 at 10 senders (ms)", "prod_p95_10", 100.0, "<="),
    ("single turn 400 / turn 10", "single_turn400_over_turn10", 1.5, "<="),
    ("prod turn 400 / turn 10", "prod_turn400_over_turn10", 1.5, "<="),
    ("single turns/s, best", "single_best_turns_per_second", 200.0, ">="),
)


def run_figures(run: Run) -> dict[str, float]:
    """Turns, turns per second, p50/p95/p99 in ms and errors of one run."""
    seconds = [turn.seconds for turn in run.turns]
    if not seconds:
        return {"turns": 0, "turns_per_second": 0.0, "errors": 0}
    return {
        "turns": len(seconds),
        "seconds": run.seconds,
        "turns_per_second": len(seconds) / run.seconds if run.seconds else 0.0,
        "p50_ms": percentile(seconds, 50) * 1000,
        "p95_ms": percentile(seconds, 95) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "errors": run.errors,
    }


def turn_medians(conversations: Sequence[Sequence[float]]) -> list[float]:
    """Each turn's median latency over ``conversations`` (as long as the shortest)."""
    return [statistics.median(turn) for turn in zip(*conversations, strict=False)]


def curve_points(
    latencies_ms: Sequence[float], checkpoints: Sequence[int] = CHECKPOINTS
) -> dict[str, dict[str, float]]:
    """At each checkpoint within the conversation: the turn's own latency and the mean of
    the :data:`CURVE_WINDOW` turns ending there (ms)."""
    points = {}
    for turn in checkpoints:
        if turn > len(latencies_ms):
            continue
        window = latencies_ms[max(0, turn - CURVE_WINDOW) : turn]
        points[str(turn)] = {
            "turn_ms": latencies_ms[turn - 1],
            "mean_ms": statistics.fmean(window),
        }
    return points


def rolling_mean(values: Sequence[float], window: int = CURVE_WINDOW) -> list[float]:
    """The mean of the ``window`` values ending at each position (for the chart)."""
    return [statistics.fmean(values[max(0, i + 1 - window) : i + 1]) for i in range(len(values))]


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _figure(profile: Mapping[str, Any] | None, *keys: str) -> float | None:
    value: Any = profile
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return float(value)


def ratios(
    profiles: Mapping[str, Mapping[str, Any]], senders: Sequence[int]
) -> dict[str, float | None]:
    """prod/single turns per second at each sender count, turn 400 / turn 10 of each profile,
    and the figures the targets name."""
    single, prod = profiles.get(SINGLE), profiles.get(PROD)
    result: dict[str, float | None] = {}
    for count in senders:
        result[f"prod_over_single_{count}"] = _ratio(
            _figure(prod, "runs", str(count), "turns_per_second"),
            _figure(single, "runs", str(count), "turns_per_second"),
        )
    first, last = str(CHECKPOINTS[0]), str(CHECKPOINTS[-1])
    for name, profile in ((SINGLE, single), (PROD, prod)):
        result[f"{name}_turn400_over_turn10"] = _ratio(
            _figure(profile, "curve", last, "mean_ms"),
            _figure(profile, "curve", first, "mean_ms"),
        )
    result["prod_p95_10"] = _figure(prod, "runs", "10", "p95_ms")
    rates = [run["turns_per_second"] for run in ((single or {}).get("runs") or {}).values()]
    result["single_best_turns_per_second"] = max(rates) if rates else None
    return result


def target_rows(figures: Mapping[str, float | None]) -> list[tuple[str, float | None, str, str]]:
    """(title, value, bound as text, met: yes/NO/—) of every target."""
    rows = []
    for title, key, bound, direction in TARGETS:
        value = figures.get(key)
        if value is None:
            met = "—"
        else:
            met = "yes" if (value >= bound if direction == ">=" else value <= bound) else "NO"
        rows.append((title, value, f"{direction} {bound:g}", met))
    return rows
