"""Latency percentiles per turn, turns per second and errors, from the run's journal."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from load.journal import Request

PERCENTILES = (50, 95, 99)
TOP_PROBLEMS = 5


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of non-empty ``values``."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class TurnStats:
    """The figures of one turn name (or of all turns together)."""

    name: str
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class RunStats:
    """The figures of a whole run."""

    turns: list[TurnStats]
    total: TurnStats
    seconds: float
    turns_per_second: float
    conversations: int
    completed_conversations: int
    problems: list[tuple[str, int]]


def _turn_stats(name: str, requests: Sequence[Request]) -> TurnStats:
    millis = [request.seconds * 1000 for request in requests]
    p50, p95, p99 = (percentile(millis, q) for q in PERCENTILES)
    errors = sum(not request.ok for request in requests)
    return TurnStats(name, len(requests), errors, p50, p95, p99, max(millis))


def run_stats(requests: Sequence[Request], turns_per_conversation: int) -> RunStats:
    """Per-turn and overall figures; turns/s counts every request over the busy period."""
    if not requests:
        raise ValueError("the journal is empty: no request was sent")
    names = sorted({request.turn for request in requests})
    turns = [_turn_stats(name, [r for r in requests if r.turn == name]) for name in names]
    start = min(request.started_at for request in requests)
    end = max(request.started_at + request.seconds for request in requests)
    seconds = max(end - start, 1e-9)
    per_sender = Counter(request.sender for request in requests if request.ok)
    problems = Counter(
        (request.problem or "")[:120] for request in requests if not request.ok
    ).most_common(TOP_PROBLEMS)
    return RunStats(
        turns=turns,
        total=_turn_stats("all turns", requests),
        seconds=seconds,
        turns_per_second=len(requests) / seconds,
        conversations=len({request.sender for request in requests}),
        completed_conversations=sum(
            count == turns_per_conversation for count in per_sender.values()
        ),
        problems=problems,
    )
