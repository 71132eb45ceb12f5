"""The shared past states and remembered rule matches give what Rasa's own give."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker

from bot import policy_speedups
from bot.history_window import MIN_WINDOW_ACTIONS, recent_history, shared_recent_history
from tests.bot.test_history_window import conversation, domain, tracker_of, user

__all__ = ["domain"]  # the fixture, shared

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "posbot.tar.gz"
ORIGINAL_PAST_STATES = DialogueStateTracker.past_states
ORIGINAL_POSSIBLE_KEYS = RulePolicy._get_possible_keys
RULE_ONLY = {"rule_only_slots": ["confirm_pending", "verified"], "rule_only_loops": ["verify_form"]}


@pytest.fixture(scope="module", autouse=True)
def applied():
    policy_speedups.apply()
    policy_speedups.apply()  # idempotent
    yield
    DialogueStateTracker.past_states = ORIGINAL_PAST_STATES
    RulePolicy._get_possible_keys = ORIGINAL_POSSIBLE_KEYS


def with_rule_turns(events: list) -> list:
    """The same events with every other action predicted by a rule (hidden from ML states)."""
    hidden, number = [], 0
    for event in events:
        if isinstance(event, ActionExecuted):
            number += 1
            event = ActionExecuted(event.action_name, hide_rule_turn=number % 2 == 0)
        hidden.append(event)
    return hidden


def trackers(domain) -> list[DialogueStateTracker]:
    made = []
    for events in (conversation(4), with_rule_turns(conversation(3))):
        made += [tracker_of(events[:cut], domain) for cut in range(1, len(events), 5)]
    return made


def test_past_states_are_rasas_for_every_set_of_arguments(domain):
    hidden = [  # the trackers with rule turns have turns the ML states leave out
        len(ORIGINAL_PAST_STATES(t, domain, False, True, RULE_ONLY))
        < len(ORIGINAL_PAST_STATES(t, domain, False, False, RULE_ONLY))
        for t in trackers(domain)
    ]
    assert any(hidden) and not all(hidden)
    for tracker in trackers(domain):
        for omit in (False, True):
            for ignore in (False, True):
                for rule_only in (None, RULE_ONLY):
                    expected = ORIGINAL_PAST_STATES(tracker, domain, omit, ignore, rule_only)
                    assert tracker.past_states(domain, omit, ignore, rule_only) == expected
                    assert tracker.past_states(domain, omit, ignore, rule_only) == expected


def test_past_states_handed_out_are_copies(domain):
    tracker = tracker_of(conversation(1), domain)
    first = tracker.past_states(domain)
    expected = ORIGINAL_PAST_STATES(tracker, domain)
    first[-1].clear()
    for state in first[:-1]:
        for sub_state in state.values():
            sub_state.clear()  # what the featurizers do to the last user sub-state

    assert tracker.past_states(domain) == expected


def test_past_states_follow_new_events(domain):
    tracker = tracker_of(conversation(1), domain)
    before = tracker.past_states(domain)
    tracker.update(user("ask_fees"))
    tracker.update(ActionExecuted("utter_fees"))

    after = tracker.past_states(domain)

    assert after == ORIGINAL_PAST_STATES(tracker, domain)
    assert len(after) == len(before) + 1


def test_the_window_is_made_once_per_tracker_and_events(domain):
    tracker = tracker_of(conversation(3), domain)
    window = shared_recent_history(tracker, MIN_WINDOW_ACTIONS)
    assert shared_recent_history(tracker, MIN_WINDOW_ACTIONS) is window
    assert window.current_state() == recent_history(tracker, MIN_WINDOW_ACTIONS).current_state()
    tracker.update(user("ask_fees"))
    assert shared_recent_history(tracker, MIN_WINDOW_ACTIONS) is not window
    assert shared_recent_history(tracker, MIN_WINDOW_ACTIONS + 2) is not window


@pytest.mark.model
def test_rule_matches_are_rasas_and_remembered():
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    from rasa.core.agent import Agent

    processor = Agent.load(str(MODEL)).processor
    rules = next(
        node._component
        for node in processor.graph_runner._instantiated_nodes.values()
        if isinstance(getattr(node, "_component", None), RulePolicy)
    )
    checked = 0
    for tracker in trackers(processor.domain):
        for use_text in (False, True):
            states = rules._prediction_states(
                tracker, processor.domain, use_text, rule_only_data=rules._get_rule_only_data()
            )
            for table in (RULES, RULES_FOR_LOOP_UNHAPPY_PATH):
                lookup = rules.lookup[table]
                expected = ORIGINAL_POSSIBLE_KEYS(rules, lookup, states)
                assert rules._get_possible_keys(lookup, states) == expected
                remembered = rules._get_possible_keys(lookup, states)  # from the cache
                assert remembered == expected
                remembered.add("changed by a caller")
                assert rules._get_possible_keys(lookup, states) == expected
                checked += bool(expected)
    assert checked > 10  # rules did match
