"""Conversations bound to the client that started them, and per-channel sender namespaces.

Every channel prefixes the sender id it hands to Rasa with its own name (``rest:…``,
``wechat:…``), so a REST client can never address a WeChat conversation. A REST conversation
is bound to its client by a session token: HMAC-SHA256 of the (prefixed) sender id under
``POSBOT_SESSION_SECRET``. The token is issued only with the first reply of a conversation that
does not exist yet, and every later message must carry it (header ``X-Posbot-Session``).

A Rasa server with ``POSBOT_SESSION_ROUTE`` (the production profile's ``r1``, ``r2``…) puts it
before the HMAC (``r1.<hex>``): nginx keeps the conversation on that server while it is up
(``bot.prod.config_files``). The hint is not signed and not checked beyond its form: a client
that changes it only picks another server for its own turns.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from bot.server_secrets import MIN_SECRET_CHARS, SESSION_SECRET_ENV
from bot.settings import SESSION_ROUTE, SESSION_ROUTE_PATTERN, SESSION_SECRET

logger = logging.getLogger(__name__)

SESSION_HEADER: Final = "X-Posbot-Session"
SEPARATOR: Final = ":"
#: Between a token's routing hint and its HMAC (``r1.<hex>``).
ROUTE_SEPARATOR: Final = "."
REST: Final = "rest"
WECHAT: Final = "wechat"


def scoped_sender(channel: str, sender: str) -> str:
    """The sender id Rasa sees for ``sender`` of ``channel`` (``rest:abc``)."""
    return f"{channel}{SEPARATOR}{sender}"


def channel_sender(channel: str, sender_id: str) -> str | None:
    """The channel's own id in a scoped sender id, or ``None`` if it belongs elsewhere."""
    prefix = f"{channel}{SEPARATOR}"
    return sender_id[len(prefix) :] if sender_id.startswith(prefix) else None


class SessionTokens:
    """Issues and checks the session tokens of conversations."""

    def __init__(self, secret: str, route: str = "") -> None:
        if route and not SESSION_ROUTE_PATTERN.match(route):
            raise ValueError(f"session route {route!r}: 1-16 lower-case letters and digits")
        self._key = secret.encode("utf-8")
        self._prefix = f"{route}{ROUTE_SEPARATOR}" if route else ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SessionTokens:
        """Tokens under ``POSBOT_SESSION_SECRET``.

        Without it (a Rasa server started by hand) the tokens are signed with a random secret
        of this process: they stop working on restart and on other servers, so it is logged.
        """
        secret = SESSION_SECRET.read(environ)
        if len(secret) < MIN_SECRET_CHARS:
            logger.warning(
                "%s is not set (or shorter than %d characters): session tokens are valid only "
                "until this server restarts; `posbot serve` sets one",
                SESSION_SECRET_ENV,
                MIN_SECRET_CHARS,
            )
            secret = secrets.token_urlsafe(32)
        return cls(secret, SESSION_ROUTE.read(environ))

    def _mac(self, sender_id: str) -> str:
        return hmac.new(self._key, sender_id.encode("utf-8"), hashlib.sha256).hexdigest()

    def issue(self, sender_id: str) -> str:
        """The token of the conversation ``sender_id`` (a scoped sender id), with this
        server's routing hint."""
        return self._prefix + self._mac(sender_id)

    def valid(self, sender_id: str, token: str) -> bool:
        """Whether ``token`` is the token of ``sender_id``, whichever server's hint it carries
        (or none); the HMAC is compared in constant time."""
        route, separator, mac = token.rpartition(ROUTE_SEPARATOR)
        if separator and not SESSION_ROUTE_PATTERN.match(route):
            return False
        return hmac.compare_digest(self._mac(sender_id).encode(), mac.encode("utf-8", "replace"))


@lru_cache(maxsize=1)
def default_tokens() -> SessionTokens:
    """The process's tokens from the environment, shared by the REST channel and the widget's
    inbox (with a random fallback secret, both must hold the same one)."""
    return SessionTokens.from_env()


async def conversation_exists(agent: Any, sender_id: str) -> bool:
    """Whether the agent's tracker store holds events for ``sender_id``.

    Raises:
        RuntimeError: the model (and with it the tracker store) is not loaded yet.
        TrackerStoreUnavailable: the tracker store cannot be read.
    """
    store = getattr(agent, "tracker_store", None)
    if store is None:
        raise RuntimeError("the agent has no tracker store yet")
    tracker = await store.retrieve(sender_id)
    return tracker is not None and len(tracker.events) > 0
