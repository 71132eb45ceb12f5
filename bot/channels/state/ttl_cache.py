"""A bounded in-memory mapping whose entries expire, for state kept by one process."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

DEFAULT_MAX_ENTRIES: Final = 10_000


class TtlCache(Generic[K, V]):
    """A bounded mapping whose entries expire ``ttl_seconds`` after they were last set.

    Not thread-safe: it is used from the event loop only.
    """

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The live value of ``key``, or ``None``."""
        self._purge()
        entry = self._entries.get(key)
        return entry[1] if entry else None

    def set(self, key: K, value: V) -> None:
        """Stores ``value`` under ``key`` and restarts its lifetime."""
        self._purge()
        self._entries[key] = (self._clock() + self.ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def add(self, key: K, value: V) -> bool:
        """Stores ``value`` only if ``key`` has no live value; ``True`` if it was stored."""
        if self.get(key) is not None:
            return False
        self.set(key, value)
        return True

    def pop(self, key: K) -> V | None:
        """Removes ``key`` and returns its live value, or ``None``."""
        self._purge()
        entry = self._entries.pop(key, None)
        return entry[1] if entry else None

    def __len__(self) -> int:
        self._purge()
        return len(self._entries)

    def _purge(self) -> None:
        # Every ``set`` moves its key to the end, so expiry times are in ascending order.
        now = self._clock()
        while self._entries:
            expires_at, _ = next(iter(self._entries.values()))
            if expires_at > now:
                break
            self._entries.popitem(last=False)
