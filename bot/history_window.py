"""The recent part of a conversation, as a tracker the policies can read in bounded time.

Rasa's policies turn the *whole* tracker into one state per action on every prediction
(``tracker.past_states``: a copy of the tracker replayed event by event), although the rules
look at a few states and memoization at ``max_history``: a turn of a 400-turn conversation
cost 15 times a turn of a new one. :func:`recent_history` gives them a tracker that holds only
the last actions, starting in exactly the state the full conversation was in at that point:

- the window starts at an ``action_listen`` followed by a user message, with at least
  ``min_actions`` actions after it, never inside a form (a running loop's history is
  collapsed by Rasa, so the window reaches back to the loop's activation) and never inside a
  span that a later rewind (``UserUtteranceReverted``, ``ActionReverted``) undoes;
- the new tracker first sets the slots the window changes to their values at its start (read
  backwards with rewinds skipped, as ``DialogueStateTracker.applied_events`` does forwards),
  and the other slots to their current values.

Every state of the window is then the same as the full tracker's state at that point, so
each rule of length < ``min_actions`` matches the same way. The state before the window looks
like a conversation start, which only a rule at least as long as the window could see.

Memoization learns from stories, not rules: its states leave out the turns that rule-only
rules predicted (``hide_rule_turn``), and each of its states carries the user message and the
action of the last turn it saw, however far back. Its window counts only the actions of turns
it sees; when the session holds too few of them (a merchant who only asked FAQ questions),
memoization reads the whole session, as Rasa does. Counting every action instead, as the
rules do, gave memoization other states than the full conversation in most turns of test
conversations with half of their turns rule-only, and the trained memoization other
predictions in some turns of a test conversation whose FAQ turns were rule-only
(``tests/bot/test_history_window.py`` checks both).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any, Final

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    Event,
    LegacyForm,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_speedups import state_copy

# Events are told apart by their type name: ``isinstance`` on Rasa's event classes (ABCs) costs
# ten times more, and the slot values before the window are looked up over the whole session.
_USER: Final = UserUttered.type_name
_ACTION: Final = ActionExecuted.type_name
_SLOT: Final = SlotSet.type_name
_RESET_SLOTS: Final = AllSlotsReset.type_name
_LOOP: Final = frozenset({ActiveLoop.type_name, LegacyForm.type_name})
#: After these nothing earlier is applied (the history starts again).
_HISTORY_STARTS: Final = frozenset({Restarted.type_name, SessionStarted.type_name})
#: Events that set neither slots nor the loop, nor undo anything.
_PASSIVE: Final = frozenset({_USER, _ACTION, "bot"})
#: What a rewind undoes, going backwards: the event types it removes, the last one first.
_UNDONE_BY: Final = {
    UserUtteranceReverted.type_name: (_ACTION, _USER),  # the user message, then the listen
    ActionReverted.type_name: (_ACTION,),
}
#: Actions the rules see at least (and two more than their longest rule: 3 states here).
MIN_WINDOW_ACTIONS: Final = 5
#: Actions of turns it sees that memoization (4 states) gets at least. Its states leave out
#: rule-only turns, and each carries the user message and the action of the last turn it saw:
#: the window must hold enough turns it sees (6 were too few for a test conversation with
#: four turns in five rule-only).
MIN_ML_WINDOW_ACTIONS: Final = 8
_APPLIED_MARK: Final = "_posbot_bounded_history"
_WINDOW_ATTRIBUTE: Final = "_posbot_window_actions"
#: On a tracker: the windows made of it, with the marker of the events they were made from.
_RECENT_ATTRIBUTE: Final = "_posbot_recent_history"


class _Rewinds:
    """Walking backwards: which events a later rewind has undone (a stack of type names)."""

    def __init__(self) -> None:
        self._pending: list[str] = []

    def undone(self, type_name: str) -> bool:
        """Whether the next event going backwards, of type ``type_name``, is not applied."""
        targets = _UNDONE_BY.get(type_name)
        if targets is not None:
            self._pending += targets
            return True
        if not self._pending:
            return False
        if type_name == self._pending[-1]:
            self._pending.pop()
        return True

    @property
    def clear(self) -> bool:
        """No rewind is pending: the events walked so far are all the applied ones."""
        return not self._pending


def _backwards(events: Sequence[Event], before: int) -> Iterator[tuple[int, Event]]:
    """``(index, event)`` from index ``before - 1`` down to 0 (a deque does not slice)."""
    return zip(
        range(before - 1, -1, -1), islice(reversed(events), len(events) - before, None), strict=True
    )


def _counted(event: Event, ml_only: bool) -> bool:
    """Whether ``event`` (an action) counts towards the window: every action, or with
    ``ml_only`` only those whose turn ML policies see (not predicted by a rule-only turn)."""
    return not (ml_only and event.hide_rule_turn)


def _window_start(
    events: Sequence[Event], min_actions: int, before: int, ml_only: bool = False
) -> int | None:
    """Index of the ``action_listen`` where the window starts (before index ``before``), or None
    when the applied history since the session start is not longer than the window."""
    rewinds = _Rewinds()
    actions = 0
    following = ""  # the type of the applied event after the current one
    for index, event in _backwards(events, len(events)):
        type_name = event.type_name
        if rewinds.undone(type_name):
            continue
        if type_name in _HISTORY_STARTS:
            return None
        if type_name == _ACTION:
            actions += _counted(event, ml_only)
            if (
                index < before
                and actions > min_actions
                and following == _USER
                and rewinds.clear
                and event.action_name == ACTION_LISTEN_NAME
            ):
                return index
        following = type_name
    return None


def _changed_in(window: Sequence[Event], slots: set[str]) -> set[str]:
    """Which of ``slots`` the window sets (all of them when it resets the slots)."""
    changed: set[str] = set()
    for event in window:
        if event.type_name == _RESET_SLOTS:
            return set(slots)
        if event.type_name == _SLOT and event.key in slots:
            changed.add(event.key)
    return changed


def _state_before(
    events: Sequence[Event], start: int, slots: set[str], loop_unknown: bool = True
) -> tuple[dict[str, Any], int | None]:
    """The values of ``slots`` just before index ``start`` (missing: the initial value), and
    the index of the event that activated the loop running there (None: no loop running;
    ``loop_unknown=False``: the caller knows none is, and the walk stops with the slots)."""
    values: dict[str, Any] = {}
    slots_open = bool(slots)
    loop_open = loop_unknown
    loop_activation: int | None = None
    rewinds = _Rewinds()
    for index, event in _backwards(events, start):
        if not (slots_open or loop_open):
            break
        type_name = event.type_name
        if type_name in _PASSIVE and rewinds.clear:
            continue  # the common case first: this loop may walk the whole session
        if rewinds.undone(type_name):
            continue
        if type_name in _HISTORY_STARTS:
            break
        if type_name == _RESET_SLOTS:
            slots_open = False
        elif slots_open and type_name == _SLOT:
            if event.key in slots and event.key not in values:
                values[event.key] = event.value
                slots_open = len(values) < len(slots)
        elif loop_open and type_name in _LOOP:
            loop_open = False
            if event.name:
                loop_activation = index
    return values, loop_activation


def recent_history(
    tracker: DialogueStateTracker, min_actions: int, ml_only: bool = False
) -> DialogueStateTracker:
    """A tracker with the last ``min_actions`` (or a few more) actions of ``tracker`` whose
    states are the same as the full tracker's; ``tracker`` itself when it is not longer.

    With ``ml_only`` only the actions of turns that ML policies see count (the turns of
    rule-only rules are left out of their states, so their last states can lie far back).
    """
    events = tracker.events
    if len(events) <= 2 * min_actions:
        return tracker
    # Only the slots that influence the conversation are in the states; the others are set
    # to their current values.
    featurized = {name for name, slot in tracker.slots.items() if slot.influence_conversation}
    before = len(events)
    while True:
        start = _window_start(events, min_actions, before, ml_only)
        if start is None:
            return tracker
        window = list(islice(reversed(events), len(events) - start))[::-1]
        changed = _changed_in(window, featurized)
        # With no loop event in the window, the loop running at its start is the one running
        # now: when there is none, the walk back need not look for the loop's activation
        # (it would otherwise walk the whole session of a conversation without forms).
        loop_unknown = tracker.active_loop_name is not None or any(
            event.type_name in _LOOP for event in window
        )
        values, loop_activation = _state_before(events, start, changed, loop_unknown)
        if loop_activation is not None:
            before = loop_activation  # start before the running loop was activated
            continue
        for name, slot in tracker.slots.items():
            if name not in changed and slot.value != slot.initial_value:
                values[name] = slot.value
        prefix: list[Event] = [SlotSet(name, value) for name, value in values.items()]
        # The window replays to the whole tracker's state (its slots, loop, latest message and
        # action): that state, with the window's events, without replaying them here.
        recent = state_copy(tracker, prefix + window)
        # Rasa collapses the turns of a form that ran to its end: count what is left.
        applied = recent.applied_events()
        counted = sum(e.type_name == _ACTION and _counted(e, ml_only) for e in applied)
        if counted > min_actions:
            return recent
        before = start


def events_marker(tracker: DialogueStateTracker) -> tuple[int, int]:
    """What changes when ``tracker`` gets an event (Rasa only appends to a tracker's events)."""
    events = tracker.events
    return len(events), id(events[-1]) if events else 0


def shared_recent_history(
    tracker: DialogueStateTracker, min_actions: int, ml_only: bool = False
) -> DialogueStateTracker:
    """:func:`recent_history`, made once per tracker, events and window (a policy predicts
    several times from the same tracker: with the text and with the intent)."""
    marker = events_marker(tracker)
    kept = tracker.__dict__.get(_RECENT_ATTRIBUTE)
    if kept is None or kept[0] != marker:
        kept = (marker, {})
        tracker.__dict__[_RECENT_ATTRIBUTE] = kept
    key = (min_actions, ml_only)
    recent = kept[1].get(key)
    if recent is None:
        recent = kept[1][key] = recent_history(tracker, min_actions, ml_only)
    return recent


def longest_history(policy: Any) -> int:
    """The number of states a memoizing policy compares: its longest rule or ``max_history``."""
    from rasa.core.constants import POLICY_MAX_HISTORY
    from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy

    if isinstance(policy, RulePolicy):
        keys = [*policy.lookup.get(RULES, {}), *policy.lookup.get(RULES_FOR_LOOP_UNHAPPY_PATH, {})]
        return max((len(policy._rule_key_to_state(key)) for key in keys), default=0)
    return int(policy.config.get(POLICY_MAX_HISTORY) or 0)


def bound_policy_history() -> None:
    """Makes RulePolicy and MemoizationPolicy (and subclasses) predict from
    :func:`recent_history` (:func:`policy_window`), made once per tracker, events and window
    (idempotent)."""
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.rule_policy import RulePolicy

    for cls in (MemoizationPolicy, RulePolicy):
        original = cls.__dict__["predict_action_probabilities"]
        if getattr(original, _APPLIED_MARK, False):
            continue
        cls.predict_action_probabilities = _bounded(original)


def policy_window(policy: Any) -> tuple[int, bool]:
    """The window of ``policy``: how many actions at least (two more than its longest rule or
    ``max_history``), and whether only the actions of turns it sees count (a policy of ML
    data, memoization, leaves rule-only turns out of its states)."""
    from rasa.core.policies.policy import SupportedData

    ml_only = policy.supported_data() == SupportedData.ML_DATA
    least = MIN_ML_WINDOW_ACTIONS if ml_only else MIN_WINDOW_ACTIONS
    return max(least, longest_history(policy) + 2), ml_only


def _bounded(predict: Any) -> Any:
    def predict_action_probabilities(
        self: Any, tracker: DialogueStateTracker, domain: Any, *args: Any, **kwargs: Any
    ) -> Any:
        window = self.__dict__.get(_WINDOW_ATTRIBUTE)
        if window is None:
            window = self.__dict__[_WINDOW_ATTRIBUTE] = policy_window(self)
        recent = shared_recent_history(tracker, *window)
        return predict(self, recent, domain, *args, **kwargs)

    setattr(predict_action_probabilities, _APPLIED_MARK, True)
    predict_action_probabilities.__wrapped__ = predict  # type: ignore[attr-defined]
    return predict_action_probabilities
