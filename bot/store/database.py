"""Engine and session factories of the case store. Nothing connects at import time.

A unit of work costs as few network round trips as it can on PostgreSQL:

- no ``SELECT 1`` before each use of a pooled connection (``pool_pre_ping``: one round trip
  per unit of work). :func:`bot.store.pool_ping.ping_when_idle` polls the socket instead (a
  connection the server closed or reset is replaced for free) and pings only a connection
  idle for seconds;
- read-only work (:meth:`CaseStore.reading`) runs on an autocommit connection: no ``BEGIN``,
  ``COMMIT`` or ``ROLLBACK`` around its statements (each statement sees committed data, as in
  a ``READ COMMITTED`` transaction). A read that meets a connection the database dropped is
  tried once more on a new connection, so a restarted database is used again at once;
- writes keep one transaction per unit of work (``BEGIN`` … ``COMMIT``), never retried: a
  write is not known to be undone when its connection dies.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bot.settings import DB_URL, SettingError
from bot.store import database_async
from bot.store.models import Base
from bot.store.pool_ping import ping_when_idle
from bot.store.unit_retry import attempt, count_statement, may_run_again

T = TypeVar("T")

DB_URL_ENV = DB_URL.env
DEFAULT_DB_URL = DB_URL.default
PG_CONNECT_TIMEOUT_SECONDS = 3
AUTOCOMMIT: Final = "AUTOCOMMIT"


class StoreConfigError(SettingError):
    """The configured database URL is unusable."""


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """Returns the case store URL: ``POSBOT_DB_URL`` or the embedded SQLite default."""
    return DB_URL.read(environ)


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # Write-ahead log: readers (the bot's look-ups) never wait for a writer (an identity check
    # being recorded), and a commit is one append instead of a journal round trip.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_db_engine(url: str, *, autocommit: bool = False) -> Engine:
    """Creates an engine for ``url``; SQLite gets foreign keys and its folder created.

    ``autocommit``: the connections never open a transaction (a server database only; for
    SQLite the argument is ignored).

    Raises:
        StoreConfigError: when the URL cannot be parsed.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise StoreConfigError(f"{DB_URL_ENV} is not a valid database URL: {error}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        file_backed = bool(parsed.database) and parsed.database != ":memory:"
        engine = create_engine(
            parsed,
            future=True,
            connect_args={"check_same_thread": False, "timeout": 5},
            # SQLAlchemy 1.4 opens a new file connection per session by default; a small pool
            # halves a case look-up (the PRAGMAs above run once per connection, not per action).
            **({"poolclass": QueuePool, "pool_size": 5, "max_overflow": 5} if file_backed else {}),
        )
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        event.listen(engine, "after_cursor_execute", count_statement)
        return engine
    connect_args: dict[str, object] = {}
    if parsed.get_backend_name() == "postgresql":
        # A database that does not answer at all must fail the look-up within seconds (the
        # user then hears "cannot look it up now"), well before nginx cuts the action call.
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_SECONDS
    options: dict[str, Any] = {"isolation_level": AUTOCOMMIT} if autocommit else {}
    engine = create_engine(parsed, future=True, connect_args=connect_args, **options)
    # A dead pooled connection is replaced without a ping per unit of work: a closed one is
    # seen on checkout, one found dead by the first statement is retried (CaseStore).
    ping_when_idle(engine)
    event.listen(engine, "after_cursor_execute", count_statement)
    return engine


def _twice_on_disconnect(unit: Callable[[], T], *, always: bool) -> T:
    """Runs ``unit``; when the database had dropped its connection (no ping before use, see
    :mod:`bot.store.pool_ping`), runs it once more on a new one (:mod:`bot.store.unit_retry`:
    ``always``, or when none of its statements had completed)."""
    for number in (1, 2):
        with attempt() as completed:
            try:
                return unit()
            except DBAPIError as error:
                if number == 2 or not may_run_again(error, completed[0], always=always):
                    raise
    raise AssertionError("unreachable")  # pragma: no cover


class CaseStore:
    """Owns the engine and hands out short-lived sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        # PostgreSQL through asyncpg: the services' units of work run on the event loop
        # (database_async); the synchronous engine (schema, imports, tools) stays psycopg2.
        on_loop = database_async.serves(url)
        self._loop_engines = (
            database_async.LoopEngines(url, PG_CONNECT_TIMEOUT_SECONDS) if on_loop else None
        )
        self.engine = create_db_engine(database_async.sync_url(url) if on_loop else url)
        self._sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)
        # Reads get a pool of their own, in autocommit from the start: switching a connection
        # of the main pool to autocommit and back costs psycopg2 a round trip (``SET
        # default_transaction_isolation``) each time. SQLite reads share the main pool (no
        # network; a ``:memory:`` database exists once per engine).
        self.read_engine = (
            self.engine
            if self.engine.dialect.name == "sqlite"
            else create_db_engine(self.engine.url.render_as_string(False), autocommit=True)
        )
        self._read_sessions = sessionmaker(self.read_engine, future=True, expire_on_commit=False)

    @classmethod
    def from_env(cls) -> CaseStore:
        """Builds the store configured by the environment."""
        return cls(database_url())

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def reading(self, work: Callable[[Session], T]) -> T:
        """Runs read-only ``work`` in an autocommit session (no transaction round trips on a
        server database) and returns its result; run once more on a new connection when the
        database had dropped the pooled one.

        ``work`` must not write: nothing is rolled back.
        """
        return _twice_on_disconnect(lambda: self._read(work), always=True)

    def writing(self, work: Callable[[Session], T]) -> T:
        """Runs ``work`` in one transaction (:meth:`session`) and returns its result; run once
        more on a new connection when the database had dropped the pooled one before any of
        ``work``'s statements completed (nothing of it can be stored then: the server rolls
        an unfinished transaction back)."""
        return _twice_on_disconnect(lambda: self._write(work), always=False)

    async def read_async(self, work: Callable[[Session], T]) -> T:
        """:meth:`reading` from the event loop: on it through asyncpg (PostgreSQL), else on a
        worker thread."""
        if self._loop_engines is not None:
            return await self._loop_engines.reading(work)
        return await asyncio.to_thread(self.reading, work)

    async def write_async(self, work: Callable[[Session], T]) -> T:
        """:meth:`writing` from the event loop: on it through asyncpg (PostgreSQL), else on a
        worker thread."""
        if self._loop_engines is not None:
            return await self._loop_engines.writing(work)
        return await asyncio.to_thread(self.writing, work)

    def _read(self, work: Callable[[Session], T]) -> T:
        with self._read_sessions() as session:
            return work(session)

    def _write(self, work: Callable[[Session], T]) -> T:
        with self.session() as session:
            return work(session)

    def create_schema(self) -> None:
        """Creates missing tables (idempotent)."""
        Base.metadata.create_all(self.engine)

    def has_schema(self) -> bool:
        """Whether the case store tables exist."""
        names = set(inspect(self.engine).get_table_names())
        return set(Base.metadata.tables).issubset(names)

    def dispose(self) -> None:
        """Closes pooled connections."""
        self.engine.dispose()
        self.read_engine.dispose()
        if self._loop_engines is not None:
            self._loop_engines.drop()


_default_store: CaseStore | None = None
_default_lock = threading.Lock()


def default_store() -> CaseStore:
    """The process-wide store from the environment, created on first use."""
    global _default_store
    with _default_lock:
        if _default_store is None:
            _default_store = CaseStore.from_env()
        return _default_store
