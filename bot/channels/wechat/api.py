"""Asynchronous client of the WeChat Official Account API: access token, customer-service text
and the media a user sent (``media/get``).

Failures are logged and reported as ``False``; nothing here raises to the caller.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import aiohttp

from bot.settings import WECHAT_API_BASE

logger = logging.getLogger(__name__)

DEFAULT_API_BASE: Final = WECHAT_API_BASE.default
TOKEN_PATH: Final = "/cgi-bin/token"
CUSTOM_SEND_PATH: Final = "/cgi-bin/message/custom/send"
MEDIA_GET_PATH: Final = "/cgi-bin/media/get"
MEDIA_CHUNK_BYTES: Final = 64 * 1024
DEFAULT_TIMEOUT_SECONDS: Final = 10.0
# Refresh the access token this long before WeChat says it expires.
TOKEN_EXPIRY_MARGIN_SECONDS: Final = 300
DEFAULT_TOKEN_LIFETIME_SECONDS: Final = 7200
# errcodes meaning the access token is invalid or expired: fetch a new one and retry once.
TOKEN_ERRCODES: Final = frozenset({40001, 40014, 42001})
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"


class WeChatApiClient:
    """Fetches and caches the access token and sends customer-service text messages."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        api_base: str = DEFAULT_API_BASE,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app_id = app_id
        self._app_secret = app_secret
        self.api_base = api_base.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._clock = clock
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock: asyncio.Lock | None = None
        self._session: aiohttp.ClientSession | None = None

    async def send_texts(self, openid: str, texts: Sequence[str]) -> bool:
        """Sends ``texts`` to ``openid`` in order; ``True`` if all of them were accepted."""
        results = [await self.send_text(openid, text) for text in texts]
        return all(results)

    async def send_text(self, openid: str, text: str, idempotency_key: str = "") -> bool:
        """Sends one customer-service text message; ``True`` if WeChat accepted it.

        ``idempotency_key`` (a notification's) goes out as the ``Idempotency-Key`` header, for
        a gateway in front of WeChat that drops repeats; WeChat itself ignores it.
        """
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else None
        for attempt in range(2):
            token = await self._access_token(refresh=attempt > 0)
            if token is None:
                return False
            result = await self._call(
                "POST",
                CUSTOM_SEND_PATH,
                params={"access_token": token},
                json=body,
                headers=headers,
            )
            if result is None:
                return False
            errcode = result.get("errcode", 0)
            if errcode == 0:
                return True
            if errcode not in TOKEN_ERRCODES:
                logger.error(
                    "WeChat refused a customer-service message: errcode %s (%s)",
                    errcode,
                    result.get("errmsg", ""),
                )
                return False
            logger.warning("WeChat rejected the access token (errcode %s); refreshing", errcode)
        return False

    async def get_media(self, media_id: str, max_bytes: int) -> bytes | None:
        """The bytes of a user's image or file (``media/get``), at most ``max_bytes``.

        Returns:
            The bytes; ``None`` when WeChat refused or failed (logged).

        Raises:
            MediaTooLarge: the media is larger than ``max_bytes`` (not read further).
        """
        for attempt in range(2):
            token = await self._access_token(refresh=attempt > 0)
            if token is None:
                return None
            params = {"access_token": token, "media_id": media_id}
            try:
                async with self._http().get(self.api_base + MEDIA_GET_PATH, params=params) as reply:
                    if reply.status != 200:
                        logger.error("WeChat API %s answered HTTP %d", MEDIA_GET_PATH, reply.status)
                        return None
                    declared = reply.content_length
                    if declared is not None and declared > max_bytes:
                        raise MediaTooLarge(declared)
                    data = bytearray()
                    async for chunk in reply.content.iter_chunked(MEDIA_CHUNK_BYTES):
                        data += chunk
                        if len(data) > max_bytes:
                            raise MediaTooLarge(len(data))
                    kind = (reply.content_type or "").lower()
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                logger.error("WeChat API %s failed: %s", MEDIA_GET_PATH, type(error).__name__)
                return None
            if not (kind.startswith("application/json") or kind.startswith("text/")):
                return bytes(data)
            # An error is a JSON object (errcode); the media itself is never JSON or text.
            errcode = _errcode(bytes(data))
            if errcode not in TOKEN_ERRCODES:
                logger.error("WeChat refused media/get: errcode %s", errcode)
                return None
            logger.warning("WeChat rejected the access token (errcode %s); refreshing", errcode)
        return None

    async def close(self) -> None:
        """Closes the HTTP session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def _access_token(self, refresh: bool = False) -> str | None:
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            if refresh:
                self._token = None
            if self._token is not None and self._clock() < self._token_expires_at:
                return self._token
            params = {
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self._app_secret,
            }
            result = await self._call("GET", TOKEN_PATH, params=params)
            token = result.get("access_token") if result else None
            if result is None or not isinstance(token, str) or not token:
                if result is not None:
                    logger.error(
                        "WeChat did not issue an access token: errcode %s (%s)",
                        result.get("errcode"),
                        result.get("errmsg", ""),
                    )
                return None
            lifetime = _as_int(result.get("expires_in"), DEFAULT_TOKEN_LIFETIME_SECONDS)
            self._token = token
            self._token_expires_at = self._clock() + max(0, lifetime - TOKEN_EXPIRY_MARGIN_SECONDS)
            return token

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        """One API call; the JSON answer, or ``None`` after logging (URLs carry secrets)."""
        try:
            session = self._http()
            async with session.request(method, self.api_base + path, **kwargs) as response:
                if response.status != 200:
                    logger.error("WeChat API %s answered HTTP %d", path, response.status)
                    return None
                result = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            logger.error("WeChat API %s failed: %s", path, type(error).__name__)
            return None
        if not isinstance(result, dict):
            logger.error("WeChat API %s answered something other than a JSON object", path)
            return None
        return result

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session


class MediaTooLarge(Exception):
    """A user's media is larger than the documents' size limit."""


def _errcode(body: bytes) -> Any:
    try:
        result = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return result.get("errcode") if isinstance(result, dict) else None


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
