"""Redis implementations of the channels' shared state (``redis.asyncio``, never blocking).

Every write is atomic across processes: ``SET NX PX`` for de-duplication, one script for a
nonce, a ``MULTI`` for the outbox and a script for a call context. Keys carry a TTL. A Redis
error becomes :class:`SharedStateUnavailable` (or, for the WeChat options, a logged error).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.channels.state.call_context import CallContexts, call_ids
from bot.channels.state.errors import SharedStateUnavailable
from bot.channels.state.outbox import MAX_MESSAGES_PER_SENDER, Outbox, outbox_message
from bot.channels.state.wechat import (
    DEFAULT_DEDUP_TTL_SECONDS,
    DEFAULT_NONCE_TTL_SECONDS,
    OPTIONS_TTL_SECONDS,
    MessageDeduplicator,
    NonceRegistry,
    OptionsStore,
)
from bot.services.copilot import CALL_TTL_SECONDS, MAX_CALL_TURNS, CallContext

logger = logging.getLogger(__name__)

DEDUP_PREFIX: Final = "posbot:wechat:msgid:"
NONCE_PREFIX: Final = "posbot:wechat:nonce:"
OPTIONS_PREFIX: Final = "posbot:wechat:options:"
OUTBOX_PREFIX: Final = "posbot:outbox:"
CALL_PREFIX: Final = "posbot:copilot:call:"
OUTBOX_TTL_SECONDS: Final = 24 * 3600.0
SOCKET_TIMEOUT_SECONDS: Final = 2.0
# A broken pooled connection (Redis restarted) is retried once on a new one.
RETRIES: Final = 1
# Errors of an unreachable or failing Redis (socket errors arrive wrapped as RedisError).
_ERRORS: Final = (RedisError, OSError)

# KEYS[1] nonce key; ARGV[1] body digest, ARGV[2] TTL in ms. 1: accepted, 0: another body.
_ACCEPT_NONCE: Final = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
"""

# KEYS[1] call key; ARGV: agent id, masked text, JSON of new ids, call id, TTL in ms, the most
# turns kept. Returns the context as JSON.
_ADD_TURN: Final = """
local raw = redis.call('GET', KEYS[1])
local context = raw and cjson.decode(raw)
if not context or context.agent_id ~= ARGV[1] then
  context = {call_id = ARGV[4], agent_id = ARGV[1], turns = {}, ids = {}}
end
table.insert(context.turns, ARGV[2])
while #context.turns > tonumber(ARGV[6]) do table.remove(context.turns, 1) end
for kind, value in pairs(cjson.decode(ARGV[3])) do context.ids[kind] = value end
local encoded = cjson.encode(context)
redis.call('SET', KEYS[1], encoded, 'PX', ARGV[5])
return encoded
"""


def redis_client(url: str) -> Redis:
    """A ``redis.asyncio`` client for ``url``; no connection is made until it is used."""
    return Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), RETRIES),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _unavailable(what: str, error: BaseException) -> SharedStateUnavailable:
    return SharedStateUnavailable(f"Redis {what} failed: {error.__class__.__name__}")


class RedisDeduplicator(MessageDeduplicator):
    """WeChat de-duplication shared by every process: the first ``SET NX`` wins."""

    def __init__(
        self,
        client: Redis,
        ttl_seconds: float = DEFAULT_DEDUP_TTL_SECONDS,
        prefix: str = DEDUP_PREFIX,
    ) -> None:
        self._client = client
        self._ttl_ms = _ms(ttl_seconds)
        self._prefix = prefix

    async def first_seen(self, key: str) -> bool:
        """See :meth:`MessageDeduplicator.first_seen`."""
        try:
            stored = await self._client.set(self._prefix + key, b"1", nx=True, px=self._ttl_ms)
        except _ERRORS as error:
            raise _unavailable("de-duplication", error) from None
        return bool(stored)


class RedisNonceRegistry(NonceRegistry):
    """Signed nonces shared by every process; a replay with another body fails everywhere."""

    def __init__(
        self,
        client: Redis,
        ttl_seconds: float = DEFAULT_NONCE_TTL_SECONDS,
        prefix: str = NONCE_PREFIX,
    ) -> None:
        self._ttl_ms = _ms(ttl_seconds)
        self._prefix = prefix
        self._accept = client.register_script(_ACCEPT_NONCE)

    async def accepts(self, key: str, body_digest: str) -> bool:
        """See :meth:`NonceRegistry.accepts`."""
        try:
            accepted = await self._accept(
                keys=[self._prefix + key], args=[body_digest, self._ttl_ms]
            )
        except _ERRORS as error:
            raise _unavailable("nonce registry", error) from None
        return int(accepted) == 1


class RedisOptions(OptionsStore):
    """Numbered options shared by every process, so a digit may reach any of them."""

    def __init__(
        self,
        client: Redis,
        ttl_seconds: float = OPTIONS_TTL_SECONDS,
        prefix: str = OPTIONS_PREFIX,
    ) -> None:
        self._client = client
        self._ttl_ms = _ms(ttl_seconds)
        self._prefix = prefix

    async def get(self, openid: str) -> tuple[str, ...]:
        """See :meth:`OptionsStore.get`; a Redis failure is logged and means no options."""
        try:
            raw = await self._client.get(self._prefix + openid)
        except _ERRORS as error:
            logger.error("WeChat reply options unavailable: %s", _unavailable("get", error))
            return ()
        return tuple(json.loads(raw)) if raw else ()

    async def set(self, openid: str, payloads: tuple[str, ...]) -> None:
        """See :meth:`OptionsStore.set`; a Redis failure is logged."""
        key = self._prefix + openid
        try:
            if payloads:
                await self._client.set(key, json.dumps(list(payloads)), px=self._ttl_ms)
            else:
                await self._client.delete(key)
        except _ERRORS as error:
            logger.error("WeChat reply options not saved: %s", _unavailable("set", error))


class RedisOutbox(Outbox):
    """The widget inbox shared by every process: one list per sender, kept for a day."""

    def __init__(
        self,
        client: Redis,
        ttl_seconds: float = OUTBOX_TTL_SECONDS,
        max_messages: int = MAX_MESSAGES_PER_SENDER,
        prefix: str = OUTBOX_PREFIX,
    ) -> None:
        self._client = client
        self._ttl_ms = _ms(ttl_seconds)
        self._max_messages = max_messages
        self._prefix = prefix

    async def put(
        self,
        sender_id: str,
        text: str,
        author: str,
        buttons: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """See :meth:`Outbox.put`."""
        key = self._prefix + sender_id
        message = json.dumps(outbox_message(text, author, buttons), ensure_ascii=False)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.rpush(key, message)
                pipe.ltrim(key, -self._max_messages, -1)
                pipe.pexpire(key, self._ttl_ms)
                await pipe.execute()
        except _ERRORS as error:
            raise _unavailable("outbox put", error) from None

    async def take(self, sender_id: str) -> list[dict[str, Any]]:
        """See :meth:`Outbox.take`: read and delete in one transaction, so no poll repeats."""
        key = self._prefix + sender_id
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.lrange(key, 0, -1)
                pipe.delete(key)
                raw, _ = await pipe.execute()
        except _ERRORS as error:
            raise _unavailable("outbox take", error) from None
        return [json.loads(item) for item in raw]


class RedisCallContexts(CallContexts):
    """Copilot call contexts shared by every process: a JSON value per call, one script."""

    def __init__(
        self,
        client: Redis,
        ttl_seconds: float = CALL_TTL_SECONDS,
        prefix: str = CALL_PREFIX,
        max_turns: int = MAX_CALL_TURNS,
    ) -> None:
        self._ttl_ms = _ms(ttl_seconds)
        self._prefix = prefix
        self._max_turns = max_turns
        self._add_turn = client.register_script(_ADD_TURN)

    async def add_turn(
        self, call_id: str, agent_id: str, masked_text: str, entities: Iterable[dict[str, Any]]
    ) -> CallContext:
        """See :meth:`CallContexts.add_turn`."""
        new_ids = json.dumps(call_ids(entities), ensure_ascii=False)
        args = [agent_id, masked_text, new_ids, call_id, self._ttl_ms, self._max_turns]
        try:
            raw = await self._add_turn(keys=[self._prefix + call_id], args=args)
        except _ERRORS as error:
            raise _unavailable("call context", error) from None
        stored = json.loads(raw)
        return CallContext(
            call_id=call_id,
            agent_id=agent_id,
            turns=list(stored["turns"]),
            ids=dict(stored["ids"]),
            touched=time.time(),
        )
