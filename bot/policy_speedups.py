"""Two per-prediction costs of Rasa's rule and memoization policies, made cheaper.

They change no behaviour, only the cost of a prediction (the policies predict at least twice a
turn, and the rules were the largest part of the Rasa server's CPU after the NLU pipeline):

- The rules ask for the tracker's past states twice per prediction (once to match the text and
  once the intent of the last message) with the same arguments, and Rasa replays the tracker
  event by event each time: :func:`share_past_states` computes them once per tracker, events and
  arguments and hands out copies.
- The rules find the rules that match the states by filtering every rule key once per state
  (``RulePolicy._get_possible_keys``): :func:`cache_rule_matches` keeps the result for the
  states seen most recently (a conversation's states recur from turn to turn and across
  conversations; the rules of a loaded policy never change).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Final

from rasa.shared.core.trackers import DialogueStateTracker

from bot.history_window import events_marker

_APPLIED_MARK: Final = "_posbot_policy_speedup"
#: On a tracker: its past states for each set of arguments, with the marker of its events.
_STATES_ATTRIBUTE: Final = "_posbot_past_states"
#: On a RulePolicy: the matching rule keys of recently seen states.
_MATCHES_ATTRIBUTE: Final = "_posbot_rule_matches"
#: States sequences whose matching rules each policy keeps.
RULE_MATCHES_KEPT: Final = 4096


def apply() -> None:
    """Installs both (idempotent)."""
    share_past_states()
    cache_rule_matches()


def _frozen(rule_only_data: dict[str, Any] | None) -> Any:
    if not rule_only_data:
        return None
    return tuple((key, tuple(value)) for key, value in sorted(rule_only_data.items()))


def _state_copy(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of the states and of their sub-states (the featurizers delete keys from the last
    user sub-state; the values are strings and tuples)."""
    return [
        {key: dict(sub) if isinstance(sub, dict) else sub for key, sub in state.items()}
        for state in states
    ]


def share_past_states() -> None:
    """Makes ``DialogueStateTracker.past_states`` compute the states once per tracker, events
    and arguments, and hand out copies (the rules ask twice per prediction, once for the text
    and once for the intent of the last message, with the same arguments; idempotent)."""
    original = DialogueStateTracker.past_states
    if getattr(original, _APPLIED_MARK, False):
        return

    def past_states(
        self: DialogueStateTracker,
        domain: Any,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        arguments = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        if type(self) is not DialogueStateTracker:
            return original(self, domain, *arguments)
        marker = events_marker(self)
        kept = self.__dict__.get(_STATES_ATTRIBUTE)
        if kept is None or kept[0] != marker or kept[1] is not domain:
            kept = (marker, domain, {})
            self.__dict__[_STATES_ATTRIBUTE] = kept
        key = (omit_unset_slots, ignore_rule_only_turns, _frozen(rule_only_data))
        states = kept[2].get(key)
        if states is None:
            states = original(self, domain, *arguments)
            kept[2][key] = states
        return _state_copy(states)

    setattr(past_states, _APPLIED_MARK, True)
    DialogueStateTracker.past_states = past_states


def _frozen_states(states: list[dict[str, Any]]) -> tuple[Any, ...]:
    """A hashable form of states (sub-state values are strings, numbers and tuples)."""
    return tuple(
        tuple(
            sorted(
                (key, tuple(sorted(sub.items())) if isinstance(sub, dict) else sub)
                for key, sub in state.items()
            )
        )
        for state in states
    )


def cache_rule_matches(kept: int = RULE_MATCHES_KEPT) -> None:
    """Makes ``RulePolicy._get_possible_keys`` remember its result for the ``kept`` states
    sequences seen most recently, per policy and rule table (idempotent)."""
    from rasa.core.policies.rule_policy import RulePolicy

    original = RulePolicy._get_possible_keys
    if getattr(original, _APPLIED_MARK, False):
        return

    def _get_possible_keys(
        self: RulePolicy, lookup: dict[str, str], states: list[dict[str, Any]]
    ) -> set[str]:
        try:
            key = (id(lookup), _frozen_states(states))
        except TypeError:  # a value that cannot be hashed: Rasa's way
            return original(self, lookup, states)
        matches: OrderedDict[Any, tuple[dict[str, str], set[str]]] | None = self.__dict__.get(
            _MATCHES_ATTRIBUTE
        )
        if matches is None:
            matches = OrderedDict()
            self.__dict__[_MATCHES_ATTRIBUTE] = matches
        found = matches.get(key)
        if found is not None and found[0] is lookup:
            matches.move_to_end(key)
            return set(found[1])
        result = original(self, lookup, states)
        matches[key] = (lookup, set(result))
        while len(matches) > kept:
            matches.popitem(last=False)
        return result

    setattr(_get_possible_keys, _APPLIED_MARK, True)
    RulePolicy._get_possible_keys = _get_possible_keys
