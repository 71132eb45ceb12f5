"""WeChat Official Account (公众号) channel at /webhooks/wechat/webhook.

WeChat waits 5 seconds for a passive reply and retries 3 times. A message is handed to the bot
once (de-duplicated by MsgId, events by sender and CreateTime); if the answer is not ready within
``POSBOT_WECHAT_REPLY_SECONDS`` the request gets ``success`` and the answer follows through the
customer-service message API. Plaintext and safe mode (AES) are supported.

Before the bot sees anything, a callback must be fresh (timestamp within 5 minutes), signed,
not a replay of a signed query string with another body, well-formed XML without DTDs or
entities (defusedxml) and, in safe mode, carry a valid ``msg_signature``, padding and AppID.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final
from xml.parsers.expat import ExpatError

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json, text
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.messages import BaseMessage, TextMessage, VoiceMessage

from bot.channels.delivery import DELIVERERS
from bot.channels.documents import take_document, verified_merchant
from bot.channels.pages import agent_of, domain_text
from bot.channels.rate_limit import RateLimiter, limiter_of
from bot.channels.sessions import WECHAT, channel_sender, scoped_sender
from bot.channels.state import factory
from bot.channels.state.errors import SharedStateUnavailable
from bot.channels.state.ttl_cache import TtlCache
from bot.channels.state.wechat import (
    MessageDeduplicator,
    NonceRegistry,
    OptionsStore,
)
from bot.channels.wechat.api import DEFAULT_API_BASE, MediaTooLarge, WeChatApiClient
from bot.channels.wechat.format import build_reply, option_payload, text_reply_xml
from bot.channels.wechat.security import (
    RequestRejected,
    bad_request,
    check_freshness,
    check_signature,
    decrypt_message,
    forbidden,
    parse_xml,
    read_body,
)
from bot.errors import TrackerStoreUnavailable
from bot.redaction import mask_sensitive
from bot.services.documents import DocumentService
from bot.settings import (
    WECHAT_AES_KEY,
    WECHAT_API_BASE,
    WECHAT_APPID,
    WECHAT_APPSECRET,
    WECHAT_CALLBACK_SECONDS,
    WECHAT_REPLY_SECONDS,
    WECHAT_TOKEN,
    Setting,
    SettingError,
)

logger = logging.getLogger(__name__)

CHANNEL_NAME: Final = WECHAT

TOKEN_ENV: Final = WECHAT_TOKEN.env
APPID_ENV: Final = WECHAT_APPID.env
APPSECRET_ENV: Final = WECHAT_APPSECRET.env
AES_KEY_ENV: Final = WECHAT_AES_KEY.env
API_BASE_ENV: Final = WECHAT_API_BASE.env
REPLY_SECONDS_ENV: Final = WECHAT_REPLY_SECONDS.env

DEFAULT_REPLY_SECONDS: Final = WECHAT_REPLY_SECONDS.default
# WeChat abandons a callback after 5 seconds.
WECHAT_TIMEOUT_SECONDS: Final = WECHAT_CALLBACK_SECONDS
# Pause before follow-up chunks so that they arrive after the passive reply.
DEFAULT_FOLLOW_UP_SECONDS: Final = 1.0
# A bot turn is shared by WeChat's retries of its message (they come within ~15 s); a later
# replay finds the MsgId in the de-duplicator (kept for the whole replay window) and gets success.
TURN_TTL_SECONDS: Final = 300.0
AES_KEY_CHARS: Final = 43
AES_KEY_BYTES: Final = 32

# What a new follower "says": plain text (users may not send intent payloads, see
# bot.payload_guard), classified as a greeting by the NLU.
GREET_PAYLOAD: Final = "你好"
GREET_EVENTS: Final = frozenset({"subscribe", "subscribe_scan"})
VOICE_PROMPT: Final = "抱歉，没听清您的语音，请打字描述您的问题。"
# The same bound as the REST channel: a longer message is not handed to the bot.
MAX_MESSAGE_CHARS: Final = 1000
TOO_LONG_PROMPT: Final = (
    f"抱歉，消息太长了（最多{MAX_MESSAGE_CHARS}字），请分几次简短描述您的问题。"
)
TYPE_PROMPT: Final = "抱歉，暂时只能处理文字消息，请直接打字描述您的问题。"
# A user over POSBOT_RATE_LIMIT (per user, like a REST sender): the message is not handled.
TOO_FAST_PROMPT: Final = "您发送得太快了，请稍等几秒再发，我会逐条处理。"
BOT_ERROR_TEXT: Final = "抱歉，系统繁忙，请稍后再试。"
SUCCESS: Final = "success"
PLAINTEXT_MODE: Final = "raw"
SAFE_MODE: Final = "aes"
XML_CONTENT_TYPE: Final = "application/xml; charset=utf-8"
SERVICE_UNAVAILABLE: Final = HTTPStatus.SERVICE_UNAVAILABLE

# Keys of credentials.yml that override the environment (meant for tests).
_SETTING_SOURCES: Final[tuple[tuple[str, Setting[Any]], ...]] = (
    ("token", WECHAT_TOKEN),
    ("app_id", WECHAT_APPID),
    ("app_secret", WECHAT_APPSECRET),
    ("aes_key", WECHAT_AES_KEY),
    ("api_base", WECHAT_API_BASE),
    ("reply_seconds", WECHAT_REPLY_SECONDS),
)
_EVENT_TYPE: Final = "event"
# A photo or a file the merchant sent: a document for their case (bot.channels.documents).
MEDIA_TYPES: Final = frozenset({"image", "file"})
UTTER_MEDIA_FAILED: Final = "utter_document_bad_upload"
UTTER_VERIFY_FIRST: Final = "utter_document_verify_first"
UTTER_TOO_LARGE: Final = "utter_document_too_large"
_REQUIRED_FIELDS: Final = ("MsgType", "FromUserName", "ToUserName")
_MESSAGE_ERRORS: Final = (ExpatError, AttributeError, KeyError, TypeError, ValueError)


@dataclass(frozen=True)
class WeChatSettings:
    """Configuration of the channel; secrets are kept out of ``repr``."""

    token: str = field(default="", repr=False)
    app_id: str = ""
    app_secret: str = field(default="", repr=False)
    aes_key: str = field(default="", repr=False)
    api_base: str = DEFAULT_API_BASE
    reply_seconds: float = DEFAULT_REPLY_SECONDS
    follow_up_seconds: float = DEFAULT_FOLLOW_UP_SECONDS

    @classmethod
    def load(
        cls, credentials: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
    ) -> WeChatSettings:
        """Reads the ``POSBOT_WECHAT_*`` variables; lower-case credentials keys override them."""
        credentials = credentials or {}
        values: dict[str, str] = {}
        for key, setting in _SETTING_SOURCES:
            value = credentials.get(key)
            values[key] = str((setting.raw(environ) or "") if value is None else value).strip()
        return cls(
            token=values["token"],
            app_id=values["app_id"],
            app_secret=values["app_secret"],
            aes_key=values["aes_key"],
            api_base=values["api_base"] or DEFAULT_API_BASE,
            reply_seconds=_reply_seconds(values["reply_seconds"]),
        )


class WeChatOutput(CollectingOutputChannel):
    """Collects the bot's messages for one WeChat message; named so responses can be per channel."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME


@dataclass
class _Inbound:
    """An authenticated, decoded callback."""

    message: BaseMessage
    fields: dict[str, str]
    encrypted: bool
    nonce: str


@dataclass(frozen=True)
class _Media:
    """A photo or file message: its media id and the file name WeChat gave (a hint)."""

    media_id: str
    hint: str


@dataclass
class _Turn:
    """One bot turn for a WeChat message, shared by WeChat's retries of that message."""

    waiters: list[asyncio.Future[str | None]] = field(default_factory=list)
    done: bool = False
    passive: str | None = None


class WeChatInput(InputChannel):
    """Receives WeChat callbacks and answers with passive replies or customer-service messages."""

    @classmethod
    def name(cls) -> str:
        """Served at ``/webhooks/wechat/webhook``."""
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatInput:
        """Configures the channel from the environment (see :class:`WeChatSettings`)."""
        return cls(WeChatSettings.load(credentials))

    def __init__(
        self,
        settings: WeChatSettings,
        deduplicator: MessageDeduplicator | None = None,
        api: WeChatApiClient | None = None,
        clock: Callable[[], float] = time.time,
        nonces: NonceRegistry | None = None,
        options: OptionsStore | None = None,
        documents: DocumentService | None = None,
    ) -> None:
        """Without stores given, they are shared through Redis when ``POSBOT_REDIS_URL`` is set
        (several Rasa server processes), else kept in memory."""
        self.settings = settings
        self._clock = clock
        self._crypto = _build_crypto(settings)
        self._deduplicator = deduplicator or factory.deduplicator()
        self._nonces = nonces or factory.nonce_registry()
        self._api = api or _build_api(settings)
        self._turns: TtlCache[str, _Turn] = TtlCache(TURN_TTL_SECONDS, clock=clock)
        self._options = options or factory.wechat_options()
        self._documents = documents
        self._tasks: set[asyncio.Task[None]] = set()
        if not settings.token:
            logger.warning("%s is not set: the WeChat channel is off (answers 503)", TOKEN_ENV)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """GET verifies the server URL, POST receives messages; both under ``/webhook``."""
        wechat = Blueprint("posbot_wechat", __name__)
        if self._api is not None:
            # Human agents' replies to WeChat users go out through the customer-service API.
            DELIVERERS[CHANNEL_NAME] = self._deliver

        @wechat.get("/")
        async def health(_request: Request) -> HTTPResponse:
            return json({"status": "ok"})

        @wechat.get("/webhook")
        async def verify(request: Request) -> HTTPResponse:
            if not self.settings.token:
                return self._unconfigured()
            args = request.args
            timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
            echostr = args.get("echostr", "")
            try:
                check_freshness(timestamp, self._clock())
                check_signature(args.get("signature", ""), self.settings.token, timestamp, nonce)
                if not echostr:
                    raise bad_request("missing echostr")
            except RequestRejected as rejection:
                return _reject(request, rejection)
            logger.info("WeChat server URL verified")
            return text(echostr)

        @wechat.post("/webhook", stream=True)
        async def receive(request: Request) -> HTTPResponse:
            if not self.settings.token:
                return self._unconfigured()
            deadline = asyncio.get_running_loop().time() + self.settings.reply_seconds
            try:
                body = await read_body(request)
                inbound = self._authenticate(request.args, body)
                await self._check_replay(request.args, body)
                content = await self._answer(
                    inbound, on_new_message, deadline, agent_of(request), limiter_of(request)
                )
            except RequestRejected as rejection:
                return _reject(request, rejection)
            except SharedStateUnavailable as error:
                # Better WeChat retries later than a message is answered twice or a replay passes.
                logger.error("WeChat callback refused (HTTP 503): %s", error)
                return text(SERVICE_UNAVAILABLE.phrase, status=SERVICE_UNAVAILABLE)
            return self._respond(inbound, content)

        @wechat.listener("after_server_stop")
        async def close(_app: Any, _loop: Any) -> None:
            await self.close()

        return wechat

    async def _deliver(
        self, sender_id: str, text: str, buttons: Sequence[Mapping[str, Any]] | None = None
    ) -> bool:
        """Sends an agent's (or the system's) message to the WeChat user of the conversation
        ``sender_id``; its buttons become numbered options the user answers with a digit, as
        in a bot turn (e.g. the rating question after a handoff)."""
        openid = channel_sender(CHANNEL_NAME, sender_id)
        if openid is None or self._api is None:
            return False
        if not buttons:
            return await self._api.send_text(openid, text)
        reply = build_reply([{"text": text, "buttons": list(buttons)}])
        try:
            await self._options.set(openid, reply.payloads)
        except SharedStateUnavailable as error:
            logger.error("WeChat options not kept (a digit will be read as text): %s", error)
        return await self._api.send_texts(openid, reply.chunks)

    async def close(self) -> None:
        """Cancels unfinished turns and closes the API client."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._api is not None:
            await self._api.close()

    def _authenticate(self, args: Mapping[str, Any], body: bytes) -> _Inbound:
        """Checks freshness and signatures, decrypts safe-mode bodies and parses the message."""
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        check_freshness(timestamp, self._clock())
        check_signature(args.get("signature", ""), self.settings.token, timestamp, nonce)
        fields = parse_xml(body)
        xml: bytes | str = body
        encrypt_type = args.get("encrypt_type", PLAINTEXT_MODE).lower()
        if encrypt_type not in (PLAINTEXT_MODE, SAFE_MODE):
            raise bad_request("unsupported encrypt_type")
        encrypted = encrypt_type == SAFE_MODE
        if encrypted:
            if self._crypto is None:
                raise RequestRejected(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    f"safe-mode message but {AES_KEY_ENV} / {APPID_ENV} are not usable",
                )
            msg_signature = args.get("msg_signature", "")
            xml = decrypt_message(self._crypto, fields, msg_signature, timestamp, nonce)
            fields = parse_xml(xml)
        for name in _REQUIRED_FIELDS:
            if not fields.get(name):
                raise bad_request(f"missing {name}")
        try:
            message = parse_message(xml)
        except _MESSAGE_ERRORS:
            raise bad_request("unparsable message") from None
        return _Inbound(message, fields, encrypted, nonce)

    async def _check_replay(self, args: Mapping[str, Any], body: bytes) -> None:
        """Refuses a signed query string that was used before with a different body.

        Called only once the request is authenticated, so forged requests cannot burn nonces.
        """
        key = f"{args.get('timestamp', '')}:{args.get('nonce', '')}"
        if not await self._nonces.accepts(key, hashlib.sha256(body).hexdigest()):
            raise forbidden("replayed nonce with a different body")

    async def _answer(
        self,
        inbound: _Inbound,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        deadline: float,
        agent: Any = None,
        limiter: RateLimiter | None = None,
    ) -> str | None:
        """The passive reply text for a message, or ``None`` for ``success``.

        A new message (not a retry of one being handled) of a user over the rate limit gets
        :data:`TOO_FAST_PROMPT` and is not handed to the bot (nor its photo fetched).
        """
        message, fields = inbound.message, inbound.fields
        openid = fields["FromUserName"]
        media = None
        if fields["MsgType"].lower() == _EVENT_TYPE:
            if getattr(message, "event", "") not in GREET_EVENTS:
                return None
            user_text = GREET_PAYLOAD
        elif isinstance(message, TextMessage):
            user_text = (message.content or "").strip()
            if not user_text:
                return TYPE_PROMPT
            user_text = option_payload(user_text, await self._options.get(openid)) or user_text
        elif isinstance(message, VoiceMessage):
            user_text = (message.recognition or "").strip()
            if not user_text:
                return VOICE_PROMPT
        elif fields["MsgType"].lower() in MEDIA_TYPES and fields.get("MediaId") and agent:
            media = _Media(fields["MediaId"].strip(), fields.get("Title") or "")
            user_text = ""
        else:
            return TYPE_PROMPT
        if len(user_text) > MAX_MESSAGE_CHARS:
            return TOO_LONG_PROMPT
        key = _dedup_key(fields)
        turn = self._turns.get(key)
        if turn is None:
            if not await self._deduplicator.first_seen(key):
                logger.info("WeChat message already handled: answering success")
                return None
            if limiter is not None and limiter.sender_wait(scoped_sender(CHANNEL_NAME, openid)):
                logger.warning("WeChat user over the rate limit: message not handled")
                return TOO_FAST_PROMPT
            turn = _Turn()
            self._turns.set(key, turn)
            message_id = fields.get("MsgId") or None
            if media is not None:
                self._spawn(self._document_turn(turn, openid, media, agent))
            else:
                self._spawn(self._run_turn(turn, openid, user_text, message_id, on_new_message))
        else:
            logger.info("WeChat retried a message: waiting for the same bot turn")
        return await self._wait_for(turn, deadline)

    async def _wait_for(self, turn: _Turn, deadline: float) -> str | None:
        """The passive reply of ``turn`` if it is ready before ``deadline``."""
        if turn.done:
            return turn.passive
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[str | None] = loop.create_future()
        turn.waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter, max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            logger.info(
                "Bot answer not ready within %.1f s: answering success, the answer follows "
                "through the customer-service API",
                self.settings.reply_seconds,
            )
            return None
        finally:
            turn.waiters.remove(waiter)

    async def _run_turn(
        self,
        turn: _Turn,
        openid: str,
        user_text: str,
        message_id: str | None,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        """Runs the bot and hands its answer to a waiting request or the customer-service API."""
        collector = WeChatOutput()
        user_message = UserMessage(
            mask_sensitive(user_text),
            collector,
            # WeChat's namespace: no other channel can address this conversation.
            scoped_sender(CHANNEL_NAME, openid),
            input_channel=CHANNEL_NAME,
            message_id=message_id,
        )
        try:
            await on_new_message(user_message)
            messages = collector.messages
        except (Exception, TrackerStoreUnavailable):
            logger.exception("The bot failed to answer a WeChat message")
            messages = [{"text": BOT_ERROR_TEXT}]
        await self._finish_turn(turn, openid, messages)

    async def _document_turn(self, turn: _Turn, openid: str, media: _Media, agent: Any) -> None:
        """Fetches a photo or file (``media/get``) and attaches it to the merchant's case."""
        try:
            messages = await self._document_messages(openid, media, agent)
        except Exception:
            logger.exception("A WeChat document could not be handled")
            messages = [{"text": BOT_ERROR_TEXT}]
        await self._finish_turn(turn, openid, messages)

    async def _document_messages(
        self, openid: str, media: _Media, agent: Any
    ) -> list[dict[str, Any]]:
        sender_id = scoped_sender(CHANNEL_NAME, openid)
        # Nothing is downloaded for a merchant who is not verified in this conversation.
        try:
            verified = await verified_merchant(agent, sender_id)
        except TrackerStoreUnavailable:
            return [{"text": BOT_ERROR_TEXT}]
        if verified is None:
            return [{"text": domain_text(agent, UTTER_VERIFY_FIRST)}]
        if self._api is None:
            logger.error("Cannot fetch a WeChat document: %s and %s are not set", APPID_ENV,
                         APPSECRET_ENV)  # fmt: skip
            return [{"text": domain_text(agent, UTTER_MEDIA_FAILED)}]
        if self._documents is None:
            self._documents = DocumentService()
        try:
            data = await self._api.get_media(media.media_id, self._documents.max_bytes)
        except MediaTooLarge:
            return [{"text": domain_text(agent, UTTER_TOO_LARGE)}]
        if data is None:
            return [{"text": domain_text(agent, UTTER_MEDIA_FAILED)}]
        _, messages, error = await take_document(
            agent, self._documents, sender_id, data, media.hint
        )
        if error:
            logger.warning("WeChat document from %s refused: %s", _mask(openid), error)
        return messages

    async def _finish_turn(self, turn: _Turn, openid: str, messages: list[dict[str, Any]]) -> None:
        """Hands a turn's answer to a waiting request or the customer-service API."""
        reply = build_reply(messages)
        await self._options.set(openid, reply.payloads)
        first = reply.chunks[0] if reply.chunks else None
        waiters = [waiter for waiter in turn.waiters if not waiter.done()]
        for waiter in waiters:
            waiter.set_result(first)
        turn.done = True
        follow_ups: Sequence[str] = reply.chunks
        if waiters:
            turn.passive = first
            follow_ups = reply.chunks[1:]
            if follow_ups:
                await asyncio.sleep(self.settings.follow_up_seconds)
        if follow_ups:
            await self._send(openid, follow_ups)

    async def _send(self, openid: str, texts: Sequence[str]) -> None:
        """Delivers ``texts`` through the customer-service API, logging failures."""
        if self._api is None:
            logger.error(
                "Cannot deliver %d WeChat message(s): %s and %s are not set",
                len(texts),
                APPID_ENV,
                APPSECRET_ENV,
            )
            return
        if not await self._api.send_texts(openid, texts):
            logger.error("Part of a bot answer was not delivered to WeChat user %s", _mask(openid))

    def _respond(self, inbound: _Inbound, content: str | None) -> HTTPResponse:
        """``success``, or a text reply, encrypted in safe mode."""
        if content is None:
            return text(SUCCESS)
        xml = text_reply_xml(inbound.message, content)
        if inbound.encrypted and self._crypto is not None:
            xml = self._crypto.encrypt_message(xml, inbound.nonce, str(int(self._clock())))
        return text(xml, content_type=XML_CONTENT_TYPE)

    def _unconfigured(self) -> HTTPResponse:
        logger.error("WeChat callback refused: %s is not set (HTTP 503)", TOKEN_ENV)
        return text(SERVICE_UNAVAILABLE.phrase, status=SERVICE_UNAVAILABLE)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._forget_task)

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("A WeChat bot turn failed", exc_info=task.exception())


def _reject(request: Request, rejection: RequestRejected) -> HTTPResponse:
    logger.warning(
        "Rejected a WeChat callback from %s: %s (HTTP %d)",
        request.remote_addr or request.ip,
        rejection.reason,
        rejection.status,
    )
    return text(rejection.status.phrase, status=rejection.status)


def _dedup_key(fields: Mapping[str, str]) -> str:
    sender = fields["FromUserName"]
    if fields.get("MsgId"):
        return f"msg:{sender}:{fields['MsgId']}"
    return f"event:{sender}:{fields.get('CreateTime', '')}"


def _mask(openid: str) -> str:
    return f"{openid[:6]}…" if len(openid) > 6 else "…"


def _reply_seconds(raw: str) -> float:
    if not raw:
        return DEFAULT_REPLY_SECONDS
    try:
        return WECHAT_REPLY_SECONDS.convert(raw)
    except SettingError as error:
        logger.error("%s; using %.1f", error, DEFAULT_REPLY_SECONDS)
        return DEFAULT_REPLY_SECONDS


def _build_crypto(settings: WeChatSettings) -> WeChatCrypto | None:
    """The safe-mode crypto, or ``None`` (logged) when the AES key is absent or unusable."""
    if not settings.aes_key or not settings.token:
        return None
    if not settings.app_id:
        logger.error("%s is set but %s is not: safe mode is disabled", AES_KEY_ENV, APPID_ENV)
        return None
    try:
        key = base64.b64decode(settings.aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(settings.aes_key) != AES_KEY_CHARS or len(key) != AES_KEY_BYTES:
        logger.error(
            "%s must be the 43-character EncodingAESKey: safe mode is disabled", AES_KEY_ENV
        )
        return None
    return WeChatCrypto(settings.token, settings.aes_key, settings.app_id)


def _build_api(settings: WeChatSettings) -> WeChatApiClient | None:
    if not settings.app_id or not settings.app_secret:
        logger.warning(
            "%s / %s are not set: slow or long answers cannot be delivered on WeChat",
            APPID_ENV,
            APPSECRET_ENV,
        )
        return None
    return WeChatApiClient(settings.app_id, settings.app_secret, settings.api_base)
