"""The case store's units of work on the event loop, through SQLAlchemy's asyncpg dialect.

The services' units of work are synchronous functions taking a ``Session`` (the repositories'
interface). On PostgreSQL they ran in a worker thread through psycopg2: the thread hand-over
both ways, and every statement parsed and planned anew by the server. Here the same functions
run on the event loop with ``AsyncSession.run_sync`` (a greenlet, no thread), and asyncpg
prepares each distinct statement once per connection: per case look-up about a quarter less
CPU in the action server, and PostgreSQL's down to about a third (``docs/benchmarks.md``,
ninth round).

The guarantees of :mod:`bot.store.database` hold here too: reads without a transaction, a read
that meets a dropped connection run once more on a new one, a write run once more only when
none of its statements had completed (the same rule, :mod:`bot.store.unit_retry`), no ping per
use (:mod:`bot.store.pool_ping`: a connection the server closed is noticed by the event loop
and replaced; one idle for seconds is pinged), 3 s to connect. A pool belongs to the event
loop that opened it: a store used from another loop (tests that call ``asyncio.run`` more than
once) drops the old pool and opens a new one.

Used for ``postgresql://``, ``postgres://`` and ``postgresql+asyncpg://`` URLs without other
query parameters than ``connect_timeout``; any other URL (SQLite, ``postgresql+psycopg2://``,
``sslmode`` and the like, which asyncpg names differently) keeps the worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from bot.store.pool_ping import ping_when_idle
from bot.store.unit_retry import attempt, count_statement, may_run_again

T = TypeVar("T")

#: Case store URL drivers served on the event loop.
ASYNC_DRIVERNAMES: Final = frozenset({"postgresql", "postgres", "postgresql+asyncpg"})
ASYNC_DRIVERNAME: Final = "postgresql+asyncpg"
SYNC_DRIVERNAME: Final = "postgresql+psycopg2"
CONNECT_TIMEOUT_KEY: Final = "connect_timeout"
AUTOCOMMIT: Final = "AUTOCOMMIT"


def serves(url: str) -> bool:
    """Whether the case store ``url`` runs its units of work on the event loop."""
    parsed = make_url(url)
    return parsed.drivername in ASYNC_DRIVERNAMES and set(parsed.query) <= {CONNECT_TIMEOUT_KEY}


def sync_url(url: str) -> str:
    """``url`` for the synchronous engine (schema, imports, tools): psycopg2 for asyncpg's."""
    parsed = make_url(url)
    if parsed.drivername == ASYNC_DRIVERNAME:
        parsed = parsed.set(drivername=SYNC_DRIVERNAME)
    return parsed.render_as_string(hide_password=False)


def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """Opens a connection; a failure to connect (refused, timed out, refused by the server)
    is the driver's ``OperationalError``, which SQLAlchemy wraps as for psycopg2 (asyncpg
    raises ``OSError`` and ``TimeoutError`` as they are)."""
    try:
        return dialect.connect(*cargs, **cparams)
    except dialect.dbapi.Error:
        raise
    except Exception as error:
        raise dialect.dbapi.OperationalError(error.__class__.__name__) from error


def _async_url(url: str, connect_timeout: float) -> tuple[URL, dict[str, Any]]:
    parsed = make_url(url)
    query = dict(parsed.query)
    timeout = query.pop(CONNECT_TIMEOUT_KEY, None)
    seconds = float(timeout if isinstance(timeout, str) else connect_timeout)
    return parsed.set(drivername=ASYNC_DRIVERNAME, query=query), {"timeout": seconds}


class LoopEngines:
    """The asyncpg engines (transactions; autocommit reads) of the running event loop."""

    def __init__(self, url: str, connect_timeout: float) -> None:
        """Keeps the settings; nothing connects before the first unit of work."""
        self._url, self._connect_args = _async_url(url, connect_timeout)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engines: tuple[AsyncEngine, AsyncEngine] | None = None

    def _create(self, autocommit: bool) -> AsyncEngine:
        options: dict[str, Any] = {"isolation_level": AUTOCOMMIT} if autocommit else {}
        engine = create_async_engine(
            self._url, future=True, connect_args=dict(self._connect_args), **options
        )
        event.listen(engine.sync_engine, "do_connect", _connect)
        ping_when_idle(engine.sync_engine)
        event.listen(engine.sync_engine, "after_cursor_execute", count_statement)
        return engine

    def current(self) -> tuple[AsyncEngine, AsyncEngine]:
        """The engines (writes, reads) of the running loop, created on first use."""
        loop = asyncio.get_running_loop()
        if self._engines is None or self._loop is not loop:
            self.drop()
            self._loop = loop
            self._engines = (self._create(autocommit=False), self._create(autocommit=True))
        return self._engines

    def drop(self) -> None:
        """Forgets the pools without closing their connections from here (they belong to
        their own loop; the server ends them when they are collected)."""
        if self._engines is not None:
            for engine in self._engines:
                engine.sync_engine.dispose(close=False)
        self._engines = None
        self._loop = None

    async def reading(self, work: Callable[[Session], T]) -> T:
        """Runs read-only ``work`` without a transaction; once more on a new connection when
        the database had dropped the pooled one."""
        return await self._twice_on_disconnect(work, write=False)

    async def writing(self, work: Callable[[Session], T]) -> T:
        """Runs ``work`` in one transaction; once more on a new connection when the database
        had dropped the pooled one before any of its statements completed."""
        return await self._twice_on_disconnect(work, write=True)

    async def _twice_on_disconnect(self, work: Callable[[Session], T], write: bool) -> T:
        for number in (1, 2):
            with attempt() as completed:
                try:
                    return await self._once(work, write)
                except DBAPIError as error:
                    if number == 2 or not may_run_again(error, completed[0], always=not write):
                        raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, work: Callable[[Session], T], write: bool) -> T:
        engine, read_engine = self.current()
        if not write:
            async with AsyncSession(read_engine, expire_on_commit=False) as session:
                return await session.run_sync(work)
        async with AsyncSession(engine, expire_on_commit=False) as session:
            try:
                result = await session.run_sync(work)
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            return result
