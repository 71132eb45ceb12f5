"""Two per-turn costs of Rasa's tracker that grow with the conversation, made cheaper.

They change no behaviour, only the cost of a turn:

- ``DialogueStateTracker.copy`` (Rasa copies the tracker before every action it runs) built a
  new tracker and replayed every event of the conversation into it; the copy is now made from
  the tracker's state (events, slots, loop, latest action and message), which is what the
  replay arrives at: the state must be re-creatable from the events, Rasa's own rule.
- ``DialogueStateTracker.applied_events`` (at least once per message) told event types apart
  with ``isinstance`` on Rasa's abstract event classes, several times the cost of a table
  look-up by class; the same walk now looks classes up and calls Rasa's own helpers for rewinds
  and loops.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Final

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


def state_copy(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """What ``tracker.copy()`` replays to, built from ``tracker``'s state: the same events, a
    copy of every slot, of the loop and of the latest action; like Rasa's copy (made with
    ``init_copy``), without the sender source, model id and assistant id."""
    clone = tracker.init_copy()
    clone.events.extend(tracker.events)
    # Value and "has been set" as the replay leaves them (Slot objects hold nothing else).
    clone.slots = {name: copy.copy(slot) for name, slot in tracker.slots.items()}
    clone._paused = tracker._paused
    clone.followup_action = tracker.followup_action
    clone.latest_action = dict(tracker.latest_action) if tracker.latest_action else {}
    clone.latest_message = tracker.latest_message
    clone.latest_bot_utterance = tracker.latest_bot_utterance
    active = tracker.active_loop
    clone.active_loop = dataclasses.replace(active) if active is not None else None
    return clone


def fast_applied_events(tracker: DialogueStateTracker) -> list[Event]:
    """``DialogueStateTracker.applied_events`` with each event's class looked up in a table
    instead of ``isinstance`` on abstract classes (same result)."""
    events = tracker.events
    loop_names = {event.name for event in events if _kind(type(event)) == _LOOP and event.name}
    applied: list[Event] = []
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
