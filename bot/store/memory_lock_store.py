"""Rasa's in-memory lock store, telling the tracker store who held a conversation before.

One Rasa process (``make run``) needs no Redis: Rasa's ``InMemoryLockStore`` serialises the
turns of a conversation within the process. This one also records, as
:class:`bot.store.lock_store.AtomicRedisLockStore` does across processes, an id for each hold
of a conversation's lock and the id of the hold before it (:mod:`bot.store.lock_context`), so
the tracker store skips reading the table when this process saw the conversation during the
previous hold: the only writers of a conversation are the turns and the agent desk of this
process, and both hold its lock. A turn then costs one statement (the insert) instead of two.

Configured in ``endpoints.yml``::

    lock_store:
      type: bot.store.memory_lock_store.HoldingInMemoryLockStore
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, Final

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore

from bot.store.lock_context import LAST_HOLD_SECONDS, Hold, holding, new_hold_id, new_holder_id

#: Conversations whose last hold is remembered (the least recently held are forgotten first).
MAX_REMEMBERED: Final = 100_000
#: Seconds between attempts of a turn waiting for the conversation's lock: checking memory is
#: free, and Rasa's default (1 s) kept a merchant's quick second message waiting a whole second.
WAIT_SECONDS: Final = 0.02


class HoldingInMemoryLockStore(InMemoryLockStore):
    """``InMemoryLockStore`` that names each hold and hands the previous one to the turn."""

    def __init__(
        self,
        endpoint_config: Any = None,
        max_remembered: int = MAX_REMEMBERED,
        last_hold_seconds: float = LAST_HOLD_SECONDS,
    ) -> None:
        """Remembers the last hold of at most ``max_remembered`` conversations, each for
        ``last_hold_seconds`` (``endpoint_config``: the endpoints file's section, unused)."""
        super().__init__()
        self.max_remembered = max_remembered
        self.last_hold_seconds = last_hold_seconds
        self.holder_id = new_holder_id()
        self._last: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def _previous_and_record(self, conversation_id: str, hold_id: str) -> str | None:
        """The id of the conversation's previous hold (if still remembered); records ``hold_id``
        as its last. Called only while holding the lock, so holds are seen in order."""
        now = time.monotonic()
        last = self._last.pop(conversation_id, None)
        previous = last[0] if last is not None and now - last[1] < self.last_hold_seconds else None
        self._last[conversation_id] = (hold_id, now)
        while len(self._last) > self.max_remembered:
            self._last.popitem(last=False)
        return previous

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = WAIT_SECONDS,
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's lock of ``conversation_id``, with the hold visible to the turn inside."""
        async with super().lock(conversation_id, lock_lifetime, wait_time_in_seconds) as held:
            hold_id = new_hold_id(self.holder_id)
            previous = self._previous_and_record(conversation_id, hold_id)
            with holding(Hold(conversation_id, hold_id, previous)):
                yield held
