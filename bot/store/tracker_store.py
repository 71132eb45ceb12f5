"""Rasa's SQL tracker store with personal data redacted, failures made loud, and turns cheap.

Differences from ``SQLTrackerStore`` (Rasa 3.6):

- every event goes through ``bot.redaction.redact_event`` before it is written, so personal
  data never reaches the ``events`` table (nor this process's cache of it);
- nothing blocks the event loop: on PostgreSQL the statements run on the loop through asyncpg
  (:mod:`bot.store.tracker_pg`, a pool of ``pool_size`` connections, prepared statements),
  on SQLite in the store's own worker thread (one: a single writer never waits for SQLite's
  file lock); ``postgresql+psycopg2://`` keeps psycopg2 in ``pool_size`` worker threads;
- a turn costs two statements, each one network round trip (autocommit: no ``BEGIN`` or
  ``COMMIT``; no ping of a connection in steady use, see :mod:`bot.store.pool_ping`):
  ``retrieve`` reads only the rows written since this process last saw the conversation (with
  a check that none of those it holds went away) and ``save`` inserts only the turn's new
  events, in one multi-row ``INSERT``. Rasa's reads the whole latest session and counts it
  again on every save. The per-process cache (:mod:`bot.store.tracker_cache`) keeps each
  conversation's latest session as stored (redacted); it stays right across several Rasa
  processes because every read checks the table, and the lock store serialises the turns of
  a conversation;
- a read replays only the rows stored since this process last read the conversation
  (:class:`ReplayedTrackers`, the 256 most recently read conversations): Rasa replays every
  event of the session on every read, the largest per-turn cost that grew with the length of
  a conversation;
- the constructor never blocks: Rasa's retries forever (``sleep(5)``) while the database is
  down; this one creates the table on first successful use;
- connect and statement time are bounded, a connection idle in the pool is pinged before use,
  and a read that meets a connection the database dropped is retried once on a new one, so a
  database that comes back is used again without a restart;
- a database failure raises ``TrackerStoreUnavailable`` and logs an ERROR alert. Rasa wraps
  every tracker store in ``FailSafeTrackerStore``, which catches ``Exception`` and carries on
  with an empty in-memory tracker: the bot would answer without the conversation and its
  events would be lost. ``TrackerStoreUnavailable`` therefore derives from ``BaseException``
  so it passes that wrapper; the channel turns it into a polite reply.

Configured in the endpoints file (the production profile generates it)::

    tracker_store:
      type: bot.store.tracker_store.RedactingSQLTrackerStore
      url: postgresql://user@host:5432/db
      pool_size: 4            # pooled connections (PostgreSQL)
      cache_events: 200000    # events of current sessions kept in memory

Without ``url`` (the embedded profile's ``endpoints.yml``) the URL is ``POSBOT_TRACKER_URL``,
by default ``sqlite:///var/tracker.db``: conversations survive a restart of ``make run`` and
are redacted on SQLite exactly as on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, MutableSequence, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar

import orjson
import sqlalchemy as sa
import sqlalchemy.orm
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, deserialise_events
from rasa.shared.core.trackers import AnySlotDict, DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.errors import TrackerStoreUnavailable  # raised here; also importable from here
from bot.json_values import json_default
from bot.redaction import redact_event
from bot.settings import TRACKER_URL
from bot.store import tracker_pg
from bot.store import tracker_queries as queries
from bot.store.lock_context import current_hold
from bot.store.pool_ping import ping_when_idle
from bot.store.tracker_cache import SessionEntry, StoredRow, TrackerCache
from bot.store.tracker_pg import AsyncpgStatements
from bot.store.tracker_queries import Query
from bot.tracker_speedups import (
    applied_fold,
    fast_applied_events,
    remember_applied,
    state_copy,
)

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS: Final = 3
STATEMENT_TIMEOUT_MS: Final = 5000
ALERT: Final = "ALERT tracker store unavailable"
TRACKER_URL_ENV: Final = TRACKER_URL.env
DEFAULT_TRACKER_URL: Final = TRACKER_URL.default
# Worker threads and pooled connections per process (PostgreSQL; SQLite has one of each).
DEFAULT_POOL_SIZE: Final = 4
# Extra connections for callers outside the worker threads (tests, maintenance).
POOL_OVERFLOW: Final = 2
# The tracker remembers how many of its events are stored, and as which cache entry.
_STORED: Final = "_posbot_stored"
_JSON_OPTIONS: Final = orjson.OPT_NON_STR_KEYS
# Conversations whose replayed tracker is kept (the most recently read ones).
DEFAULT_REPLAYED: Final = 256

T = TypeVar("T")


def engine_options(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> dict[str, Any]:
    """Engine options: autocommit, a pool of ``pool_size``, bounded waits on PostgreSQL.

    SQLite keeps one connection (its worker thread's; the PRAGMAs run once).
    """
    options: dict[str, Any] = {
        **create_engine_kwargs(url),
        "future": True,
        "isolation_level": "AUTOCOMMIT",
    }
    backend = sa.engine.make_url(url).get_backend_name()
    if backend == "postgresql":
        connect_args = dict(options.get("connect_args") or {})
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        statement = f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
        connect_args["options"] = f"{connect_args.get('options', '')} {statement}".strip()
        options["connect_args"] = connect_args
        options.update(pool_size=pool_size, max_overflow=POOL_OVERFLOW)
    elif backend == "sqlite":
        options.update(
            poolclass=sa.pool.QueuePool,
            pool_size=1,
            max_overflow=POOL_OVERFLOW,
            connect_args={"check_same_thread": False},
        )
    return options


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """Write-ahead log and normal sync for the embedded SQLite tracker store.

    Every turn appends events: with the default rollback journal each commit syncs the file
    twice and readers wait for writers; with WAL a commit is one append and reads go on.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def tracker_url(configured: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The endpoint's URL, else ``POSBOT_TRACKER_URL``, else the SQLite file in ``var/``.

    The folder of a SQLite file is created.

    Raises:
        ValueError: the URL is not a database URL.
    """
    url = (configured or "").strip() or TRACKER_URL.raw(environ) or ""
    url = url or DEFAULT_TRACKER_URL
    if "://" not in url:
        raise ValueError(
            f"RedactingSQLTrackerStore needs a database URL (endpoint 'url' or "
            f"{TRACKER_URL_ENV}), got {url.split(':', 1)[0]!r}…"
        )
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return url


def serialise_event(event: Event) -> tuple[dict[str, Any], str]:
    """The event as stored: redacted, and its compact JSON."""
    data = redact_event(event.as_dict())
    try:
        text = orjson.dumps(data, default=json_default, option=_JSON_OPTIONS).decode()
    except TypeError:
        text = json.dumps(data, ensure_ascii=False)
    return data, text


def _row(sender_id: str, event: Event) -> tuple[tuple[Any, ...], str]:
    data, text = serialise_event(event)
    intent = (data.get("parse_data") or {}).get("intent", {}).get(INTENT_NAME_KEY)
    values = (sender_id, event.type_name, data.get("timestamp"), intent, data.get("name"), text)
    return values, text


def _is_disconnect(error: SQLAlchemyError) -> bool:
    return isinstance(error, DBAPIError) and error.connection_invalidated


class RedactingSQLTrackerStore(SQLTrackerStore):
    """SQL tracker store that redacts events, never silently loses a conversation, and
    costs one round trip per read and per write."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        url: str | None = None,
        pool_size: int | str | None = None,
        cache_events: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        """Creates the engine, the worker threads and the cache; connects on first use.

        Args:
            domain: the bot's domain.
            host: the database URL (Rasa passes the endpoint's ``url`` as ``host``); when
                neither it nor ``url`` is given, see :func:`tracker_url`.
            event_broker: optional broker that receives new events.
            url: the database URL, when not given as ``host``.
            pool_size: worker threads and connections (PostgreSQL; SQLite uses one).
            cache_events: how many events of current sessions the cache may hold.
            kwargs: other endpoint settings (ignored).
        """
        database_url = tracker_url(url or host)
        size = max(1, int(pool_size or DEFAULT_POOL_SIZE))
        self.statements: AsyncpgStatements | None = None
        if tracker_pg.serves(database_url):
            self.statements = AsyncpgStatements(
                database_url, size, CONNECT_TIMEOUT_SECONDS, STATEMENT_TIMEOUT_MS
            )
            database_url = tracker_pg.sync_url(database_url)  # the engine creates the table
        self.engine = sa.create_engine(database_url, **engine_options(database_url, size))
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _tune_sqlite)
        ping_when_idle(self.engine)
        self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        # Worker threads: the statements on SQLite (one: a single writer never waits for the
        # file lock) or psycopg2; with asyncpg only the table's creation.
        threads = size if self.engine.dialect.name != "sqlite" and self.statements is None else 1
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tracker-store")
        self.cache = TrackerCache(**({"max_events": int(cache_events)} if cache_events else {}))
        self.replayed = ReplayedTrackers(DEFAULT_REPLAYED)
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self._healthy = True
        TrackerStore.__init__(self, domain, event_broker)

    # --- plumbing --------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        with self._schema_lock:
            if not self._schema_ready:
                self.Base.metadata.create_all(self.engine, checkfirst=True)
                with self.engine.connect() as connection:
                    queries.create_indexes(connection)
                self._schema_ready = True
                if self.statements is not None:
                    self.engine.dispose()  # its connection is not needed any more

    def _failed(self, operation: str, error: BaseException) -> TrackerStoreUnavailable:
        self._healthy = False
        logger.error(
            "%s: %s failed (%s); the user gets a polite reply, nothing is kept in memory",
            ALERT,
            operation,
            error.__class__.__name__,
        )
        return TrackerStoreUnavailable(f"tracker store {operation} failed")

    def _succeeded(self) -> None:
        if not self._healthy:
            self._healthy = True
            logger.warning("tracker store recovered")

    def _with_connection(
        self, make_query: Callable[..., Query[T]], args: tuple[Any, ...], retry: bool
    ) -> T:
        """Runs ``make_query(*args)`` in a worker thread; a read is tried again once on a new
        connection when the database had dropped the pooled one."""
        self._ensure_schema()
        for attempt in itertools.count():
            try:
                with self.engine.connect() as connection:
                    return queries.run_on_connection(connection, make_query(*args))
            except SQLAlchemyError as error:
                if not (retry and attempt == 0 and _is_disconnect(error)):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run(
        self,
        operation: str,
        make_query: Callable[..., Query[T]],
        *args: Any,
        retry: bool = False,
    ) -> T:
        """``make_query(*args)`` on the database: on the event loop through asyncpg, else in a
        worker thread; a database failure becomes :class:`TrackerStoreUnavailable`."""
        loop = asyncio.get_running_loop()
        try:
            if self.statements is None:
                call = functools.partial(self._with_connection, make_query, args, retry)
                result = await loop.run_in_executor(self._executor, call)
            else:
                if not self._schema_ready:
                    await loop.run_in_executor(self._executor, self._ensure_schema)
                result = await self.statements.run(make_query, args, retry)
        except (SQLAlchemyError, *tracker_pg.FAILURES) as error:
            raise self._failed(operation, error) from None
        self._succeeded()
        return result

    def close(self) -> None:
        """Stops the worker threads and closes the pooled connections."""
        self._executor.shutdown(wait=True)
        if self.statements is not None:
            self.statements.close()
        self.engine.dispose()

    # --- reading -----------------------------------------------------------------------------

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker of the latest session of ``sender_id``, or None for a new one."""
        try:
            entry = await self._current_entry(sender_id)
        except TrackerStoreUnavailable:
            self.cache.discard(sender_id)
            self.replayed.discard(sender_id)
            raise
        return self._tracker(sender_id, entry)

    async def _current_entry(self, sender_id: str) -> SessionEntry:
        hold = current_hold(sender_id)
        cached = self.cache.get(sender_id)
        if (
            cached is not None
            and hold is not None
            and hold.previous_hold_id is not None
            and cached.seen_in == hold.previous_hold_id
        ):
            # Nobody held the conversation's lock since this process last saw it.
            entry = cached
        else:
            entry = await self._checked_entry(sender_id, cached)
        if hold is not None:
            entry = entry.seen(hold.hold_id)
        self.cache.replace(sender_id, cached, entry)
        return entry

    async def _checked_entry(self, sender_id: str, cached: SessionEntry | None) -> SessionEntry:
        """The cached entry brought up to date with the table (one statement), or read
        whole when there is none or some of its rows went away."""
        if cached is not None:
            still_stored, rows = await self._run(
                "retrieve", queries.changes_since, sender_id, cached, retry=True
            )
            if still_stored == cached.count:
                return cached.extended(rows)
        rows = await self._run("retrieve", queries.load_session, sender_id, retry=True)
        return SessionEntry.from_rows(rows)

    def _tracker(self, sender_id: str, entry: SessionEntry) -> DialogueStateTracker | None:
        if not entry.count:
            return None
        tracker = self.replayed.tracker(sender_id, entry, self.domain.slots)
        setattr(tracker, _STORED, (entry, len(tracker.events)))
        return tracker

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        """The tracker with the events of every session (read from the table, not cached)."""
        rows = await self._run("retrieve", queries.all_events, conversation_id, retry=True)
        if not rows:
            return None
        events = [orjson.loads(data) for data in rows]
        return DialogueStateTracker.from_dict(conversation_id, events, self.domain.slots)

    async def keys(self) -> list[str]:
        """Sender ids of every stored conversation."""
        return await self._run("keys", queries.sender_ids, retry=True)

    def init_tracker(self, sender_id: str) -> DialogueStateTracker:
        """A new tracker; known to have nothing stored when the last read found nothing."""
        tracker = super().init_tracker(sender_id)
        cached = self.cache.peek(sender_id)
        if cached is not None and cached.is_empty:
            setattr(tracker, _STORED, (cached, 0))
        return tracker

    # --- writing -----------------------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Appends the tracker's new events, redacted, with one statement."""
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        cached = self.cache.peek(sender_id)
        stored = getattr(tracker, _STORED, None)
        if stored is None and cached is not None and cached.is_empty:
            # A tracker Rasa made (``create_tracker``) after a read found nothing: the insert
            # below checks that nothing was stored meanwhile.
            stored = (cached, 0)
        if stored is None or (cached is not None and cached is not stored[0]):
            await self._save_after_count(tracker)
            return
        base, known = stored
        new_events = list(itertools.islice(tracker.events, known, None))
        if not new_events:
            return
        rows = [_row(sender_id, event) for event in new_events]
        values = [row for row, _ in rows]
        try:
            ids = await self._run("save", queries.append_rows, sender_id, base.last_id, values)
        except TrackerStoreUnavailable:
            self.cache.discard(sender_id)  # the rows may or may not be stored
            raise
        if ids is None:
            # Rows were stored after this process last read the conversation (it did not hold
            # the conversation's lock, or lost it): the turn's events go after them all.
            logger.warning(
                "tracker store: the conversation changed since it was read; appending the "
                "turn's events after the stored ones"
            )
            self.cache.discard(sender_id)
            setattr(tracker, _STORED, None)
            await self._run("save", queries.insert_rows, values)
            return
        entry = base.extended(
            [
                StoredRow(row_id, event.type_name, text)
                for row_id, event, (_, text) in zip(ids, new_events, rows, strict=True)
            ]
        )
        hold = current_hold(sender_id)
        entry = entry.seen(hold.hold_id if hold is not None else None)
        self.cache.replace(sender_id, cached, entry)
        setattr(tracker, _STORED, (entry, known + len(new_events)))

    async def _save_after_count(self, tracker: DialogueStateTracker) -> None:
        """Rasa's way: the events after as many as the stored session has are new."""
        setattr(tracker, _STORED, None)
        self.cache.discard(tracker.sender_id)
        await self._run("save", _count_and_insert, tracker)


def _count_and_insert(tracker: DialogueStateTracker) -> Query[None]:
    stored = yield from queries.count_session(tracker.sender_id)
    new_events: Sequence[Event] = list(itertools.islice(tracker.events, stored, None))
    yield from queries.insert_rows([_row(tracker.sender_id, e)[0] for e in new_events])


def detached_copy(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """A copy of ``tracker``'s state (own slots, loop, latest action and events list) whose
    latest user message and latest bot utterance are copies too.

    The other events are shared: Rasa never assigns an attribute of an event it did not just
    create except the latest user message's (``ActionExecuted.apply_to`` sets its
    ``use_text_for_featurization``), so copying every event on each read (about 1.7 ms of a
    turn at 60 turns) bought nothing. Nested values such as parse data are shared, as between
    Rasa's own tracker copies.
    """
    clone = state_copy(tracker)
    events = clone.events
    twins: dict[int, tuple[Event, Event]] = {}  # id of the original: (original, twin)
    for latest, attribute in (
        (tracker.latest_message, "latest_message"),
        (tracker.latest_bot_utterance, "latest_bot_utterance"),
    ):
        if latest is None:
            continue
        twin = object.__new__(type(latest))
        twin.__dict__.update(latest.__dict__)
        setattr(clone, attribute, twin)
        if _replace_last(events, latest, twin):
            twins[id(latest)] = (latest, twin)
    fold = applied_fold(tracker)
    if fold is not None and twins:  # the walk so far, with the same twins in its events
        applied = list(fold.applied)
        for original, twin in twins.values():
            _replace_last(applied, original, twin)
        last = twins.get(id(fold.last), (fold.last, fold.last))[1]
        remember_applied(clone, dataclasses.replace(fold, last=last, applied=applied))
    return clone


def _replace_last(events: MutableSequence[Any], original: Any, twin: Any) -> bool:
    """Replaces the last occurrence of ``original`` (by identity) in ``events`` with ``twin``,
    looking from the end, where a turn adds its events."""
    for index in range(len(events) - 1, -1, -1):
        if events[index] is original:
            events[index] = twin
            return True
    return False


class ReplayedTrackers:
    """The tracker of each recently read conversation, replayed from its stored rows and kept
    up to date by replaying only the rows stored since (Rasa replays every event of the session
    on every read: the largest per-turn cost that grew with a conversation's length).

    A read gets a copy (:func:`detached_copy`: its own slots, loop, latest action, events list
    and latest messages), never the kept tracker itself; the kept one holds the
    events as stored (redacted), exactly what ``DialogueStateTracker.from_dict`` of the rows
    gives. Bounded by the number of conversations (least recently read go first).
    """

    def __init__(self, max_conversations: int) -> None:
        self.max_conversations = max_conversations
        # sender -> (the rows replayed, the tracker they replay to)
        self._kept: OrderedDict[str, tuple[tuple[str, ...], DialogueStateTracker]] = OrderedDict()

    def tracker(self, sender_id: str, entry: SessionEntry, slots: Any) -> DialogueStateTracker:
        """A tracker of ``entry``'s rows (``slots``: the domain's)."""
        kept = self._kept.pop(sender_id, None)
        rows = entry.data
        if kept is not None and len(kept[0]) <= len(rows) and rows[: len(kept[0])] == kept[0]:
            done, replayed = kept
            new = rows[len(done) :]
            for event in deserialise_events([orjson.loads(data) for data in new]):
                replayed.update(event)
        else:
            events = [orjson.loads(data) for data in rows]
            replayed = DialogueStateTracker.from_dict(sender_id, events, slots)
        if isinstance(replayed.slots, AnySlotDict):
            return replayed  # no domain: nothing kept
        fast_applied_events(replayed)  # walks the new events only: the copies continue from it
        if self.max_conversations > 0:
            self._kept[sender_id] = (rows, replayed)
            while len(self._kept) > self.max_conversations:
                self._kept.popitem(last=False)
        return detached_copy(replayed)

    def discard(self, sender_id: str) -> None:
        """Forgets ``sender_id``'s tracker."""
        self._kept.pop(sender_id, None)
