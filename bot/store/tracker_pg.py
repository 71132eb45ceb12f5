"""The tracker store's statements on PostgreSQL through asyncpg, on the event loop.

psycopg2 in a worker thread cost the Rasa server about 0.6 ms of CPU per statement (the
thread hand-over both ways, SQLAlchemy, the parameters quoted into the text) and PostgreSQL
about 0.5 ms (each statement parsed and planned anew). asyncpg runs on the Rasa server's event
loop with prepared statements (each distinct statement prepared once per connection, then one
round trip per execution) and its own binary protocol: 0.1 ms of client CPU and 0.12 ms of
PostgreSQL CPU for the same six-row insert (``docs/benchmarks.md``, eighth round).

Used for ``postgresql://`` and ``postgresql+asyncpg://`` tracker URLs; ``postgresql+psycopg2://``
keeps the worker threads. The same bounds as there: 3 s to connect, 5 s per statement (set on
the server; the client gives up a second later for a server that stopped answering), a
connection idle for 5 s or more is pinged before use (one that the server closed is noticed by
the event loop and replaced), a read that meets a dropped connection is tried once more on a
new one. Releasing a connection to the pool costs no round trip: nothing here changes a
session's settings, so only an open transaction (after a failure) is rolled back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

import asyncpg
import sqlalchemy as sa

from bot.store.pool_ping import DEFAULT_IDLE_SECONDS
from bot.store.tracker_queries import NUMERIC_DOLLAR, Query, render, resume

T = TypeVar("T")

#: Tracker URL drivers served by asyncpg (``postgresql://`` has none).
ASYNCPG_DRIVERNAMES: Final = frozenset({"postgresql", "postgres", "postgresql+asyncpg"})
#: libpq URL parameters that are asyncpg keyword arguments, not server settings.
_CONNECT_TIMEOUT_KEY: Final = "connect_timeout"
#: A connection idle this long is pinged before use (as ``bot.store.pool_ping`` does).
IDLE_PING_SECONDS: Final = DEFAULT_IDLE_SECONDS
#: The client's own limit beyond the server's statement timeout (a server that went silent).
CLIENT_GRACE_SECONDS: Final = 1.0
#: Errors that mean the database or the connection to it failed.
FAILURES: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError)
#: Failures after which a read is tried again on another connection.
DISCONNECTS: Final = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CannotConnectNowError,
    ConnectionError,
)


def serves(url: str) -> bool:
    """Whether the tracker ``url`` is PostgreSQL without another driver named."""
    return sa.engine.make_url(url).drivername in ASYNCPG_DRIVERNAMES


def sync_url(url: str) -> str:
    """``url`` for SQLAlchemy's own (psycopg2) engine, which creates the table."""
    parsed = sa.engine.make_url(url)
    if parsed.drivername in ASYNCPG_DRIVERNAMES:
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def connect_arguments(
    url: str, connect_timeout: float, statement_timeout_ms: int
) -> tuple[str, dict[str, Any]]:
    """asyncpg's DSN and keyword arguments for ``url`` (its other URL parameters, such as
    ``sslmode`` or ``application_name``, are read by asyncpg from the DSN)."""
    parsed = sa.engine.make_url(url)
    query = dict(parsed.query)
    timeout = query.pop(_CONNECT_TIMEOUT_KEY, None)
    dsn = parsed.set(drivername="postgresql", query=query).render_as_string(hide_password=False)
    seconds = float(timeout if isinstance(timeout, str) else connect_timeout)
    return dsn, {
        "timeout": seconds,
        "command_timeout": statement_timeout_ms / 1000 + CLIENT_GRACE_SECONDS,
        "server_settings": {"statement_timeout": str(statement_timeout_ms)},
    }


class _StaleConnection(Exception):
    """The ping of an idle connection failed: nothing was sent on it, any call may retry."""


class TrackedConnection(asyncpg.Connection):
    """An asyncpg connection that knows when it was last used."""

    __slots__ = ("_posbot_used_at",)

    def posbot_idle_seconds(self) -> float:
        """Seconds since the connection was last used (0 for a new one)."""
        used_at = getattr(self, "_posbot_used_at", None)
        return 0.0 if used_at is None else time.monotonic() - used_at

    def posbot_used(self) -> None:
        """Marks the connection as used now."""
        self._posbot_used_at = time.monotonic()


async def _keep_session(_connection: Any) -> None:
    """The pool's reset: nothing (asyncpg still rolls back an open transaction)."""


async def run_on_asyncpg(connection: Any, query: Query[T]) -> T:
    """Runs ``query`` on an asyncpg connection; returns its result.

    A statement's error is thrown into the query (which may roll back) and then raised.
    """
    statement, result = resume(query, None)
    while statement is not None:
        reply: Any
        try:
            reply = await connection.fetch(
                render(statement.template, NUMERIC_DOLLAR), *statement.params
            )
        except asyncio.CancelledError:
            query.close()
            raise
        except BaseException as error:  # the query may roll back; then it is raised
            reply = error
        statement, result = resume(query, reply)
    return result  # type: ignore[return-value]


class AsyncpgStatements:
    """A pool of asyncpg connections for the running event loop, and the queries run on it."""

    def __init__(
        self,
        url: str,
        pool_size: int,
        connect_timeout: float,
        statement_timeout_ms: int,
        idle_ping_seconds: float = IDLE_PING_SECONDS,
    ) -> None:
        """Keeps the settings; connects on first use (never at construction)."""
        self._dsn, self._options = connect_arguments(url, connect_timeout, statement_timeout_ms)
        self.pool_size = pool_size
        self.idle_ping_seconds = idle_ping_seconds
        self._pool: asyncpg.Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._creating: asyncio.Lock | None = None

    async def _current_pool(self) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._loop is loop:
            return self._pool  # every statement but the first: no lock taken
        if self._loop is not loop:  # a pool belongs to the loop that made it
            self.close()
            self._loop, self._creating = loop, asyncio.Lock()
        assert self._creating is not None
        async with self._creating:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=self.pool_size,
                    connection_class=TrackedConnection,
                    reset=_keep_session,
                    **self._options,
                )
        return self._pool

    async def _checked(self, connection: Any) -> None:
        if connection.posbot_idle_seconds() >= self.idle_ping_seconds:
            try:
                await connection.fetchval("SELECT 1")
            except (*DISCONNECTS, asyncio.TimeoutError) as error:
                with contextlib.suppress(asyncpg.InterfaceError):  # already closed
                    connection.terminate()  # the pool replaces it
                raise _StaleConnection() from error

    async def run(
        self, make_query: Callable[..., Query[T]], args: tuple[Any, ...], retry: bool
    ) -> T:
        """``make_query(*args)`` run on a pooled connection; a read (``retry``) that meets a
        dropped connection, and any call whose idle connection failed its ping, is tried once
        more.

        Raises:
            One of :data:`FAILURES` when the database failed.
        """
        for attempt in (0, 1):
            pool = await self._current_pool()  # failing to connect is not retried
            try:
                async with pool.acquire() as connection:
                    await self._checked(connection)
                    connection.posbot_used()
                    return await run_on_asyncpg(connection, make_query(*args))
            except _StaleConnection as stale:
                if attempt:
                    raise stale.__cause__ from None  # type: ignore[misc]
            except DISCONNECTS:
                if not (retry and attempt == 0):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Closes the pool's connections at once (callable from any thread or loop)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.terminate()
