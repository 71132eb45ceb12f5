"""The bench's Markdown summary (``reports/bench/summary.md``), meant to be quoted by docs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from load.bench.figures import (
    CHECKPOINTS,
    CURVE_CONVERSATIONS,
    CURVE_WINDOW,
    PROD,
    SINGLE,
    target_rows,
)
from load.bench.script import CONVERSATION


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render(results: Mapping[str, Any]) -> str:
    """The summary: conditions, both profiles side by side, ratios, the curve, targets."""
    profiles: Mapping[str, Mapping[str, Any]] = results["profiles"]
    senders: Sequence[int] = results["senders"]
    ratios: Mapping[str, float | None] = results["ratios"]
    steps = ", ".join(step.name for step in CONVERSATION)
    lines = [
        "# Benchmark: single process and production profile",
        "",
        f"{results['date']} · commit {results['commit']} · {results['cores']} cores · load "
        f"average {results['load_before']} before, {results['load_after']} after · "
        f"`{results['command']}`",
        "",
        f"Load script: N senders at once, back to back (no pause), each holding one "
        f"conversation of the five-turn script ({steps}) repeated {results['repeats']} times "
        "with its own merchant, on 127.0.0.1. Both profiles run at once and take turns: "
        "each sender count is run in blocks, single, prod, prod, single, single, prod, prod, "
        "single (the idle profile waits), so both meet the same drift of the machine's speed. "
        "A turn is an error unless it is an HTTP 200 "
        "with a text reply (the verification turn must show the merchant's application). "
        "CPU ms/turn: CPU time of every process of the profile (and, for the production "
        "profile, its PostgreSQL backends; Redis is shared and not counted) over the turns.",
        "",
    ]
    for name, profile in profiles.items():
        lines.append(f"- **{name}**: {profile['description']}")
    for name, reason in results.get("skipped", {}).items():
        lines.append(f"- **{name}**: skipped: {reason}")
    lines += [
        "",
        "| profile | senders | turns | turns/s | p50 ms | p95 ms | p99 ms | errors | CPU ms/turn |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for count in senders:
        for name, profile in profiles.items():
            run = profile["runs"].get(str(count))
            if run is None:
                continue
            lines.append(
                f"| {name} | {count} | {run['turns']} | {run['turns_per_second']:.1f} | "
                f"{_number(run.get('p50_ms'))} | {_number(run.get('p95_ms'))} | "
                f"{_number(run.get('p99_ms'))} | {run['errors']} | "
                f"{_number(run.get('cpu_ms_per_turn'))} |"
            )
    ratio_text = ", ".join(
        f"{_number(ratios.get(f'prod_over_single_{count}'), 2)} at {count} senders"
        for count in senders
    )
    lines += ["", f"**prod / single turns per second:** {ratio_text}.", ""]
    header = " | ".join(f"turn {turn}" for turn in CHECKPOINTS)
    conversations = results.get("curve_conversations", CURVE_CONVERSATIONS)
    lines += [
        f"Conversation length: one sender, {conversations} conversations of "
        f"{results['curve_turns']} turns one after another (the script over and over, nothing "
        "else running), each turn's latency the median over the conversations; ms, mean of the "
        f"{CURVE_WINDOW} turns ending at each point (the turn's own latency in brackets).",
        "",
        f"| profile | {header} | turn {CHECKPOINTS[-1]} / turn {CHECKPOINTS[0]} |",
        "|---|" + "---|" * (len(CHECKPOINTS) + 1),
    ]
    for name, profile in profiles.items():
        cells = []
        for turn in CHECKPOINTS:
            point = profile.get("curve", {}).get(str(turn))
            cells.append(
                "—" if point is None else f"{point['mean_ms']:.1f} ({point['turn_ms']:.1f})"
            )
        ratio = _number(ratios.get(f"{name}_turn400_over_turn10"), 2)
        lines.append(f"| {name} | {' | '.join(cells)} | {ratio} |")
    lines += [
        "",
        "![turns per second and turn latency along one conversation](chart.svg)",
        "",
        "| target (issue 15) | now | target | met |",
        "|---|---|---|---|",
    ]
    for title, value, bound, met in target_rows(ratios):
        lines.append(f"| {title} | {_number(value, 2)} | {bound} | {met} |")
    lines += [
        "",
        "Figures from one run; on a shared machine they move with whatever else runs "
        "(see the load average above): compare profiles within one run.",
    ]
    if not profiles.get(SINGLE) or not profiles.get(PROD):
        lines.append("Only one profile ran, so there are no ratios between them.")
    return "\n".join(lines) + "\n"
