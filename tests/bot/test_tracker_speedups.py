"""The cheaper tracker copy and applied events give what Rasa's own give."""

from __future__ import annotations

import pytest
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ConversationPaused,
    Restarted,
    SlotSet,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from bot import tracker_speedups
from tests.bot.test_history_window import conversation, domain, faq, tracker_of, user

__all__ = ["domain"]  # the fixture, shared

ORIGINAL_COPY = DialogueStateTracker.copy
ORIGINAL_APPLIED = DialogueStateTracker.applied_events


@pytest.fixture(scope="module", autouse=True)
def applied():
    tracker_speedups.apply()
    tracker_speedups.apply()  # idempotent


def conversations() -> list[list]:
    long = conversation(6)
    odd = [
        *conversation(2),
        user("ask_fees"),
        ActionExecuted("utter_fees"),
        ActionReverted(),
        SlotSet("verified", None),
        ConversationPaused(),
        ActionExecuted("verify_form"),
        ActionExecutionRejected("verify_form"),
        Restarted(),
        *faq("greet", "utter_greet"),
    ]
    return [long[:cut] for cut in range(0, len(long), 7)] + [odd]


def snapshot(tracker: DialogueStateTracker) -> dict:
    return {
        "state": tracker.current_state(EventVerbosity.ALL),
        "slots": {name: (s.value, s.has_been_set) for name, s in tracker.slots.items()},
        "loop": tracker.active_loop,
        "action": tracker.latest_action,
        "message": tracker.latest_message,
        "bot": tracker.latest_bot_utterance,
        "followup": tracker.followup_action,
        "paused": tracker.is_paused(),
        "events": list(tracker.events),
        "ids": (tracker.sender_id, tracker.sender_source, tracker.model_id),
    }


def test_the_copy_is_the_replayed_copy(domain):
    for events in conversations():
        tracker = tracker_of(events, domain)
        tracker.model_id = "model"
        fast = tracker.copy()
        assert DialogueStateTracker.copy is not ORIGINAL_COPY
        assert snapshot(fast) == snapshot(ORIGINAL_COPY(tracker))
        fast.update(SlotSet("verified", "copy"))  # the copy is independent
        assert tracker.get_slot("verified") != "copy"
        assert len(tracker.events) == len(fast.events) - 1


def test_the_applied_events_are_rasas(domain):
    for events in conversations():
        tracker = tracker_of(events, domain)
        assert tracker.applied_events() == ORIGINAL_APPLIED(tracker)
