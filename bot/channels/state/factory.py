"""Where the channels keep state that every Rasa server process must share.

With ``POSBOT_REDIS_URL`` set (the production profile sets it) the state lives in Redis, so a
WeChat retry, a replayed nonce, a widget poll or a copilot turn may reach any process. Without
it (``make run``, one process) it stays in memory. Nothing connects before the first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from redis.asyncio import Redis

from bot.channels.state.call_context import CallContexts, InMemoryCallContexts
from bot.channels.state.outbox import HumanOutbox, Outbox
from bot.channels.state.redis_backend import (
    RedisCallContexts,
    RedisDeduplicator,
    RedisNonceRegistry,
    RedisOptions,
    RedisOutbox,
    redis_client,
)
from bot.channels.state.wechat import (
    InMemoryDeduplicator,
    InMemoryNonceRegistry,
    InMemoryOptions,
    MessageDeduplicator,
    NonceRegistry,
    OptionsStore,
)
from bot.settings import REDIS_URL

REDIS_URL_ENV: Final = REDIS_URL.env

_CLIENTS: dict[str, Redis] = {}


def redis_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The Redis URL of the shared state, or ``None`` for in-memory state."""
    return REDIS_URL.read(environ)


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
    return InMemoryDeduplicator() if client is None else RedisDeduplicator(client)


def nonce_registry(environ: Mapping[str, str] | None = None) -> NonceRegistry:
    """WeChat nonce replay registry for this process's configuration."""
    client = _shared_client(environ)
    return InMemoryNonceRegistry() if client is None else RedisNonceRegistry(client)


def wechat_options(environ: Mapping[str, str] | None = None) -> OptionsStore:
    """Numbered reply options of WeChat users for this process's configuration."""
    client = _shared_client(environ)
    return InMemoryOptions() if client is None else RedisOptions(client)


def outbox(environ: Mapping[str, str] | None = None) -> Outbox:
    """The web widget's inbox of agent messages for this process's configuration."""
    client = _shared_client(environ)
    return HumanOutbox() if client is None else RedisOutbox(client)


def call_contexts(environ: Mapping[str, str] | None = None) -> CallContexts:
    """The copilot's call contexts for this process's configuration."""
    client = _shared_client(environ)
    return InMemoryCallContexts() if client is None else RedisCallContexts(client)
