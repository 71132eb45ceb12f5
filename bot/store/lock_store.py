"""A Redis lock store that really serialises one conversation across Rasa processes.

Rasa 3.6's ``RedisLockStore`` issues tickets by reading the lock, changing it in Python and
writing it back (GET, then SET). Two processes that read the same lock issue the same ticket
number and both go ahead, or one overwrites the other's ticket (RasaHQ/rasa#11256). This store
does every step in Redis itself, atomically, with Lua scripts:

- ``issue``: ``INCR`` gives a unique, increasing ticket; it joins a sorted set (the queue) and
  gets a liveness key that expires after the lock lifetime. A random request token makes a
  retry after a lost reply return the same ticket, so every call can be retried once on a
  broken connection (a Redis restart leaves stale connections in the pool).
- ``try_acquire``: the ticket is served when it is the smallest live ticket in the queue;
  tickets whose liveness key expired (their process died) are dropped from the head.
- ``release``: removes the ticket; the last one out deletes the keys.

``lock`` issues the ticket and makes the first attempt in one script, so a conversation that
nobody else holds costs one round trip to acquire and one to release (the holder's renewal
only runs for turns longer than a third of the liveness period).

Waiters refresh their own liveness key while they wait and the holder renews its key while it
runs (up to the lock lifetime, as in Rasa), so the keys can be short-lived: a process that dies
holding the lock blocks the conversation for ``liveness_seconds`` (10 s), not for the whole
lock lifetime (60 s).

Everything ``lock`` does goes through ``redis.asyncio``, so waiting on Redis never blocks the
event loop. A renewal is checked: when the ticket's key is gone (``PEXPIRE`` answers 0) or Redis
could not be reached for a whole liveness period, the lock is lost: an ERROR is logged and the
holder sees it on the yielded lock (``lock.lost``). Rasa 3.6 calls only ``lock``; its
synchronous interface (``issue_ticket``, ``delete_lock``) is kept for maintenance scripts and
uses a separate synchronous client, never from the event loop.
Configured in the endpoints file::

    lock_store:
      type: bot.store.lock_store.AtomicRedisLockStore
      url: redis://127.0.0.1:6379/1
      key_prefix: posbot
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, Final

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.store.lock_context import LAST_HOLD_SECONDS, Hold, holding, new_hold_id, new_holder_id

logger = logging.getLogger(__name__)

DEFAULT_URL: Final = "redis://127.0.0.1:6379/1"
DEFAULT_PREFIX: Final = "posbot"
SOCKET_TIMEOUT_SECONDS: Final = 5.0
FIRST_POLL_SECONDS: Final = 0.01
MAX_POLL_SECONDS: Final = 0.1
RETRIES: Final = 1
# How long a ticket survives its process: renewed while the holder or waiter runs.
LIVENESS_SECONDS: Final = 10.0
ACQUIRED: Final = 1
WAITING: Final = 0

# KEYS: counter, queue, request token. ARGV: liveness key prefix, lifetime ms.
# The token makes a retried call (reply lost on a broken connection) return the same ticket.
_ISSUE_BODY: Final = """
local issued = redis.call('GET', KEYS[3])
local ticket
if issued then
  ticket = tonumber(issued)
else
  ticket = redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[2], ticket, ticket)
  redis.call('SET', ARGV[1] .. ticket, '1', 'PX', ARGV[2])
  redis.call('SET', KEYS[3], ticket, 'PX', ARGV[2])
end
"""
# The synchronous interface also forgets who held the lock last (see ``lock_context``): its
# callers hold the lock without telling the tracker store.
_ISSUE: Final = "redis.call('DEL', KEYS[4])\n" + _ISSUE_BODY + "return ticket\n"

# One attempt: {1, previous hold id} (acquired: the hold id is recorded in ``last``), {0}
# (waiting) or {-1} (the ticket expired: its process was presumed dead). Tickets at the head of
# the queue whose liveness key expired are dropped.
_TRY_FUNCTION: Final = """
local function try(queue, alive, ticket, lifetime, last, hold, last_ttl)
  if redis.call('EXISTS', alive .. ticket) == 0 then
    redis.call('ZREM', queue, ticket)
    return {-1}
  end
  while true do
    local head = redis.call('ZRANGE', queue, 0, 0)[1]
    if head == nil then return {-1} end
    head = tonumber(head)
    if head == ticket then
      local previous = redis.call('GET', last)
      redis.call('SET', last, hold, 'PX', last_ttl)
      return {1, previous}
    end
    if redis.call('EXISTS', alive .. head) == 1 then
      redis.call('PEXPIRE', alive .. ticket, lifetime)
      return {0}
    end
    redis.call('ZREM', queue, head)
  end
end
"""

# Issue and first attempt in one round trip (an uncontended lock costs nothing more).
# KEYS: counter, queue, request token, last hold. ARGV: liveness key prefix, lifetime ms, hold
# id, last hold lifetime ms. Returns {ticket, state, previous hold id}.
_ISSUE_AND_TRY: Final = (
    _TRY_FUNCTION
    + _ISSUE_BODY
    + "local tried = try(KEYS[2], ARGV[1], ticket, ARGV[2], KEYS[4], ARGV[3], ARGV[4])\n"
    + "return {ticket, tried[1], tried[2]}\n"
)

# KEYS: queue, last hold. ARGV: liveness key prefix, ticket, lifetime ms, hold id, last hold
# lifetime ms. Returns {state, previous hold id}.
_TRY_ACQUIRE: Final = (
    _TRY_FUNCTION
    + "return try(KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3], KEYS[2], ARGV[4], ARGV[5])\n"
)

# KEYS: counter, queue, request token. ARGV: liveness key prefix, ticket.
_RELEASE: Final = """
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('DEL', ARGV[1] .. ARGV[2])
if KEYS[3] ~= KEYS[1] then redis.call('DEL', KEYS[3]) end
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return 1
"""


class HeldLock(TicketLock):
    """The lock yielded to its holder; ``lost`` is set when a renewal showed it was lost."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(conversation_id)
        self.lost = False
        self.lost_reason = ""

    def mark_lost(self, reason: str) -> None:
        """Records that the holder no longer owns the lock, and says so in the log."""
        self.lost = True
        self.lost_reason = reason
        logger.error(
            "Lost the lock of a conversation while holding it: %s; another turn may run at "
            "the same time",
            reason,
        )


class AtomicRedisLockStore(LockStore):
    """First-come first-served ticket lock per conversation, atomic in Redis."""

    def __init__(
        self,
        endpoint_config: EndpointConfig | None = None,
        client: Any | None = None,
    ) -> None:
        """Connects lazily to ``endpoint_config.url`` (``redis://host:port/db``).

        Args:
            endpoint_config: the ``lock_store`` section of the endpoints file.
            client: a ``redis.asyncio.Redis`` client to use instead (tests).
        """
        kwargs = dict(endpoint_config.kwargs) if endpoint_config else {}
        self.url = (endpoint_config.url if endpoint_config else None) or DEFAULT_URL
        self.socket_timeout = float(kwargs.get("socket_timeout", SOCKET_TIMEOUT_SECONDS))
        self.red = client if client is not None else self._async_client()
        self._sync_red: Any | None = None
        self.prefix = f"{kwargs.get('key_prefix') or DEFAULT_PREFIX}:lock:"
        self.liveness_seconds = float(kwargs.get("liveness_seconds", LIVENESS_SECONDS))
        # Names this store's holds (one store per Rasa process).
        self.holder_id = new_holder_id()
        self._issue_and_try = self.red.register_script(_ISSUE_AND_TRY)
        self._try_acquire = self.red.register_script(_TRY_ACQUIRE)
        self._release = self.red.register_script(_RELEASE)
        super().__init__()

    def _client_options(self) -> dict[str, Any]:
        return {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": SOCKET_TIMEOUT_SECONDS,
        }

    def _async_client(self) -> Any:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError, TimeoutError

        from bot.store.redis_pool import ReadyConnectionPool

        pool = ReadyConnectionPool.from_url(
            self.url,
            retry=Retry(NoBackoff(), RETRIES),
            retry_on_error=[ConnectionError, TimeoutError],
            **self._client_options(),
        )
        return Redis(connection_pool=pool)

    @property
    def sync_client(self) -> Any:
        """A synchronous client for Rasa's synchronous interface (created on first use)."""
        if self._sync_red is None:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            self._sync_red = redis.Redis.from_url(
                self.url,
                retry=Retry(NoBackoff(), RETRIES),
                retry_on_error=[redis.ConnectionError, redis.TimeoutError],
                **self._client_options(),
            )
        return self._sync_red

    async def close(self) -> None:
        """Closes the connections of both clients."""
        await self.red.close()
        await self.red.connection_pool.disconnect()
        if self._sync_red is not None:
            self._sync_red.close()

    def _keys(self, conversation_id: str) -> tuple[str, str, str]:
        # The hash tag keeps a conversation's keys in one slot of a Redis cluster.
        base = f"{self.prefix}{{{conversation_id}}}"
        return f"{base}:seq", f"{base}:queue", f"{base}:t:"

    def _last_hold_key(self, conversation_id: str) -> str:
        return f"{self.prefix}{{{conversation_id}}}:last"

    def _new_hold_id(self) -> str:
        return new_hold_id(self.holder_id)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Joins the queue of ``conversation_id``; returns the ticket number (synchronous).

        Rasa's synchronous interface; ``lock`` never uses it.

        Raises:
            LockError: Redis cannot be reached.
        """
        counter, queue, alive = self._keys(conversation_id)
        token = f"{counter}:{uuid.uuid4().hex}"
        try:
            ticket = self.sync_client.eval(
                _ISSUE,
                4,
                counter,
                queue,
                token,
                self._last_hold_key(conversation_id),
                alive,
                _ms(lock_lifetime),
            )
        except Exception as error:
            raise LockError(f"Could not issue a ticket: {error.__class__.__name__}") from None
        return int(ticket)

    async def _issue_and_first_try(
        self, conversation_id: str, lock_lifetime: float, hold_id: str
    ) -> tuple[int, str, int, str | None]:
        """Joins the queue and tries once, in one round trip: ticket, token, state and (when
        acquired) the previous hold's id."""
        counter, queue, alive = self._keys(conversation_id)
        token = f"{counter}:{uuid.uuid4().hex}"
        last = self._last_hold_key(conversation_id)
        try:
            reply = await self._issue_and_try(
                keys=[counter, queue, token, last],
                args=[alive, _ms(lock_lifetime), hold_id, _ms(LAST_HOLD_SECONDS)],
            )
        except Exception as error:
            raise LockError(f"Could not issue a ticket: {error.__class__.__name__}") from None
        # A Lua table ends at its first nil: no previous hold gives two items.
        previous = _text(reply[2]) if len(reply) > 2 else None
        return int(reply[0]), token, int(reply[1]), previous

    async def try_acquire(
        self, conversation_id: str, ticket: int, lock_lifetime: float, hold_id: str = ""
    ) -> tuple[int, str | None]:
        """One attempt: ``ACQUIRED``, ``WAITING`` or a negative number (ticket expired), and
        when acquired the previous hold's id."""
        _, queue, alive = self._keys(conversation_id)
        reply = await self._try_acquire(
            keys=[queue, self._last_hold_key(conversation_id)],
            args=[alive, ticket, _ms(lock_lifetime), hold_id or self._new_hold_id(),
                  _ms(LAST_HOLD_SECONDS)],
        )  # fmt: skip
        return int(reply[0]), _text(reply[1] if len(reply) > 1 else None)

    async def release(self, conversation_id: str, ticket: int, token: str = "") -> None:
        """Leaves the queue (after serving or on giving up)."""
        counter, queue, alive = self._keys(conversation_id)
        try:
            await self._release(keys=[counter, queue, token or counter], args=[alive, ticket])
        except Exception as error:
            # The ticket then expires after its liveness period.
            logger.error("Could not release lock ticket: %s", error.__class__.__name__)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = MAX_POLL_SECONDS,
    ) -> AsyncGenerator[HeldLock, None]:
        """Holds the conversation's lock for the body of the ``async with`` block.

        The ticket's liveness key lives ``liveness_seconds`` and is renewed while its holder
        runs (at most ``lock_lifetime``), so a process that dies holding the lock blocks the
        conversation for seconds, not for the whole lifetime. A failed renewal sets
        ``lost`` on the yielded lock and logs an ERROR.

        Raises:
            LockError: Redis failed, or the ticket expired while waiting.
        """
        ttl = min(lock_lifetime, self.liveness_seconds)
        hold_id = self._new_hold_id()
        ticket, token, state, previous = await self._issue_and_first_try(
            conversation_id, ttl, hold_id
        )
        try:
            if state != ACQUIRED:
                previous = await self._wait_for_turn(
                    conversation_id, ticket, ttl, wait_time_in_seconds, state, hold_id
                )
            held = HeldLock(conversation_id)
            heartbeat = asyncio.create_task(self._keep_alive(held, ticket, ttl, lock_lifetime))
            try:
                with holding(Hold(conversation_id, hold_id, previous)):
                    yield held
            finally:
                heartbeat.cancel()
        finally:
            await self.release(conversation_id, ticket, token)

    async def _keep_alive(
        self, held: HeldLock, ticket: int, ttl: float, lock_lifetime: float
    ) -> None:
        """Renews the holder's ticket every third of its lifetime and checks that it worked."""
        alive = self._keys(held.conversation_id)[2] + str(ticket)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + lock_lifetime - ttl
        renewed_at = loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(ttl / 3)
            try:
                renewed = await self.red.pexpire(alive, _ms(ttl))
            except Exception as error:
                if loop.time() - renewed_at < ttl:
                    logger.warning("Could not renew lock ticket: %s", error.__class__.__name__)
                    continue
                reason = f"Redis unreachable for {ttl:g} s ({error.__class__.__name__})"
            else:
                if renewed:
                    renewed_at = loop.time()
                    continue
                reason = "its ticket had expired"
            held.mark_lost(reason)
            return

    async def _wait_for_turn(
        self,
        conversation_id: str,
        ticket: int,
        lock_lifetime: float,
        max_poll: float,
        state: int,
        hold_id: str,
    ) -> str | None:
        """Polls until the ticket is served; the previous hold's id."""
        poll = FIRST_POLL_SECONDS
        previous = None
        while state != ACQUIRED:
            if state != WAITING:
                raise LockError(f"Lock ticket {ticket} expired while waiting")
            await asyncio.sleep(poll)
            poll = min(poll * 2, max(max_poll, FIRST_POLL_SECONDS))
            try:
                state, previous = await self.try_acquire(
                    conversation_id, ticket, lock_lifetime, hold_id
                )
            except Exception as error:
                raise LockError(f"Could not acquire lock: {error.__class__.__name__}") from None
        return previous

    # Rasa's ticket-lock interface, kept for callers that use it directly.
    def get_lock(self, conversation_id: str) -> TicketLock | None:
        """Not stored as a ``TicketLock``; see ``lock``."""
        return None

    def delete_lock(self, conversation_id: str) -> None:
        """Deletes every key of the conversation's lock."""
        counter, queue, alive = self._keys(conversation_id)
        tickets = self.sync_client.zrange(queue, 0, -1)
        self.sync_client.delete(
            counter,
            queue,
            self._last_hold_key(conversation_id),
            *(f"{alive}{int(t)}" for t in tickets),
        )

    def save_lock(self, lock: TicketLock) -> None:
        """Nothing to save: every change is made in Redis directly."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
