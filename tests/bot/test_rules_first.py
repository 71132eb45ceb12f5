"""Memoization defers to the rules only where Rasa's ensemble returns the rules' prediction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.policy import PolicyPrediction
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    Event,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import graph_runner, rules_first
from bot.graph_runner import arranged
from bot.history_window import bound_policy_history
from bot.rules_first import last_action_rejected, rules_decide
from tests.bot.test_history_window import (
    ORIGINAL_PREDICT,
    ROOT,
    conversation,
    tracker_of,
    with_rule_only_turns,
)

MEMO_PRIORITY = 3


def prediction(confidence: float, **flags: Any) -> PolicyPrediction:
    return PolicyPrediction([0.0, confidence], "RulePolicy", 6, **flags)


def tracker(*events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("someone", list(events))


LISTENED = tracker(ActionExecuted("action_listen"), UserUttered("…", {"name": "greet"}))
REJECTED = tracker(
    ActionExecuted("action_listen"),
    UserUttered("…", {"name": "ask_fees"}),
    ActionExecutionRejected("verify_form"),
    BotUttered("…"),
)


def test_the_rules_decide_with_full_confidence_and_the_higher_priority():
    assert rules_decide(prediction(1.0), MEMO_PRIORITY, LISTENED)
    assert not rules_decide(prediction(0.3), MEMO_PRIORITY, LISTENED)  # the core fallback
    assert not rules_decide(prediction(0.0), MEMO_PRIORITY, LISTENED)
    assert not rules_decide(prediction(1.0), 6, LISTENED)  # a tie the order would break
    assert not rules_decide(prediction(1.0), 7, LISTENED)


def test_a_rejected_action_leaves_the_choice_to_the_ensemble():
    assert last_action_rejected(REJECTED)
    assert not last_action_rejected(LISTENED)
    assert not last_action_rejected(tracker())
    assert not rules_decide(prediction(1.0), MEMO_PRIORITY, REJECTED)
    # A "no user" or end-to-end prediction wins whatever the confidences become.
    assert rules_decide(prediction(0.0, is_no_user_prediction=True), MEMO_PRIORITY, REJECTED)
    assert rules_decide(prediction(0.3, is_end_to_end_prediction=True), MEMO_PRIORITY, REJECTED)


class First:
    pass


class Later:
    pass


class Other:
    pass


def test_nodes_move_before_the_later_component_only_when_their_needs_allow(monkeypatch):
    monkeypatch.setattr(graph_runner, "_RUN_FIRST", [])
    graph_runner.run_first(First, before=Later)
    graph_runner.run_first(First, before=Later)  # idempotent
    assert [(First, Later)] == graph_runner._RUN_FIRST
    components = {"load": Other, "later": Later, "first": First, "needs_first": Other}
    order = [("load", []), ("later", ["load"]), ("first", ["load"]), ("pick", ["later", "first"])]
    assert [name for name, _ in arranged(order, components.get)] == [
        "load",
        "first",
        "later",
        "pick",
    ]
    blocked = [("later", []), ("first", ["later"]), ("pick", ["first"])]
    assert arranged(blocked, components.get) == blocked  # it needs the later node
    not_after = [("first", []), ("later", [])]
    assert arranged(not_after, components.get) == not_after


@pytest.fixture(scope="module")
def server_processor() -> Iterator[Any]:
    """The trained model's processor as the server loads it: the sequential runner, bounded
    windows and rules first installed before loading (the graph's nodes keep the methods
    they were loaded with); Rasa's runner and methods are back afterwards."""
    model = ROOT / "models" / "posbot.tar.gz"
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make test` (it trains first)")
    import rasa.core.processor as processor_module
    from rasa.core.agent import Agent

    runner = processor_module.DaskGraphRunner
    originals = {cls: cls.__dict__["predict_action_probabilities"] for cls in ORIGINAL_PREDICT}
    graph_runner.install()
    bound_policy_history()
    rules_first.install()
    try:
        yield Agent.load(str(model)).processor
    finally:
        for cls, method in originals.items():
            cls.predict_action_probabilities = method
        processor_module.DaskGraphRunner = runner
        if hasattr(processor_module, graph_runner._APPLIED_MARK):
            delattr(processor_module, graph_runner._APPLIED_MARK)


def _as_rasa(processor: Any, tracker: DialogueStateTracker) -> PolicyPrediction:
    """The processor's prediction with memoization always predicting."""
    (node,) = [
        node
        for node in processor.graph_runner._instantiated_nodes.values()
        if node._component_class is MemoizationPolicy
    ]
    deferring = node._fn
    node._fn = deferring.__wrapped__
    try:
        return processor._predict_next_with_tracker(tracker)
    finally:
        node._fn = deferring


@pytest.mark.model
@pytest.mark.parametrize("rule_only", ["none", "faq turns"])
def test_the_processor_predicts_the_same_when_memoization_defers(
    server_processor, monkeypatch, rule_only
):
    processor = server_processor
    deferred: list[bool] = []
    decide = rules_first.rules_decide

    def counting(*args: Any) -> bool:
        deferred.append(decide(*args))
        return deferred[-1]

    monkeypatch.setattr(rules_first, "rules_decide", counting)
    events = conversation(6)
    if rule_only == "faq turns":
        events = with_rule_only_turns(
            events, lambda n, message: message.intent_name not in ("greet", "check_case_status")
        )
    compared = 0
    for cut in range(1, len(events) + 1):
        if not isinstance(events[cut - 1], (UserUttered, ActionExecuted)):
            continue
        got = processor._predict_next_with_tracker(tracker_of(events[:cut], processor.domain))
        expected = _as_rasa(processor, tracker_of(events[:cut], processor.domain))
        assert got.probabilities == expected.probabilities, cut
        assert got.policy_name == expected.policy_name
        assert got.events == expected.events and got.optional_events == expected.optional_events
        assert got.hide_rule_turn == expected.hide_rule_turn
        assert got.is_no_user_prediction == expected.is_no_user_prediction
        compared += 1
    assert compared > 60
    assert any(deferred) and not all(deferred)  # both ways were taken
    (order,) = [
        [name for name, _ in order]
        for order in processor.graph_runner._orders.values()
        if "select_prediction" in (name for name, _ in order)
    ]
    assert order.index("run_RulePolicy1") < order.index("run_MemoizationPolicy0")
