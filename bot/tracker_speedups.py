"""Two per-turn costs of Rasa's tracker that grow with the conversation, made cheaper.

They change no behaviour, only the cost of a turn:

- ``DialogueStateTracker.copy`` (Rasa copies the tracker before every action it runs) built a
  new tracker and replayed every event of the conversation into it; the copy is now made from
  the tracker's state (events, slots, loop, latest action and message), which is what the
  replay arrives at: the state must be re-creatable from the events, Rasa's own rule.
- ``DialogueStateTracker.applied_events`` (several times per message) walked the whole session
  telling event types apart with ``isinstance`` on Rasa's abstract event classes; the same
  walk now looks classes up, calls Rasa's own helpers for rewinds and loops, and continues
  from where the tracker's last walk stopped (:func:`fast_applied_events`).
- ``copy.copy`` of a slot (every new tracker copies every slot of the domain, and the policies
  make one per event they replay) went through ``__reduce_ex__``; slots now copy their
  attributes directly, which is what that arrives at for these plain classes.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from typing import Final

from rasa.shared.constants import DEFAULT_SENDER_ID
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import AnySlotDict, DialogueStateTracker

_APPLIED_MARK: Final = "_posbot_tracker_speedup"
_START, _UNDO, _REWIND, _ACTION, _LOOP, _OTHER = range(6)
#: What ``applied_events`` does with an event of each class, in Rasa's order of checks.
_CHECKS: Final = (
    ((Restarted, SessionStarted), _START),
    (ActionReverted, _UNDO),
    (UserUtteranceReverted, _REWIND),
    (ActionExecuted, _ACTION),
    (ActiveLoop, _LOOP),
)
_KINDS: dict[type, int] = {}
#: On a tracker: its :class:`AppliedFold`.
APPLIED_ATTRIBUTE: Final = "_posbot_applied_fold"


def _kind(cls: type) -> int:
    """The role of an event class (looked up once per class: subclasses included)."""
    kind = _KINDS.get(cls)
    if kind is None:
        kind = next((kind for base, kind in _CHECKS if issubclass(cls, base)), _OTHER)
        _KINDS[cls] = kind
    return kind


def apply() -> None:
    """Installs both (idempotent)."""
    if getattr(DialogueStateTracker.copy, _APPLIED_MARK, False):
        return
    original_copy = DialogueStateTracker.copy
    original_applied = DialogueStateTracker.applied_events

    def copy_tracker(self: DialogueStateTracker) -> DialogueStateTracker:
        if type(self) is not DialogueStateTracker or isinstance(self.slots, AnySlotDict):
            return original_copy(self)
        return state_copy(self)

    def applied_events(self: DialogueStateTracker) -> list[Event]:
        if type(self) is not DialogueStateTracker:
            return original_applied(self)
        return fast_applied_events(self)

    for function in (copy_tracker, applied_events):
        setattr(function, _APPLIED_MARK, True)
    DialogueStateTracker.copy = copy_tracker
    DialogueStateTracker.applied_events = applied_events
    if "__copy__" not in vars(Slot):
        Slot.__copy__ = _copy_slot


def _copy_slot(slot: Slot) -> Slot:
    """A shallow copy of ``slot``: what ``copy.copy`` gives for a class without ``__slots__``
    or ``__reduce__`` of its own, without going through ``__reduce_ex__``."""
    twin = object.__new__(type(slot))
    twin.__dict__.update(slot.__dict__)
    return twin


def state_copy(
    tracker: DialogueStateTracker, events: Iterable[Event] | None = None
) -> DialogueStateTracker:
    """What ``tracker.copy()`` replays to, built from ``tracker``'s state: the same events, a
    copy of every slot, of the loop and of the latest action; like Rasa's copy (made with
    ``init_copy``), without the sender source, model id and assistant id.

    ``events``: the copy holds these instead (the caller vouches that replaying them arrives
    at ``tracker``'s state: a window of its recent events led by the slots at its start).
    """
    # ``init_copy`` without its slots (it would copy and reset each, to be replaced below).
    clone = DialogueStateTracker(
        tracker.sender_id or DEFAULT_SENDER_ID,
        (),
        tracker._max_event_history,
        is_rule_tracker=tracker.is_rule_tracker,
    )
    clone.events.extend(tracker.events if events is None else events)
    # Value and "has been set" as the replay leaves them (Slot objects hold nothing else).
    clone.slots = {name: copy.copy(slot) for name, slot in tracker.slots.items()}
    clone._paused = tracker._paused
    clone.followup_action = tracker.followup_action
    clone.latest_action = dict(tracker.latest_action) if tracker.latest_action else {}
    clone.latest_message = tracker.latest_message
    clone.latest_bot_utterance = tracker.latest_bot_utterance
    active = tracker.active_loop
    clone.active_loop = dataclasses.replace(active) if active is not None else None
    if events is None:
        remember_applied(clone, applied_fold(tracker))  # the same events: the same walk
    return clone


@dataclasses.dataclass(frozen=True)
class AppliedFold:
    """Where ``applied_events`` got to on a tracker: the number of events walked, the last of
    them, the applied events and the loop names it assumed (a list never changed in place)."""

    count: int
    last: Event
    applied: list[Event]
    loop_names: frozenset[str]


def _loop_names(events: Iterable[Event]) -> frozenset[str]:
    return frozenset(event.name for event in events if _kind(type(event)) == _LOOP and event.name)


def _fold(
    tracker: DialogueStateTracker,
    events: Iterable[Event],
    applied: list[Event],
    loop_names: frozenset[str],
) -> list[Event]:
    """Applies ``events`` to ``applied`` (changed in place) as Rasa's walk does; returns the
    list the walk ends with (a new one after a restart or session start)."""
    for event in events:
        kind = _kind(type(event))
        if kind == _START:
            applied = []
        elif kind == _UNDO:
            tracker._undo_till_previous(ActionExecuted, applied)
        elif kind == _REWIND:
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
        elif (
            kind == _ACTION
            and event.action_name in loop_names
            and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)
    return applied


def fast_applied_events(tracker: DialogueStateTracker) -> list[Event]:
    """``DialogueStateTracker.applied_events``: the same list, with each event's class looked
    up in a table instead of ``isinstance`` on abstract classes, and walking only the events
    added since the tracker's last walk.

    Rasa walks the whole session several times a turn (the session-expiry check alone twice),
    the largest cost that still grew with a conversation's length. The walk is a fold over
    the events, except that it treats the actions of every loop the events ever name
    specially: the walk so far (:class:`AppliedFold`, kept on the tracker and carried to its
    copies) is continued only when the new events name no new loop, and is redone otherwise.
    Rasa only ever appends to a tracker's events.
    """
    events = tracker.events
    count = len(events)
    kept: AppliedFold | None = tracker.__dict__.get(APPLIED_ATTRIBUTE)
    if kept is not None and 0 < kept.count <= count and events[kept.count - 1] is kept.last:
        new = [events[index] for index in range(kept.count, count)]
        if not new:
            return list(kept.applied)
        if _loop_names(new) <= kept.loop_names:
            applied = _fold(tracker, new, list(kept.applied), kept.loop_names)
            remember_applied(tracker, AppliedFold(count, new[-1], applied, kept.loop_names))
            return list(applied)
    loop_names = _loop_names(events)
    applied = _fold(tracker, events, [], loop_names)
    if count:
        remember_applied(tracker, AppliedFold(count, events[-1], applied, loop_names))
    return list(applied)


def remember_applied(tracker: DialogueStateTracker, fold: AppliedFold | None) -> None:
    """Keeps ``fold`` on ``tracker`` for its next ``applied_events`` (None: forgets it)."""
    if fold is None:
        tracker.__dict__.pop(APPLIED_ATTRIBUTE, None)
    else:
        tracker.__dict__[APPLIED_ATTRIBUTE] = fold


def applied_fold(tracker: DialogueStateTracker) -> AppliedFold | None:
    """The walk kept on ``tracker``, if any."""
    return tracker.__dict__.get(APPLIED_ATTRIBUTE)
