"""A ``redis.asyncio`` connection pool that hands out an idle connection as it is.

redis-py's pool polls every connection before handing it out (``can_read_destructive``: a
zero-timeout read under ``async_timeout``), to catch one the server closed or one holding an
unread reply. That poll cost the lock store about 50 µs of CPU per command, a third of a
turn's locking (``docs/benchmarks.md``, tenth round). Neither case needs it here:

- redis-py's connection disconnects itself when a command fails or is cancelled between its
  request and its reply, so no idle connection holds a stray reply;
- a connection the server closed while idle fails its next command, and the client, built
  with one retry on ``ConnectionError``, sends it once more on a new connection. The lock
  store's commands may be sent twice (its scripts are idempotent; see
  :mod:`bot.store.lock_store`).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.connection import AbstractConnection, ConnectionPool


class ReadyConnectionPool(ConnectionPool):
    """Last in, first out, like redis-py's own pool, without the poll before each use."""

    async def get_connection(
        self, command_name: Any = None, *keys: Any, **options: Any
    ) -> AbstractConnection:
        """An idle connection (connected if it was not), or a new one.

        Raises:
            redis.ConnectionError: connecting failed, or ``max_connections`` are in use.
        """
        self._checkpid()
        try:
            connection = self._available_connections.pop()
        except IndexError:
            connection = self.make_connection()
        self._in_use_connections.add(connection)
        try:
            await connection.connect()  # nothing to do when it is connected
        except BaseException:
            await self.release(connection)
            raise
        return connection
