"""The policies' bounded history: the same states as the whole conversation, in bounded time."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.history_window import (
    MIN_ML_WINDOW_ACTIONS,
    MIN_WINDOW_ACTIONS,
    bound_policy_history,
    policy_window,
    recent_history,
)

ROOT = Path(__file__).resolve().parents[2]
# Before any test bounds them (tests of other modules may have too: these are Rasa's own).
ORIGINAL_PREDICT = {
    cls: getattr(cls.predict_action_probabilities, "__wrapped__", cls.predict_action_probabilities)
    for cls in (MemoizationPolicy, RulePolicy)
}
LISTEN = "action_listen"
FORM = "verify_form"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(ROOT / "domain.yml")


def user(intent: str, text: str = "…") -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.9})


def faq(intent: str, answer: str) -> list[Event]:
    return [user(intent), ActionExecuted(answer), BotUttered("…"), ActionExecuted(LISTEN)]


def verification(interrupted: bool = False) -> list[Event]:
    """verify_form from activation to the end (with an FAQ question inside when interrupted)."""
    events: list[Event] = [
        user("check_case_status"),
        ActionExecuted(FORM),
        ActiveLoop(FORM),
        SlotSet("requested_slot", "merchant_id"),
        ActionExecuted(LISTEN),
    ]
    if interrupted:
        events += [
            user("ask_fees"),
            ActionExecutionRejected(FORM),
            ActionExecuted("utter_fees"),
            ActionExecuted(FORM),
            SlotSet("requested_slot", "merchant_id"),
            ActionExecuted(LISTEN),
        ]
    events += [
        user("inform"),
        ActionExecuted(FORM),
        SlotSet("merchant_id", "898310058121234"),
        SlotSet("requested_slot", "phone_last4"),
        ActionExecuted(LISTEN),
        user("inform"),
        ActionExecuted(FORM),
        SlotSet("phone_last4", "5678"),
        SlotSet("verified", True),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        ActionExecuted("action_case_followup"),
        ActionExecuted(LISTEN),
    ]
    return events


def rewound() -> list[Event]:
    """A message the fallback takes back (Rasa's action_default_fallback)."""
    return [
        user("nlu_fallback"),
        ActionExecuted("action_default_fallback"),
        SlotSet("confirm_pending", True),
        UserUtteranceReverted(),
        ActionExecuted(LISTEN),
    ]


def conversation(cycles: int) -> list[Event]:
    events: list[Event] = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted(LISTEN),
    ]
    for cycle in range(cycles):
        events += faq("greet", "utter_greet")
        events += verification(interrupted=cycle % 2 == 1)
        events += faq("ask_review_time", "action_review_time")
        events += rewound()
        events += faq("ask_fees", "utter_fees")
        if cycle % 3 == 2:
            events += [user("restart_slots"), ActionExecuted("action_x"), AllSlotsReset()]
            events += [ActionExecuted(LISTEN)]
        events += faq("thank", "utter_thank")
    return events


def tracker_of(events: list[Event], domain: Domain) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("someone", events, domain.slots)


def test_every_recent_state_is_the_full_conversations_state(domain):
    events = conversation(8)
    windows = 0
    for cut in range(len(events) + 1):
        full = tracker_of(events[:cut], domain)
        recent = recent_history(full, MIN_WINDOW_ACTIONS)
        if recent is full:
            continue
        windows += 1
        expected = full.past_states(domain)[-MIN_WINDOW_ACTIONS:]
        assert recent.past_states(domain)[-MIN_WINDOW_ACTIONS:] == expected, cut
        assert recent.current_slot_values() == full.current_slot_values()
        assert recent.active_loop == full.active_loop
        assert recent.latest_action_name == full.latest_action_name
    assert windows > len(events) // 2


def test_the_window_stays_small_however_long_the_conversation(domain):
    short = recent_history(tracker_of(conversation(3), domain), MIN_WINDOW_ACTIONS)
    long = recent_history(tracker_of(conversation(60), domain), MIN_WINDOW_ACTIONS)
    assert len(long.events) < 60
    assert len(long.events) == len(short.events)


def test_a_running_form_is_seen_from_its_activation(domain):
    events = conversation(2)
    events += [user("check_case_status"), ActionExecuted(FORM), ActiveLoop(FORM)]
    events += [SlotSet("requested_slot", "merchant_id"), ActionExecuted(LISTEN)]
    for _ in range(6):  # questions inside the form
        events += [user("ask_fees"), ActionExecutionRejected(FORM), ActionExecuted("utter_fees")]
        events += [ActionExecuted(FORM), SlotSet("requested_slot", "merchant_id")]
        events += [ActionExecuted(LISTEN)]
    full = tracker_of(events, domain)
    recent = recent_history(full, MIN_WINDOW_ACTIONS)
    assert recent is not full
    assert any(isinstance(event, ActiveLoop) and event.name == FORM for event in recent.events)
    assert (
        recent.past_states(domain)[-MIN_WINDOW_ACTIONS:]
        == (full.past_states(domain)[-MIN_WINDOW_ACTIONS:])
    )


def test_a_short_session_is_left_as_it_is(domain):
    events = [*conversation(10), ActionExecuted("action_session_start"), SessionStarted()]
    events += [ActionExecuted(LISTEN), *faq("greet", "utter_greet")]
    full = tracker_of(events, domain)
    assert recent_history(full, MIN_WINDOW_ACTIONS) is full


def test_policies_predict_from_the_bounded_history(domain, monkeypatch):
    seen: list[int] = []

    def predict(self, tracker, domain, rule_only_data=None, **kwargs):
        seen.append(len(tracker.events))

    monkeypatch.setattr(MemoizationPolicy, "predict_action_probabilities", predict)
    monkeypatch.setattr(RulePolicy, "predict_action_probabilities", predict)
    bound_policy_history()
    bound_policy_history()  # idempotent
    full = tracker_of(conversation(30), domain)
    rules = object.__new__(RulePolicy)  # the prediction is replaced: no model needed
    rules.lookup = {"rules": {'[{"prev_action": {"action_name": "action_listen"}}]': "x"}}
    memo = object.__new__(MemoizationPolicy)
    memo.config = {"max_history": 4}
    rules.predict_action_probabilities(full, domain)
    memo.predict_action_probabilities(full, domain)
    assert len(seen) == 2
    assert all(count < 60 for count in seen)
    assert policy_window(rules) == (MIN_WINDOW_ACTIONS, False)
    assert policy_window(memo) == (MIN_ML_WINDOW_ACTIONS, True)


RULE_ONLY = {"rule_only_slots": ["confirm_pending", "verified"], "rule_only_loops": ["verify_form"]}


def with_rule_only_turns(events: list[Event], hidden: Callable[[int, UserUttered], bool]):
    """``events`` with the actions of each turn for which ``hidden(number, message)`` holds
    marked as predicted by a rule-only rule, as Rasa marks them (a turn's actions alike)."""
    marked: list[Event] = []
    hide, number = False, 0
    for event in events:
        if isinstance(event, UserUttered):
            number += 1
            hide = hidden(number, event)
        if isinstance(event, ActionExecuted):
            event = ActionExecuted(event.action_name, hide_rule_turn=hide)
        marked.append(event)
    return marked


def ml_states(tracker: DialogueStateTracker, domain: Domain, omit: bool) -> list:
    """The last states memoization compares (and one more), as it asks for them."""
    return tracker.past_states(domain, omit, True, RULE_ONLY)[-5:]


@pytest.mark.parametrize(
    "hidden",
    [
        lambda n, message: message.intent_name not in ("greet", "thank", "check_case_status"),
        lambda n, message: n % 2 == 0,
        lambda n, message: n % 5 != 0,
        lambda n, message: random.Random(n).random() < 0.6,
    ],
    ids=["faq turns", "every other turn", "four turns in five", "random"],
)
def test_memoizations_window_has_the_full_conversations_states(domain, hidden):
    events = with_rule_only_turns(conversation(8), hidden)
    windows = differ_when_counting_every_action = 0
    for cut in range(len(events) + 1):
        full = tracker_of(events[:cut], domain)
        recent = recent_history(full, MIN_ML_WINDOW_ACTIONS, ml_only=True)
        every_action = recent_history(full, MIN_ML_WINDOW_ACTIONS)
        for omit in (False, True):
            expected = ml_states(full, domain, omit)
            assert ml_states(recent, domain, omit) == expected, cut
            differ_when_counting_every_action += ml_states(every_action, domain, omit) != expected
        windows += recent is not full
    assert windows > len(events) // 4
    assert differ_when_counting_every_action  # what the window would get wrong otherwise


def test_memoization_reads_the_whole_session_when_every_turn_was_rule_only(domain):
    events = with_rule_only_turns(conversation(8), lambda n, message: True)
    full = tracker_of(events, domain)
    assert recent_history(full, MIN_ML_WINDOW_ACTIONS, ml_only=True) is full
    assert recent_history(full, MIN_WINDOW_ACTIONS) is not full


@pytest.fixture(scope="module")
def trained_processor() -> Any:
    """The trained model's processor, loaded once for the tests of this module."""
    model = ROOT / "models" / "posbot.tar.gz"
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make test` (it trains first)")
    from rasa.core.agent import Agent

    return Agent.load(str(model)).processor


@pytest.fixture
def bounded() -> Iterator[None]:
    """The policies predict from the window; Rasa's methods are back afterwards."""
    originals = {cls: cls.__dict__["predict_action_probabilities"] for cls in ORIGINAL_PREDICT}
    bound_policy_history()
    try:
        yield
    finally:
        for cls, method in originals.items():
            cls.predict_action_probabilities = method


@pytest.mark.model
@pytest.mark.parametrize("every_turn_rule_only", [False, True])
def test_the_trained_policies_predict_the_same_from_the_window(
    trained_processor, bounded, every_turn_rule_only
):
    processor = trained_processor
    policies = [
        node._component
        for node in processor.graph_runner._instantiated_nodes.values()
        if type(getattr(node, "_component", None)) in (MemoizationPolicy, RulePolicy)
    ]
    assert len(policies) == 2
    events = with_rule_only_turns(
        conversation(6),
        (lambda n, message: True)
        if every_turn_rule_only
        else (lambda n, message: message.intent_name not in ("greet", "thank")),
    )
    predicted = 0
    for cut in range(1, len(events) + 1):
        if not isinstance(events[cut - 1], (UserUttered, ActionExecuted)):
            continue
        tracker = tracker_of(events[:cut], processor.domain)
        for policy in policies:
            full = ORIGINAL_PREDICT[type(policy)](policy, tracker, processor.domain)
            windowed = policy.predict_action_probabilities(tracker, processor.domain)
            assert windowed.probabilities == full.probabilities, (type(policy).__name__, cut)
            assert windowed.events == full.events and windowed.hide_rule_turn == full.hide_rule_turn
            predicted += 1
    assert predicted > 100
