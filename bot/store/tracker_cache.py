"""The per-process cache of the tracker store: each conversation's current session, as stored.

An entry is what the ``events`` table held for one sender when this process last read or wrote
it: the rows of the latest session (from its ``session_started`` row on; every row when there
is none), their serialised (redacted) JSON, the id of the first and of the last row. Entries are
immutable; a change makes a new entry.

It is checked against the table on every read (:mod:`bot.store.tracker_queries`, one round
trip): the rows written after ``last_id`` are appended, and the number of stored rows between
``first_id`` and ``last_id`` must still be the entry's, else the entry is read again whole (rows
deleted by retention, or written out of order by a process that did not hold the lock). The
lock store serialises the turns of a conversation, so every turn's rows are committed after the
previous turn's, with larger ids.

The cache is bounded by the number of events and of conversations it holds (least recently used
entries go first).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final, NamedTuple

SESSION_STARTED: Final = "session_started"
DEFAULT_MAX_EVENTS: Final = 200_000
DEFAULT_MAX_ENTRIES: Final = 20_000


class StoredRow(NamedTuple):
    """One row of the ``events`` table: id, event type and serialised event."""

    id: int
    type_name: str
    data: str


@dataclass(frozen=True)
class SessionEntry:
    """The stored rows of a conversation's latest session, as this process last saw them.

    ``seen_in`` is the lock hold (``bot.store.lock_context``) during which this process last
    read or wrote them, if it held the conversation's lock then.
    """

    first_id: int
    last_id: int
    data: tuple[str, ...]
    seen_in: str | None = None

    @classmethod
    def from_rows(cls, rows: Sequence[StoredRow]) -> SessionEntry:
        """The entry of ``rows`` (ordered by id), cut at their last session start."""
        return EMPTY.extended(rows)

    @property
    def count(self) -> int:
        """Number of stored rows the entry holds."""
        return len(self.data)

    @property
    def is_empty(self) -> bool:
        """Nothing is stored for the sender."""
        return not self.data

    def seen(self, hold_id: str | None) -> SessionEntry:
        """This entry, seen during the lock hold ``hold_id``."""
        return self if hold_id == self.seen_in else replace(self, seen_in=hold_id)

    def extended(self, rows: Sequence[StoredRow]) -> SessionEntry:
        """This entry with ``rows`` (ordered by id, all after ``last_id``) appended.

        A ``session_started`` row among them starts the session again from that row. The new
        entry is not marked as seen in any hold.
        """
        if not rows:
            return self
        start = 0
        for index in range(len(rows) - 1, -1, -1):
            if rows[index].type_name == SESSION_STARTED:
                start = index
                break
        else:
            if self.data:
                return SessionEntry(
                    self.first_id, rows[-1].id, self.data + tuple(row.data for row in rows)
                )
        kept = rows[start:]
        return SessionEntry(kept[0].id, kept[-1].id, tuple(row.data for row in kept))


# A sender with nothing stored (as far as this process knows).
EMPTY: Final = SessionEntry(0, 0, ())


class TrackerCache:
    """Least recently used entries, bounded by the number of conversations and of events."""

    def __init__(
        self, max_events: int = DEFAULT_MAX_EVENTS, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> None:
        self.max_events = max_events
        self.max_entries = max_entries
        self._entries: OrderedDict[str, SessionEntry] = OrderedDict()
        self._events = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def events(self) -> int:
        """Number of events held."""
        return self._events

    def get(self, sender_id: str) -> SessionEntry | None:
        """The entry of ``sender_id`` (now the most recently used), or None."""
        entry = self._entries.get(sender_id)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(sender_id)
        return entry

    def peek(self, sender_id: str) -> SessionEntry | None:
        """The entry of ``sender_id`` without counting a use."""
        return self._entries.get(sender_id)

    def put(self, sender_id: str, entry: SessionEntry) -> None:
        """Keeps ``entry``, evicting the least recently used ones while there are too many
        events (an entry larger than the whole cache is not kept)."""
        self.discard(sender_id)
        if entry.count > self.max_events:
            return
        self._entries[sender_id] = entry
        self._events += entry.count
        while (self._events > self.max_events or len(self._entries) > self.max_entries) and (
            self._entries
        ):
            _, oldest = self._entries.popitem(last=False)
            self._events -= oldest.count

    def replace(self, sender_id: str, expected: SessionEntry | None, entry: SessionEntry) -> bool:
        """Puts ``entry`` only if the cached entry is still ``expected`` (another turn of
        the same conversation may have changed it meanwhile); else drops the sender."""
        if self._entries.get(sender_id) is not expected:
            self.discard(sender_id)
            return False
        if entry is not expected:
            self.put(sender_id, entry)
        return True

    def discard(self, sender_id: str) -> None:
        """Forgets ``sender_id``."""
        entry = self._entries.pop(sender_id, None)
        if entry is not None:
            self._events -= entry.count

    def clear(self) -> None:
        """Forgets everything."""
        self._entries.clear()
        self._events = 0
