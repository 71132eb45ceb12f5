"""The cheaper tracker copy and applied events give what Rasa's own give."""

from __future__ import annotations

import copy

import pytest
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    ConversationPaused,
    Restarted,
    SlotSet,
)
from rasa.shared.core.slots import Slot
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
        "slot_order": list(tracker.slots),
        "kind": (type(tracker), tracker._max_event_history, tracker.is_rule_tracker),
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


def loop_named_late() -> list:
    """The loop's action runs before any event names it a loop: the walk must be redone."""
    return [
        *faq("greet", "utter_greet"),
        user("check_case_status"),
        ActionExecuted("verify_form"),
        ActionExecuted("action_listen"),
        user("check_case_status"),
        ActionExecuted("verify_form"),
        ActiveLoop("verify_form"),
        SlotSet("requested_slot", "merchant_id"),
        ActionExecuted("action_listen"),
        user("inform"),
        ActionExecuted("verify_form"),
        ActiveLoop(None),
        ActionExecuted("action_listen"),
    ]


def test_the_applied_events_stay_rasas_as_events_are_added_one_by_one(domain):
    for events in [*conversations(), loop_named_late()]:
        tracker = tracker_of([], domain)
        for event in events:
            tracker.update(event)
            assert tracker.applied_events() == ORIGINAL_APPLIED(tracker)
            copy = tracker.copy()  # carries the walk so far
            copy.update(ActionExecuted("action_listen"))
            assert copy.applied_events() == ORIGINAL_APPLIED(copy)
            assert tracker.applied_events() == ORIGINAL_APPLIED(tracker)


def test_only_the_new_events_are_walked(domain, monkeypatch):
    tracker = tracker_of(conversation(6), domain)
    tracker.applied_events()
    walked: list[int] = []
    fold = tracker_speedups._fold

    def counting(tracker, events, applied, loop_names):
        events = list(events)
        walked.append(len(events))
        return fold(tracker, events, applied, loop_names)

    monkeypatch.setattr(tracker_speedups, "_fold", counting)
    tracker.update(user("ask_fees"))
    tracker.update(ActionExecuted("utter_fees"))
    assert tracker.applied_events() == ORIGINAL_APPLIED(tracker)
    assert tracker.applied_events() == ORIGINAL_APPLIED(tracker)
    assert walked == [2]  # then nothing new to walk
    tracker.update(ActiveLoop("another_form"))  # a loop never named before: walked again
    assert tracker.applied_events() == ORIGINAL_APPLIED(tracker)
    assert walked == [2, len(tracker.events)]


def test_the_result_is_a_new_list_each_time(domain):
    tracker = tracker_of(conversation(2), domain)
    first = tracker.applied_events()
    first.clear()
    assert tracker.applied_events() == ORIGINAL_APPLIED(tracker) != []


def test_slots_copy_to_what_copy_module_gives(domain):
    assert "__copy__" in vars(Slot)
    for slot in tracker_of([], domain).slots.values():
        twin = copy.copy(slot)
        assert type(twin) is type(slot) and twin is not slot
        assert vars(twin) == vars(slot)
        twin.value = "changed"
        assert slot.value != "changed"
