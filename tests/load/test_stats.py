"""Percentiles, turns per second and errors of a load run; the request cap; loopback only."""

from __future__ import annotations

import pytest

from load.budget import RequestBudget
from load.journal import Request
from load.loopback import is_loopback
from load.stats import percentile, run_stats


def request(sender: str, turn: str, start: float, seconds: float, ok: bool = True) -> Request:
    return Request(sender, turn, f"{sender}-{turn}", "m", 200, ok,
                   None if ok else "expected utter_thank, got: x", start, seconds)  # fmt: skip


def test_nearest_rank_percentiles():
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50, 95, 99)
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_run_stats_per_turn_and_overall():
    requests = [
        request("a", "1 greet", 0.0, 0.1),
        request("a", "2 thank", 1.0, 0.3),
        request("b", "1 greet", 0.5, 0.2),
        request("b", "2 thank", 1.5, 0.5, ok=False),
    ]
    stats = run_stats(requests, turns_per_conversation=2)
    greet, thank = stats.turns
    assert (greet.name, greet.requests, greet.errors, greet.p50_ms) == ("1 greet", 2, 0, 100.0)
    assert (thank.errors, thank.p99_ms, thank.max_ms) == (1, 500.0, 500.0)
    assert stats.total.requests == 4 and stats.total.errors == 1
    assert stats.seconds == pytest.approx(2.0)
    assert stats.turns_per_second == pytest.approx(2.0)
    assert (stats.conversations, stats.completed_conversations) == (2, 1)
    assert stats.problems == [("expected utter_thank, got: x", 1)]


def test_an_empty_journal_is_refused():
    with pytest.raises(ValueError, match="empty"):
        run_stats([], 6)


def test_the_budget_reserves_whole_conversations_and_takes_back_unsent_turns():
    budget = RequestBudget(14)
    assert budget.reserve(6) and budget.reserve(6)
    assert not budget.reserve(6)
    assert budget.reserved == 12
    budget.release(4)
    assert budget.reserve(6) and budget.reserved == 14


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:5500", True),
        ("https://127.0.0.1", True),
        ("http://localhost:5500", False),
        ("http://10.0.0.1:5500", False),
        ("http://127.0.0.1.example.com", False),
        ("http://user@example.com@127.0.0.1:80", True),
        ("ftp://127.0.0.1", False),
        ("http://127.0.0.1:99999", False),
        ("", False),
    ],
)
def test_only_loopback_urls_are_loaded(url, allowed):
    assert is_loopback(url) is allowed
