"""Rasa's SQL tracker store with personal data redacted and failures made loud.

Differences from ``SQLTrackerStore`` (Rasa 3.6):

- every event goes through ``bot.redaction.redact_event`` before it is written, so personal
  data never reaches the ``events`` table;
- the constructor never blocks: Rasa's retries forever (``sleep(5)``) while the database is
  down; this one creates the table on first successful use;
- the engine pings pooled connections (``pool_pre_ping``) and bounds connect and statement
  time, so a database that comes back is used again without a restart;
- a database failure raises ``TrackerStoreUnavailable`` and logs an ERROR alert. Rasa wraps
  every tracker store in ``FailSafeTrackerStore``, which catches ``Exception`` and carries on
  with an empty in-memory tracker: the bot would answer without the conversation and its
  events would be lost. ``TrackerStoreUnavailable`` therefore derives from ``BaseException``
  so it passes that wrapper; the channel turns it into a polite reply.

Configured in the endpoints file (the production profile generates it)::

    tracker_store:
      type: bot.store.tracker_store.RedactingSQLTrackerStore
      url: postgresql://user@host:5432/db

Without ``url`` (the embedded profile's ``endpoints.yml``) the URL is ``POSBOT_TRACKER_URL``,
by default ``sqlite:///var/tracker.db``: conversations survive a restart of ``make run`` and
are redacted on SQLite exactly as on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
import sqlalchemy.orm
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import TrackerStoreUnavailable  # raised here; also importable from here
from bot.redaction import redact_event
from bot.settings import TRACKER_URL

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS: Final = 3
STATEMENT_TIMEOUT_MS: Final = 5000
ALERT: Final = "ALERT tracker store unavailable"
TRACKER_URL_ENV: Final = TRACKER_URL.env
DEFAULT_TRACKER_URL: Final = TRACKER_URL.default


def engine_options(url: str) -> dict[str, Any]:
    """Engine options: Rasa's pool settings plus pre-ping and bounded waits on PostgreSQL."""
    options: dict[str, Any] = {**create_engine_kwargs(url), "pool_pre_ping": True, "future": True}
    if sa.engine.make_url(url).get_backend_name() == "postgresql":
        connect_args = dict(options.get("connect_args") or {})
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        statement = f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
        connect_args["options"] = f"{connect_args.get('options', '')} {statement}".strip()
        options["connect_args"] = connect_args
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


class RedactingSQLTrackerStore(SQLTrackerStore):
    """SQL tracker store that redacts events and never silently loses a conversation."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        url: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Creates the engine; connects on first use.

        Args:
            domain: the bot's domain.
            host: the database URL (Rasa passes the endpoint's ``url`` as ``host``); when
                neither it nor ``url`` is given, see :func:`tracker_url`.
            event_broker: optional broker that receives new events.
            url: the database URL, when not given as ``host``.
            kwargs: other endpoint settings (ignored).
        """
        database_url = tracker_url(url or host)
        self.engine = sa.create_engine(database_url, **engine_options(database_url))
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _tune_sqlite)
        self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self._healthy = True
        TrackerStore.__init__(self, domain, event_broker)

    def _ensure_schema(self) -> None:
        with self._schema_lock:
            if not self._schema_ready:
                self.Base.metadata.create_all(self.engine, checkfirst=True)
                self._schema_ready = True

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

    async def _run(self, operation: str, work: Any, *args: Any) -> Any:
        def guarded() -> Any:
            self._ensure_schema()
            return work(*args)

        try:
            result = await asyncio.to_thread(guarded)
        except SQLAlchemyError as error:
            raise self._failed(operation, error) from None
        self._succeeded()
        return result

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker of the latest session of ``sender_id``, or None for a new one."""
        return await self._run("retrieve", self._retrieve_sync, sender_id, False)

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        """The tracker with the events of every session."""
        return await self._run("retrieve", self._retrieve_sync, conversation_id, True)

    async def keys(self) -> list[str]:
        """Sender ids of every stored conversation."""
        return await self._run("keys", self._keys_sync)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Appends the tracker's new events, redacted."""
        await self.stream_events(tracker)
        await self._run("save", self._save_sync, tracker)

    def _keys_sync(self) -> list[str]:
        with self.sessionmaker() as session:
            rows = session.query(self.SQLEvent.sender_id).distinct().all()
            return [sender_id for (sender_id,) in rows]

    def _retrieve_sync(self, sender_id: str, all_sessions: bool) -> DialogueStateTracker | None:
        with self.sessionmaker() as session:
            rows = self._event_query(
                session, sender_id, fetch_events_from_all_sessions=all_sessions
            ).all()
            events = [json.loads(row.data) for row in rows]
        if not events:
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    def _save_sync(self, tracker: DialogueStateTracker) -> None:
        with self.sessionmaker() as session:
            for event in self._additional_events(session, tracker):
                data = redact_event(event.as_dict())
                intent = (data.get("parse_data") or {}).get("intent", {}).get(INTENT_NAME_KEY)
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=intent,
                        action_name=data.get("name"),
                        data=json.dumps(data, ensure_ascii=False),
                    )
                )
            session.commit()
