"""Short-lived state of the WeChat channel: de-duplication, nonce replay, numbered options.

The interfaces and their in-memory implementations (one process); the Redis ones, shared by
every Rasa server process, are in :mod:`bot.channels.state.redis_backend`.
"""

from __future__ import annotations

import hmac
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Final

from bot.channels.state.ttl_cache import DEFAULT_MAX_ENTRIES, TtlCache

#: WeChat callbacks are accepted while their timestamp is this close to the server's clock
#: (checked by :func:`bot.channels.wechat.security.check_freshness`).
MAX_CLOCK_SKEW_SECONDS: Final = 300
# A signed callback is accepted while its timestamp is within MAX_CLOCK_SKEW_SECONDS either side
# of now, i.e. during 2 x 300 s after its first use at worst. Its MsgId (or event key) and its
# nonce are remembered at least that long, with a margin for the clocks' rounding, so that a
# replay of the same signed request is never handed to the bot again while it is still fresh.
REPLAY_WINDOW_SECONDS: Final = 2.0 * MAX_CLOCK_SKEW_SECONDS + 5.0
DEFAULT_DEDUP_TTL_SECONDS: Final = REPLAY_WINDOW_SECONDS
DEFAULT_NONCE_TTL_SECONDS: Final = REPLAY_WINDOW_SECONDS
# Numbered reply options stay answerable for 10 minutes.
OPTIONS_TTL_SECONDS: Final = 600.0


class MessageDeduplicator(ABC):
    """Remembers which WeChat messages were already handed to the bot."""

    @abstractmethod
    async def first_seen(self, key: str) -> bool:
        """Marks ``key`` as seen; ``True`` only for the first call within the lifetime.

        Implementations must make this atomic (Redis: ``SET key 1 NX PX ttl``).

        Raises:
            SharedStateUnavailable: the shared store cannot tell (the caller answers 503).
        """


class InMemoryDeduplicator(MessageDeduplicator):
    """Per-process de-duplication; enough for a single Rasa server process."""

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_DEDUP_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seen: TtlCache[str, bool] = TtlCache(ttl_seconds, max_entries, clock)

    async def first_seen(self, key: str) -> bool:
        """See :meth:`MessageDeduplicator.first_seen`."""
        return self._seen.add(key, True)


class NonceRegistry(ABC):
    """Remembers the body each signed (timestamp, nonce) pair was used with.

    In plaintext mode WeChat's signature covers the token, timestamp and nonce but not the body,
    so a captured query string could carry any body for five minutes. A pair may be used again
    only with the same body (a retry, which de-duplication then absorbs).
    """

    @abstractmethod
    async def accepts(self, key: str, body_digest: str) -> bool:
        """Records ``body_digest`` for a new ``key``; ``False`` if ``key`` came with another body.

        Implementations must make this atomic (Redis: ``SET key digest NX PX ttl`` and a
        comparison with the stored digest, in one script).

        Raises:
            SharedStateUnavailable: the shared store cannot tell (the caller answers 503).
        """


class InMemoryNonceRegistry(NonceRegistry):
    """Per-process nonce registry; enough for a single Rasa server process."""

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_NONCE_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._digests: TtlCache[str, str] = TtlCache(ttl_seconds, max_entries, clock)

    async def accepts(self, key: str, body_digest: str) -> bool:
        """See :meth:`NonceRegistry.accepts`."""
        known = self._digests.get(key)
        if known is None:
            self._digests.set(key, body_digest)
            return True
        return hmac.compare_digest(known, body_digest)


class OptionsStore(ABC):
    """The numbered options (button payloads) last offered to each WeChat user."""

    @abstractmethod
    async def get(self, openid: str) -> tuple[str, ...]:
        """The user's live options; empty when there are none or the store cannot tell."""

    @abstractmethod
    async def set(self, openid: str, payloads: tuple[str, ...]) -> None:
        """Replaces the user's options (an empty tuple forgets them); failures are logged."""


class InMemoryOptions(OptionsStore):
    """Per-process options; enough for a single Rasa server process."""

    def __init__(
        self,
        ttl_seconds: float = OPTIONS_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._options: TtlCache[str, tuple[str, ...]] = TtlCache(ttl_seconds, max_entries, clock)

    async def get(self, openid: str) -> tuple[str, ...]:
        """See :meth:`OptionsStore.get`."""
        return self._options.get(openid) or ()

    async def set(self, openid: str, payloads: tuple[str, ...]) -> None:
        """See :meth:`OptionsStore.set`."""
        if payloads:
            self._options.set(openid, payloads)
        else:
            self._options.pop(openid)
