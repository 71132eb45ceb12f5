"""The tracker store keeps each recent conversation's replayed tracker and replays only new rows:
every read must still equal Rasa's replay of the stored (redacted) rows, and what a caller does
with the tracker it got must not reach the next read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from bot.store.tracker_store import RedactingSQLTrackerStore
from bot.tracker_speedups import fast_applied_events
from tests.conftest import ROOT

SENDER = "replayed"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def store(domain: Domain, tmp_path: Path):
    made = RedactingSQLTrackerStore(domain=domain, host=f"sqlite:///{tmp_path / 'tracker.db'}")
    yield made
    made.close()


def _turn(tracker: DialogueStateTracker, number: int) -> None:
    tracker.update(
        UserUttered(f"第{number}次 手机13812345678", {"name": "inform", "confidence": 1})
    )
    tracker.update(SlotSet("merchant_id", f"89831005812{number:04d}"))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(BotUttered(f"好的 {number}"))
    tracker.update(ActionExecuted("action_listen"))


def _replay_of_rows(store: RedactingSQLTrackerStore, domain: Domain) -> DialogueStateTracker:
    """Rasa's way: every stored row of the latest session, replayed."""
    database = store.engine.url.database
    with sqlite3.connect(database) as connection:
        rows = [r[0] for r in connection.execute("SELECT data FROM events ORDER BY id")]
    events = [orjson.loads(row) for row in rows]
    starts = [i for i, e in enumerate(events) if e["event"] == "session_started"]
    return DialogueStateTracker.from_dict(
        SENDER, events[starts[-1] if starts else 0 :], domain.slots
    )


def _state(tracker: DialogueStateTracker) -> dict:
    state = tracker.current_state(EventVerbosity.ALL)
    state.pop("latest_event_time", None)
    return state


async def test_every_read_equals_the_replay_of_the_stored_rows(store, domain: Domain) -> None:
    tracker = DialogueStateTracker(SENDER, domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    for number in range(12):
        _turn(tracker, number)
        if number == 5:
            tracker.update(ActiveLoop("merchant_form"))
        if number == 8:
            tracker.update(ActiveLoop(None))
            tracker.update(ActionExecuted("action_session_start"))
            tracker.update(SessionStarted())
        await store.save(tracker)
        read = await store.retrieve(SENDER)
        replay = _replay_of_rows(store, domain)
        assert _state(read) == _state(replay)
        assert "13812345678" not in str(_state(read))  # the stored (redacted) events
        # The walk carried from the kept tracker holds the read's own events (its twins of the
        # latest messages, not the kept tracker's).
        applied = fast_applied_events(read)
        assert applied == replay.applied_events()
        assert {id(event) for event in applied} <= {id(event) for event in read.events}
        tracker = read


async def test_a_change_to_a_tracker_read_does_not_reach_the_next_read(store, domain) -> None:
    tracker = DialogueStateTracker(SENDER, domain.slots)
    _turn(tracker, 1)
    await store.save(tracker)
    first = await store.retrieve(SENDER)
    first.update(SlotSet("merchant_id", "898310058129999"))  # never saved
    first.update(ActiveLoop("merchant_form"))

    second = await store.retrieve(SENDER)

    assert second.get_slot("merchant_id") == "898310058120001"
    assert second.active_loop_name is None
    assert len(second.events) == len(first.events) - 2
    assert _state(second) == _state(_replay_of_rows(store, domain))


async def test_the_latest_messages_of_a_read_are_its_own(store, domain) -> None:
    tracker = DialogueStateTracker(SENDER, domain.slots)
    _turn(tracker, 1)
    await store.save(tracker)
    first = await store.retrieve(SENDER)
    first.latest_message.text = "改掉"  # Rasa sets attributes of the latest message
    first.latest_bot_utterance.text = "改掉"

    second = await store.retrieve(SENDER)

    assert second.latest_message.text == "第1次 手机138****5678"
    assert second.latest_bot_utterance.text == "好的 1"
    assert "改掉" not in str(_state(second))
