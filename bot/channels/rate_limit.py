"""A per-client rate limit of the Rasa server's public routes (token buckets, bounded memory).

Every request counts against its client's bucket: the peer address, or the address nginx
wrote into ``X-Forwarded-For`` when the peer is a trusted proxy (``POSBOT_TRUSTED_PROXIES``,
set to 127.0.0.1 by the production profile; never trusted otherwise, since any client can send
the header). REST messages count against their sender's bucket too, so one conversation cannot
be driven faster than the limit from many addresses. Health checks, static assets and the
signed WeChat callbacks (they all come from WeChat's servers) are not limited.

The limit is ``POSBOT_RATE_LIMIT``, e.g. ``20/10s`` (the default: 20 requests, refilled over
10 s, so bursts of 20 and 2 per second on average) or ``off``. Over the limit the answer is 429
with a ``Retry-After`` header and a Chinese and English JSON message. Buckets are per process;
the production profile's nginx applies the same limit to all its servers together.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Final

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import (
    RATE_LIMIT,
    TRUSTED_PROXIES,
    RateLimit,
    SettingError,
)

logger = logging.getLogger(__name__)

RATE_LIMIT_ENV: Final = RATE_LIMIT.env
TRUSTED_PROXIES_ENV: Final = TRUSTED_PROXIES.env
# At most this many clients (and as many senders) are remembered; the least recently seen is
# forgotten first (it starts again with a full bucket): about 10 MB at the bound.
MAX_TRACKED_KEYS: Final = 50_000
RETRY_AFTER_HEADER: Final = "Retry-After"
REST_WEBHOOK_PATH: Final = "/webhooks/rest/webhook"
# Not limited: health checks, static files, and WeChat's signed callbacks (shared IPs).
_EXEMPT_PATHS: Final = frozenset({"/", "/webhooks/rest/"})
_WECHAT_PREFIX: Final = "/webhooks/wechat/"
_STATIC_SEGMENT: Final = "/static/"
_LIMITER_ATTR: Final = "posbot_rate_limiter"


#: ``POSBOT_RATE_LIMIT`` or ``POSBOT_TRUSTED_PROXIES`` cannot be understood (any unusable
#: setting: the server must not start unprotected by mistake).
RateLimitConfigError = SettingError


class TokenBuckets:
    """One token bucket per key, at most ``max_keys`` of them (least recently used go first).

    Used from the event loop only: a check reads and updates its bucket without awaiting, so
    concurrent requests of one client are counted exactly.
    """

    def __init__(
        self,
        limit: RateLimit,
        max_keys: int = MAX_TRACKED_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Takes one token of ``key``'s bucket: 0 if there was one, else the seconds to wait."""
        now = self._clock()
        tokens, updated = self._buckets.pop(key, (float(self.limit.capacity), now))
        tokens = min(float(self.limit.capacity), tokens + (now - updated) * self.limit.per_second)
        if tokens >= 1.0:
            tokens -= 1.0
            wait = 0.0
        else:
            wait = (1.0 - tokens) / self.limit.per_second
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


def trusted_proxies(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """Addresses whose ``X-Forwarded-For`` is believed (``POSBOT_TRUSTED_PROXIES``, a list).

    Raises:
        RateLimitConfigError: an entry is not an IP address.
    """
    return TRUSTED_PROXIES.read(environ)


class RateLimiter:
    """Buckets per client address and per sender (REST, WeChat), and the 429 answer."""

    def __init__(
        self,
        limit: RateLimit,
        proxies: frozenset[str] = frozenset(),
        max_keys: int = MAX_TRACKED_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.proxies = proxies
        self.clients = TokenBuckets(limit, max_keys, clock)
        self.senders = TokenBuckets(limit, max_keys, clock)

    def client_of(self, request: Request) -> str:
        """The client's address: the peer, or the last ``X-Forwarded-For`` entry of a proxy."""
        peer = request.ip or ""
        if peer in self.proxies:
            forwarded = request.headers.get("x-forwarded-for", "")
            last = forwarded.rsplit(",", 1)[-1].strip()
            if last:
                return last
        return peer

    def check_client(self, request: Request) -> HTTPResponse | None:
        """The 429 answer when the request's client is over the limit, else ``None``."""
        if _exempt(request.path):
            return None
        wait = self.clients.take(self.client_of(request))
        return too_many_requests(wait) if wait else None

    def check_sender(self, sender: str) -> HTTPResponse | None:
        """The 429 answer when a REST sender is over the limit, else ``None``."""
        wait = self.sender_wait(sender)
        return too_many_requests(wait) if wait else None

    def sender_wait(self, sender: str) -> float:
        """Takes a request of ``sender`` (a REST sender, a WeChat user): 0.0 if it is within
        the limit, else the seconds until it would be."""
        return self.senders.take(sender)


def _exempt(path: str) -> bool:
    return path in _EXEMPT_PATHS or _STATIC_SEGMENT in path or path.startswith(_WECHAT_PREFIX)


def too_many_requests(wait_seconds: float) -> HTTPResponse:
    """429 with ``Retry-After`` (whole seconds, at least 1) and a message for people."""
    seconds = max(1, math.ceil(wait_seconds))
    return response.json(
        {
            "error": "rate_limited",
            "message": f"请求过于频繁，请 {seconds} 秒后再试。"
            f"Too many requests: please retry in {seconds} s.",
            "retry_after": seconds,
        },
        status=429,
        headers={RETRY_AFTER_HEADER: str(seconds)},
        dumps=_readable_json,
    )


def _readable_json(value: object, **kwargs: Any) -> str:
    """JSON with the Chinese text as it is (not ``\\u`` escapes)."""
    return json.dumps(value, ensure_ascii=False, **kwargs)


def install(app: Sanic, environ: Mapping[str, str] | None = None) -> RateLimiter | None:
    """Registers the limit as request middleware of ``app`` (nothing when it is ``off``).

    Raises:
        RateLimitConfigError: the configuration cannot be understood (the server must not
            start unprotected by mistake).
    """
    limit = RateLimit.from_env(environ)
    if limit is None:
        logger.warning("%s=off: the public routes are not rate limited", RATE_LIMIT_ENV)
        setattr(app.ctx, _LIMITER_ATTR, None)
        return None
    limiter = RateLimiter(limit, trusted_proxies(environ))
    setattr(app.ctx, _LIMITER_ATTR, limiter)

    async def limit_clients(request: Request) -> HTTPResponse | None:
        return limiter.check_client(request)

    app.register_middleware(limit_clients, "request")
    return limiter


def limiter_of(request: Request) -> RateLimiter | None:
    """The limiter installed on the request's app, if any."""
    return getattr(request.app.ctx, _LIMITER_ATTR, None)


def check_sender(request: Request, sender: str) -> HTTPResponse | None:
    """The 429 answer when ``sender`` sent too many REST messages, else ``None``."""
    limiter = limiter_of(request)
    return limiter.check_sender(sender) if limiter is not None else None
