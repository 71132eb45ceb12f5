"""Check a pooled database connection without a round trip, and ping it only after idling.

``pool_pre_ping`` costs one network round trip each time a connection leaves the pool (every
unit of work). Instead, on checkout:

- the connection's socket is polled without waiting: a healthy idle connection has nothing to
  read, while one the server closed (restart, failover, idle timeout, a reset) is readable
  (the server's goodbye, EOF or the reset). Such a connection is replaced at once, for free;
- a connection idle in the pool for ``idle_seconds`` or more is also pinged (``SELECT 1``), for
  what the poll cannot see (a peer that vanished without a word). A connection in steady use
  is never pinged.

Either failure raises ``DisconnectionError``, on which the pool opens a new connection
(SQLAlchemy's "pessimistic disconnect handling"). A connection that dies while in use fails its
statement, and that invalidates every other connection of the pool.
"""

from __future__ import annotations

import select
import time
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

IDLE_SINCE: Final = "posbot_idle_since"
DEFAULT_IDLE_SECONDS: Final = 5.0


def socket_readable(dbapi_connection: Any) -> bool:
    """Whether the connection's socket has something to read while no query runs (closed or
    reset by the server). False for connections without a socket (SQLite).

    asyncpg's connection (SQLAlchemy's adapted one) reads its socket on the event loop all
    the time: it is closed once the loop has seen the server close it.
    """
    driver_connection = getattr(dbapi_connection, "_connection", None)
    if driver_connection is not None and hasattr(driver_connection, "is_closed"):
        return bool(driver_connection.is_closed())
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return False
    try:
        descriptor = fileno()
    except Exception:
        return True  # closed on our side
    poller = select.poll()
    poller.register(descriptor, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def ping_when_idle(engine: Engine, idle_seconds: float = DEFAULT_IDLE_SECONDS) -> None:
    """Installs the checks on ``engine``'s pool."""

    def checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[IDLE_SINCE] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop(IDLE_SINCE, None)
        if idle_since is None:
            return  # just connected
        if socket_readable(dbapi_connection):
            raise DisconnectionError("the database closed an idle connection")
        if time.monotonic() - idle_since < idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError("an idle connection failed its ping") from error
        if not alive:
            raise DisconnectionError("an idle connection was closed by the database")

    event.listen(engine, "checkin", checkin)
    event.listen(engine, "checkout", checkout)
