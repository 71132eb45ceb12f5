"""Engine and session factory of the case store. Nothing connects at import time."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bot.store.models import Base

DB_URL_ENV = "POSBOT_DB_URL"
DEFAULT_DB_URL = "sqlite:///var/posbot.db"
PG_CONNECT_TIMEOUT_SECONDS = 3


class StoreConfigError(ValueError):
    """The configured database URL is unusable."""


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """Returns the case store URL: ``POSBOT_DB_URL`` or the embedded SQLite default."""
    environ = os.environ if environ is None else environ
    return environ.get(DB_URL_ENV, "").strip() or DEFAULT_DB_URL


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # Write-ahead log: readers (the bot's look-ups) never wait for a writer (an identity check
    # being recorded), and a commit is one append instead of a journal round trip.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    """Creates an engine for ``url``; SQLite gets foreign keys and its folder created.

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
        return engine
    connect_args: dict[str, object] = {}
    if parsed.get_backend_name() == "postgresql":
        # A database that does not answer at all must fail the look-up within seconds (the
        # user then hears "cannot look it up now"), well before nginx cuts the action call.
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_SECONDS
    return create_engine(parsed, future=True, pool_pre_ping=True, connect_args=connect_args)


class CaseStore:
    """Owns the engine and hands out short-lived sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        self._sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)

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


_default_store: CaseStore | None = None
_default_lock = threading.Lock()


def default_store() -> CaseStore:
    """The process-wide store from the environment, created on first use."""
    global _default_store
    with _default_lock:
        if _default_store is None:
            _default_store = CaseStore.from_env()
        return _default_store
