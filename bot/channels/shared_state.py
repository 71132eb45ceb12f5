"""Where the channels keep state that every Rasa server process must share.

With ``POSBOT_REDIS_URL`` set (the production profile sets it) the state lives in Redis, so a
WeChat retry, a replayed nonce, a widget poll or a copilot turn may reach any process. Without
it (``make run``, one process) it stays in memory. Nothing connects before the first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from bot.channels.call_context import CallContexts, InMemoryCallContexts
from bot.channels.outbox import HumanOutbox, Outbox
from bot.channels.wechat_state import (
    InMemoryDeduplicator,
    InMemoryNonceRegistry,
    InMemoryOptions,
    MessageDeduplicator,
    NonceRegistry,
    OptionsStore,
)
from bot.settings import REDIS_URL

if TYPE_CHECKING:
    from redis.asyncio import Redis

REDIS_URL_ENV: Final = REDIS_URL.env
SOCKET_TIMEOUT_SECONDS: Final = 2.0
# A broken pooled connection (Redis restarted) is retried once on a new one.
RETRIES: Final = 1

_CLIENTS: dict[str, Redis] = {}


class SharedStateUnavailable(Exception):
    """The shared store (Redis) could not be reached or answered with an error."""


def redis_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The Redis URL of the shared state, or ``None`` for in-memory state."""
    return REDIS_URL.read(environ)


def redis_client(url: str) -> Redis:
    """A ``redis.asyncio`` client for ``url``; no connection is made until it is used."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError, TimeoutError

    return Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), RETRIES),
        retry_on_error=[ConnectionError, TimeoutError],
    )


def _shared_client(environ: Mapping[str, str] | None) -> Redis | None:
    """One client per URL and process (its pool is shared by every store), or ``None``."""
    url = redis_url(environ)
    if url is None:
        return None
    if url not in _CLIENTS:
        _CLIENTS[url] = redis_client(url)
    return _CLIENTS[url]


def deduplicator(environ: Mapping[str, str] | None = None) -> MessageDeduplicator:
    """WeChat message de-duplication for this process's configuration."""
    client = _shared_client(environ)
    if client is None:
        return InMemoryDeduplicator()
    from bot.channels.redis_state import RedisDeduplicator

    return RedisDeduplicator(client)


def nonce_registry(environ: Mapping[str, str] | None = None) -> NonceRegistry:
    """WeChat nonce replay registry for this process's configuration."""
    client = _shared_client(environ)
    if client is None:
        return InMemoryNonceRegistry()
    from bot.channels.redis_state import RedisNonceRegistry

    return RedisNonceRegistry(client)


def wechat_options(environ: Mapping[str, str] | None = None) -> OptionsStore:
    """Numbered reply options of WeChat users for this process's configuration."""
    client = _shared_client(environ)
    if client is None:
        return InMemoryOptions()
    from bot.channels.redis_state import RedisOptions

    return RedisOptions(client)


def outbox(environ: Mapping[str, str] | None = None) -> Outbox:
    """The web widget's inbox of agent messages for this process's configuration."""
    client = _shared_client(environ)
    if client is None:
        return HumanOutbox()
    from bot.channels.redis_state import RedisOutbox

    return RedisOutbox(client)


def call_contexts(environ: Mapping[str, str] | None = None) -> CallContexts:
    """The copilot's call contexts for this process's configuration."""
    client = _shared_client(environ)
    if client is None:
        return InMemoryCallContexts()
    from bot.channels.redis_state import RedisCallContexts

    return RedisCallContexts(client)
