"""Which conversation's lock the running turn holds, and who held it before.

The lock store (:mod:`bot.store.lock_store`) records, in the same Redis script that grants the
lock, an id for each hold of a conversation's lock and hands back the previous hold's id. While
the holder runs (the body of ``async with lock_store.lock(...)``, one asyncio task), that is
visible here. The tracker store (:mod:`bot.store.tracker_store`) uses it to skip a round trip:
when the previous hold was its own and it saw (read or wrote) the conversation during that hold,
nobody else can have written since, so its cached session is the stored one.

That relies on every writer of a conversation holding its lock through ``lock`` (Rasa's
processor, the agent desk); the lock store's synchronous interface clears the record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final

#: How long the id of a conversation's last hold is kept by a lock store.
LAST_HOLD_SECONDS: Final = 24 * 3600.0


@dataclass(frozen=True)
class Hold:
    """One hold of a conversation's lock: its id and the id of the hold before it."""

    conversation_id: str
    hold_id: str
    previous_hold_id: str | None


_CURRENT: ContextVar[Hold | None] = ContextVar("posbot_lock_hold", default=None)


def new_holder_id() -> str:
    """A name for one lock store (one per Rasa process) that starts each of its hold ids."""
    return uuid.uuid4().hex[:12]


def new_hold_id(holder_id: str) -> str:
    """A new, unique id for a hold of a lock by the lock store ``holder_id``."""
    return f"{holder_id}:{uuid.uuid4().hex[:16]}"


def current_hold(conversation_id: str) -> Hold | None:
    """The running turn's hold of ``conversation_id``'s lock, or None."""
    hold = _CURRENT.get()
    return hold if hold is not None and hold.conversation_id == conversation_id else None


@contextmanager
def holding(hold: Hold) -> Iterator[None]:
    """Makes ``hold`` visible to the code that runs inside (same task)."""
    token = _CURRENT.set(hold)
    try:
        yield
    finally:
        _CURRENT.reset(token)
