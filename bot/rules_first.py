"""Memoization is not asked when the rules have already decided the prediction.

Rasa runs every policy on every prediction, then its ensemble picks one (see
``DefaultPolicyPredictionEnsemble``): a "no user" prediction beats all others, then an
end-to-end one beats the ones made from intents, then the highest confidence wins, and the
policy's priority breaks a tie; the events of every prediction are kept. Memoization predicts
one action with confidence 1 or nothing, from intents, with no events, at priority 3, below
the rules' 6. So when the rules' prediction is a "no user" or end-to-end prediction, or has
confidence 1, memoization's prediction cannot change what the ensemble returns, unless the
last action was rejected (the ensemble then sets that action's confidence to 0 in every
prediction, which can take the rules' 1 away).

Memoization was the larger half of the policies' CPU per turn (its window reaches past the
FAQ turns it does not see), and the rules decide most predictions of a conversation (every
FAQ answer, the forms, the fallbacks). :func:`install` runs the rules' node before
memoization's in :class:`bot.graph_runner.SequentialGraphRunner`, remembers the rules'
prediction on the tracker, and makes memoization return its "nothing memorised" prediction
when the rules decided. When the order cannot be arranged (another graph runner) memoization
finds no prediction of the rules and predicts as always.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected
from rasa.shared.core.trackers import DialogueStateTracker

from bot.history_window import events_marker

_APPLIED_MARK: Final = "_posbot_rules_first"
#: On a tracker: (events marker, domain, the rules' prediction for them).
_RULES_ATTRIBUTE: Final = "_posbot_rules_prediction"
#: The highest confidence a policy gives (memoization gives 1 or nothing).
FULL_CONFIDENCE: Final = 1.0
_REJECTED: Final = ActionExecutionRejected.type_name
_ACTION: Final = ActionExecuted.type_name


def last_action_rejected(tracker: DialogueStateTracker) -> bool:
    """Whether the ensemble will zero an action in every prediction: the last action event
    of ``tracker`` is a rejection (as ``DefaultPolicyPredictionEnsemble`` looks for it)."""
    for event in reversed(tracker.events):
        type_name = event.type_name
        if type_name == _REJECTED:
            return True
        if type_name == _ACTION:
            return False
    return False


def rules_decide(
    rules: PolicyPrediction, memoization_priority: int, tracker: DialogueStateTracker
) -> bool:
    """Whether the ensemble returns the rules' prediction whatever memoization predicts."""
    if rules.is_no_user_prediction or rules.is_end_to_end_prediction:
        return True  # memoization makes neither kind, and the ensemble prefers both
    return (
        rules.max_confidence >= FULL_CONFIDENCE
        and rules.policy_priority > memoization_priority
        and not last_action_rejected(tracker)
    )


def _remembering(predict: Callable[..., PolicyPrediction]) -> Callable[..., PolicyPrediction]:
    def predict_action_probabilities(
        self: RulePolicy, tracker: DialogueStateTracker, domain: Any, *args: Any, **kwargs: Any
    ) -> PolicyPrediction:
        prediction = predict(self, tracker, domain, *args, **kwargs)
        tracker.__dict__[_RULES_ATTRIBUTE] = (events_marker(tracker), domain, prediction)
        return prediction

    return _marked(predict_action_probabilities, predict)


def _deferring(predict: Callable[..., PolicyPrediction]) -> Callable[..., PolicyPrediction]:
    def predict_action_probabilities(
        self: MemoizationPolicy,
        tracker: DialogueStateTracker,
        domain: Any,
        *args: Any,
        **kwargs: Any,
    ) -> PolicyPrediction:
        kept = tracker.__dict__.get(_RULES_ATTRIBUTE)
        if (
            kept is not None
            and kept[0] == events_marker(tracker)
            and kept[1] is domain
            and rules_decide(kept[2], self.priority, tracker)
        ):
            return self._prediction(self._default_predictions(domain))
        return predict(self, tracker, domain, *args, **kwargs)

    return _marked(predict_action_probabilities, predict)


def _marked(
    wrapper: Callable[..., PolicyPrediction], predict: Callable[..., PolicyPrediction]
) -> Callable[..., PolicyPrediction]:
    """``wrapper`` marked as installed, with the method it wraps as ``__wrapped__``."""
    setattr(wrapper, _APPLIED_MARK, True)
    wrapper.__wrapped__ = predict  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    """Rules before memoization in the sequential runner, their prediction remembered, and
    memoization deferring to it (idempotent)."""
    from bot import graph_runner

    graph_runner.run_first(RulePolicy, before=MemoizationPolicy)
    for cls, wrap in ((RulePolicy, _remembering), (MemoizationPolicy, _deferring)):
        current = cls.__dict__["predict_action_probabilities"]
        if not getattr(current, _APPLIED_MARK, False):
            cls.predict_action_probabilities = wrap(current)
