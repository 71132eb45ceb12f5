"""Zero lost events: every message a merchant sent is in its tracker exactly once, in order.

User events are matched by the id the scenario puts in the message metadata
(``load_turn``); a tracker store that drops metadata is matched by text instead (the texts of
one conversation are all different).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from load.journal import Request

METADATA_KEY = "load_turn"


@dataclass(frozen=True)
class UserEvent:
    """A user message as the tracker holds it."""

    text: str
    message_id: str | None


@dataclass(frozen=True)
class EventCheck:
    """What the trackers hold compared with what was sent."""

    conversations: int
    sent: int
    unanswered: int
    present_once: int
    lost: int
    duplicated: int
    unexpected: int
    out_of_order: int

    @property
    def clean(self) -> bool:
        """No message lost, duplicated, unexpected or out of order."""
        return not (self.lost or self.duplicated or self.unexpected or self.out_of_order)


def user_event(event: Mapping[str, object]) -> UserEvent | None:
    """The user message of a serialised Rasa event (``event == "user"``), else None."""
    if event.get("event") != "user":
        return None
    metadata = event.get("metadata")
    message_id = metadata.get(METADATA_KEY) if isinstance(metadata, Mapping) else None
    return UserEvent(str(event.get("text") or ""), str(message_id) if message_id else None)


def _keys(sent: Sequence[Request], held: Sequence[UserEvent]) -> tuple[list[str], list[str]]:
    if any(event.message_id for event in held):
        return [r.message_id for r in sent], [e.message_id or "" for e in held]
    return [r.message for r in sent], [e.text for e in held]


def _same_order(sent_keys: Sequence[str], held_keys: Sequence[str]) -> bool:
    """The messages found in the tracker appear in the order they were sent."""
    sent_set, held_set = set(sent_keys), set(held_keys)
    held_first = [key for key in dict.fromkeys(held_keys) if key in sent_set]
    return held_first == [key for key in sent_keys if key in held_set]


def check_events(
    requests: Iterable[Request], trackers: Mapping[str, Sequence[UserEvent]]
) -> EventCheck:
    """Compares the journal with the user events of each sender's tracker.

    A message the server answered must be there once; one it never answered (no HTTP
    response) may be there at most once. Anything else in the tracker is unexpected.
    """
    by_sender: dict[str, list[Request]] = defaultdict(list)
    for request in requests:
        by_sender[request.sender].append(request)
    sent = unanswered = present_once = lost = duplicated = unexpected = out_of_order = 0
    for sender, sender_requests in by_sender.items():
        ordered = sorted(sender_requests, key=lambda request: request.started_at)
        sent_keys, held_keys = _keys(ordered, trackers.get(sender, ()))
        counts = Counter(held_keys)
        for request, key in zip(ordered, sent_keys, strict=True):
            sent += 1
            found = counts.pop(key, 0)
            if not request.answered:
                unanswered += 1
                duplicated += max(0, found - 1)
                continue
            if found == 0:
                lost += 1
            elif found == 1:
                present_once += 1
            else:
                duplicated += found - 1
        unexpected += sum(counts.values())
        if not _same_order(sent_keys, held_keys):
            out_of_order += 1
    return EventCheck(
        conversations=len(by_sender),
        sent=sent,
        unanswered=unanswered,
        present_once=present_once,
        lost=lost,
        duplicated=duplicated,
        unexpected=unexpected,
        out_of_order=out_of_order,
    )
