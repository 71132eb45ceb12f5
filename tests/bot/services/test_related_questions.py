"""Related questions ("猜你想问"): from the transitions in a real tracker store, cached, with the
built-in order when there is too little data."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.services.feedback import (
    ANSWER_INTENTS,
    DEFAULT_NEXT,
    RelatedQuestions,
    count_transitions,
    rank_related,
)
from bot.store.tracker_store import RedactingSQLTrackerStore
from tests.conftest import ROOT

DAY = 86400.0


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def seed(url: str, domain: Domain, conversations: dict[str, list[str]], at: float) -> None:
    """Stores one conversation per sender whose user messages have these intents."""
    store = RedactingSQLTrackerStore(domain, url=url)
    for sender, intents in conversations.items():
        tracker = DialogueStateTracker(sender, domain.slots)
        for number, intent in enumerate(intents):
            tracker.update(ActionExecuted("action_listen", timestamp=at + number))
            tracker.update(
                UserUttered("问题", {"name": intent, "confidence": 1.0}, timestamp=at + number)
            )
            tracker.update(BotUttered("回答", timestamp=at + number))
        asyncio.run(store.save(tracker))
    store.close()


def test_the_most_frequent_next_questions_come_first(tmp_path: Path, domain: Domain) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    now = time.time()
    conversations = {
        # ask_fees -> report_fraud x3, -> ask_contact x2, -> ask_pos_types x1: 6 transitions.
        **{f"a{n}": ["greet", "ask_fees", "thank", "report_fraud"] for n in range(3)},
        **{f"b{n}": ["ask_fees", "ask_fees", "ask_contact"] for n in range(2)},
        "c": ["ask_fees", "inform", "ask_pos_types", "ask_fees"],
    }
    seed(url, domain, conversations, now - DAY)
    related = RelatedQuestions(url, clock=lambda: now)
    assert asyncio.run(related.related("ask_fees")) == [
        "report_fraud",
        "ask_contact",
        "ask_pos_types",
    ]
    # Too few transitions out of ask_pos_types (1): the built-in order.
    assert asyncio.run(related.related("ask_pos_types")) == list(DEFAULT_NEXT["ask_pos_types"])


def test_a_window_keeps_old_conversations_out(tmp_path: Path, domain: Domain) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    now = time.time()
    seed(url, domain, {f"old{n}": ["ask_fees", "ask_pos_types"] for n in range(9)}, now - 60 * DAY)
    seed(url, domain, {f"new{n}": ["ask_fees", "report_fraud"] for n in range(5)}, now - DAY)
    recent = RelatedQuestions(url, window_days=30, clock=lambda: now)
    assert asyncio.run(recent.related("ask_fees"))[0] == "report_fraud"
    everything = RelatedQuestions(url, window_days=90, clock=lambda: now)
    assert asyncio.run(everything.related("ask_fees"))[0] == "ask_pos_types"


def test_read_once_then_refreshed_after_the_ttl(tmp_path: Path, domain: Domain) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    clock = [time.time()]
    related = RelatedQuestions(url, ttl_seconds=600, clock=lambda: clock[0])

    async def scenario() -> list[list[str]]:
        first = await related.related("ask_fees")
        for _ in range(50):
            await related.related("ask_fees")
        assert related.reads == 1
        conversations = {f"s{n}": ["ask_fees", "ask_maintenance"] for n in range(6)}
        await asyncio.to_thread(seed, url, domain, conversations, clock[0])
        clock[0] += 601
        await related.related("ask_fees")  # stale: refreshed in the background
        await asyncio.sleep(0.5)
        assert related.reads == 2
        return [first, await related.related("ask_fees")]

    before, after = asyncio.run(scenario())
    assert before == list(DEFAULT_NEXT["ask_fees"])  # no events table yet: defaults
    assert after[0] == "ask_maintenance"


def test_an_unreachable_tracker_store_falls_back_to_the_defaults(tmp_path: Path) -> None:
    related = RelatedQuestions(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    assert asyncio.run(related.related("ask_review_time")) == list(DEFAULT_NEXT["ask_review_time"])


def test_transitions_skip_social_turns_and_repeats() -> None:
    counts = count_transitions(
        [["greet", "ask_fees", "thank", "ask_fees", "affirm", "report_fraud", "answer_feedback"]]
    )
    assert counts == {"ask_fees": {"report_fraud": 1}}


def test_every_answer_intent_has_three_defaults_and_a_title(domain: Domain) -> None:
    for intent in ANSWER_INTENTS:
        defaults = DEFAULT_NEXT[intent]
        assert len(set(defaults)) == 3 and intent not in defaults
        assert set(defaults) <= set(ANSWER_INTENTS)
        assert f"utter_related_{intent}" in domain.responses
    assert rank_related("unknown_intent", {}) == []


def test_an_unusable_url_falls_back_to_the_defaults_and_is_read_once() -> None:
    related = RelatedQuestions("nosuchdb://x")
    for _ in range(3):
        assert asyncio.run(related.related("ask_fees")) == list(DEFAULT_NEXT["ask_fees"])
    assert related.reads == 1
