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

Waiters refresh their own liveness key while they wait and the holder renews its key while it
runs (up to the lock lifetime, as in Rasa), so the keys can be short-lived: a process that dies
holding the lock blocks the conversation for ``liveness_seconds`` (10 s), not for the whole
lock lifetime (60 s).
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
_ISSUE: Final = """
local issued = redis.call('GET', KEYS[3])
if issued then return tonumber(issued) end
local ticket = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], ticket, ticket)
redis.call('SET', ARGV[1] .. ticket, '1', 'PX', ARGV[2])
redis.call('SET', KEYS[3], ticket, 'PX', ARGV[2])
return ticket
"""

# KEYS: queue. ARGV: liveness key prefix, ticket, lifetime ms.
# Returns 1 (acquired), 0 (waiting) or -1 (the ticket expired: its process was presumed dead).
_TRY_ACQUIRE: Final = """
local ticket = tonumber(ARGV[2])
if redis.call('EXISTS', ARGV[1] .. ticket) == 0 then
  redis.call('ZREM', KEYS[1], ticket)
  return -1
end
while true do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if head == nil then return -1 end
  head = tonumber(head)
  if head == ticket then return 1 end
  if redis.call('EXISTS', ARGV[1] .. head) == 1 then
    redis.call('PEXPIRE', ARGV[1] .. ticket, ARGV[3])
    return 0
  end
  redis.call('ZREM', KEYS[1], head)
end
"""

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
            client: a ``redis.Redis`` client to use instead (tests).
        """
        kwargs = dict(endpoint_config.kwargs) if endpoint_config else {}
        if client is None:
            import redis

            url = (endpoint_config.url if endpoint_config else None) or DEFAULT_URL
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            client = redis.Redis.from_url(
                url,
                socket_timeout=float(kwargs.get("socket_timeout", SOCKET_TIMEOUT_SECONDS)),
                socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
                retry=Retry(NoBackoff(), RETRIES),
                retry_on_error=[redis.ConnectionError, redis.TimeoutError],
            )
        self.red = client
        self.prefix = f"{kwargs.get('key_prefix') or DEFAULT_PREFIX}:lock:"
        self.liveness_seconds = float(kwargs.get("liveness_seconds", LIVENESS_SECONDS))
        self._issue = client.register_script(_ISSUE)
        self._try_acquire = client.register_script(_TRY_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        super().__init__()

    def _keys(self, conversation_id: str) -> tuple[str, str, str]:
        # The hash tag keeps a conversation's keys in one slot of a Redis cluster.
        base = f"{self.prefix}{{{conversation_id}}}"
        return f"{base}:seq", f"{base}:queue", f"{base}:t:"

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Joins the queue of ``conversation_id``; returns the ticket number.

        Raises:
            LockError: Redis cannot be reached.
        """
        return self._issue_with_token(conversation_id, lock_lifetime)[0]

    def _issue_with_token(self, conversation_id: str, lock_lifetime: float) -> tuple[int, str]:
        counter, queue, alive = self._keys(conversation_id)
        token = f"{counter}:{uuid.uuid4().hex}"
        try:
            ticket = self._issue(keys=[counter, queue, token], args=[alive, _ms(lock_lifetime)])
        except Exception as error:
            raise LockError(f"Could not issue a ticket: {error.__class__.__name__}") from None
        return int(ticket), token

    def try_acquire(self, conversation_id: str, ticket: int, lock_lifetime: float) -> int:
        """One attempt: ``ACQUIRED``, ``WAITING`` or a negative number (ticket expired)."""
        _, queue, alive = self._keys(conversation_id)
        return int(self._try_acquire(keys=[queue], args=[alive, ticket, _ms(lock_lifetime)]))

    def release(self, conversation_id: str, ticket: int, token: str = "") -> None:
        """Leaves the queue (after serving or on giving up)."""
        counter, queue, alive = self._keys(conversation_id)
        try:
            self._release(keys=[counter, queue, token or counter], args=[alive, ticket])
        except Exception as error:
            # The ticket then expires after the lock lifetime.
            logger.error("Could not release lock ticket: %s", error.__class__.__name__)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = MAX_POLL_SECONDS,
    ) -> AsyncGenerator[TicketLock, None]:
        """Holds the conversation's lock for the body of the ``async with`` block.

        The ticket's liveness key lives ``liveness_seconds`` and is renewed while its holder
        runs (at most ``lock_lifetime``), so a process that dies holding the lock blocks the
        conversation for seconds, not for the whole lifetime.

        Raises:
            LockError: Redis failed, or the ticket expired while waiting.
        """
        ttl = min(lock_lifetime, self.liveness_seconds)
        ticket, token = self._issue_with_token(conversation_id, ttl)
        try:
            await self._wait_for_turn(conversation_id, ticket, ttl, wait_time_in_seconds)
            heartbeat = asyncio.create_task(
                self._keep_alive(conversation_id, ticket, ttl, lock_lifetime)
            )
            try:
                yield TicketLock(conversation_id)
            finally:
                heartbeat.cancel()
        finally:
            self.release(conversation_id, ticket, token)

    async def _keep_alive(
        self, conversation_id: str, ticket: int, ttl: float, lock_lifetime: float
    ) -> None:
        alive = self._keys(conversation_id)[2] + str(ticket)
        deadline = asyncio.get_running_loop().time() + lock_lifetime - ttl
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(ttl / 3)
            try:
                self.red.pexpire(alive, _ms(ttl))
            except Exception as error:
                logger.warning("Could not renew lock ticket: %s", error.__class__.__name__)

    async def _wait_for_turn(
        self, conversation_id: str, ticket: int, lock_lifetime: float, max_poll: float
    ) -> None:
        poll = FIRST_POLL_SECONDS
        while True:
            try:
                state = self.try_acquire(conversation_id, ticket, lock_lifetime)
            except Exception as error:
                raise LockError(f"Could not acquire lock: {error.__class__.__name__}") from None
            if state == ACQUIRED:
                return
            if state != WAITING:
                raise LockError(f"Lock ticket {ticket} expired while waiting")
            await asyncio.sleep(poll)
            poll = min(poll * 2, max(max_poll, FIRST_POLL_SECONDS))

    # Rasa's ticket-lock interface, kept for callers that use it directly.
    def get_lock(self, conversation_id: str) -> TicketLock | None:
        """Not stored as a ``TicketLock``; see ``lock``."""
        return None

    def delete_lock(self, conversation_id: str) -> None:
        """Deletes every key of the conversation's lock."""
        counter, queue, alive = self._keys(conversation_id)
        tickets = self.red.zrange(queue, 0, -1)
        self.red.delete(counter, queue, *(f"{alive}{int(t)}" for t in tickets))

    def save_lock(self, lock: TicketLock) -> None:
        """Nothing to save: every change is made in Redis directly."""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
