"""Fixtures for the WeChat channel: a fake bot, a fake WeChat API server and a signing client."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic
from wechatpy.crypto import WeChatCrypto

from bot.channels.rate_limit import RATE_LIMIT_ENV
from bot.channels.rate_limit import install as install_rate_limit
from bot.channels.wechat.channel import WeChatInput, WeChatSettings

TOKEN = "posbot-test-token"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "test-app-secret"
# WeChat's documented example EncodingAESKey: 43 characters, 32 bytes once decoded.
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = "gh_posbot"
OPENID = "oPOSBOT_user_0001"
FAKE_ACCESS_TOKEN = "fake-access-token"
WAIT_SECONDS = 5.0


@dataclass
class FakeBot:
    """Stands in for ``agent.handle_message``: records messages and answers after ``delay``."""

    delay: float = 0.0
    buttons: list[dict[str, str]] = field(default_factory=list)
    answer: Callable[[str], str] = lambda text: f"收到：{text}"
    fail: bool = False
    messages: list[UserMessage] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [message.text or "" for message in self.messages]

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("bot failure")
        response: dict[str, Any] = {"text": self.answer(message.text or "")}
        if self.buttons:
            response["buttons"] = list(self.buttons)
        await message.output_channel.send_response(message.sender_id, response)


@dataclass
class FakeWeChatApi:
    """An aiohttp server on 127.0.0.1 imitating the token and customer-service endpoints."""

    token_calls: list[dict[str, str]] = field(default_factory=list)
    sends: list[dict[str, Any]] = field(default_factory=list)
    send_tokens: list[str] = field(default_factory=list)
    # errcodes returned by the next custom-send calls, then 0.
    send_errors: list[int] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for_sends(self, count: int, timeout: float = WAIT_SECONDS) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.sends) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.sends

    async def _token(self, request: web.Request) -> web.Response:
        self.token_calls.append(dict(request.query))
        return web.json_response(
            {"access_token": f"{FAKE_ACCESS_TOKEN}-{len(self.token_calls)}", "expires_in": 7200}
        )

    async def _send(self, request: web.Request) -> web.Response:
        self.send_tokens.append(request.query.get("access_token", ""))
        errcode = self.send_errors.pop(0) if self.send_errors else 0
        if errcode == 0:
            self.sends.append(await request.json())
        return web.json_response({"errcode": errcode, "errmsg": "ok" if errcode == 0 else "err"})


def loopback_socket() -> socket.socket:
    """A socket on a free loopback port (Sanic turns ``port=0`` into its default 8000)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def signature(*values: str) -> str:
    """WeChat's signature, computed independently of the code under test."""
    return hashlib.sha1("".join(sorted(values)).encode()).hexdigest()


def message_xml(
    msg_type: str,
    openid: str = OPENID,
    msg_id: str | None = "1000001",
    create_time: int | None = None,
    **fields: str,
) -> str:
    """A WeChat callback message in plaintext XML."""
    parts = [
        f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>",
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>",
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>",
    ]
    parts += [f"<{name}><![CDATA[{value}]]></{name}>" for name, value in fields.items()]
    if msg_id is not None:
        parts.append(f"<MsgId>{msg_id}</MsgId>")
    return "<xml>" + "".join(parts) + "</xml>"


def text_xml(content: str, msg_id: str = "1000001", openid: str = OPENID) -> str:
    return message_xml("text", openid=openid, msg_id=msg_id, Content=content)


@dataclass
class WeChatClient:
    """Sends signed (and in safe mode encrypted) requests like the WeChat server does."""

    session: aiohttp.ClientSession
    url: str
    token: str = TOKEN
    crypto: WeChatCrypto = field(default_factory=lambda: WeChatCrypto(TOKEN, AES_KEY, APP_ID))

    def query(self, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
        """Signed query parameters; WeChat sends a fresh random nonce with every request."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or str(secrets.randbelow(10**9))
        return {
            "timestamp": stamp,
            "nonce": nonce,
            "signature": signature(self.token, stamp, nonce),
            "openid": OPENID,
        }

    async def verify(self, **query: str) -> tuple[int, str, str]:
        async with self.session.get(self.url, params=query) as response:
            return response.status, response.headers.get("Content-Type", ""), await response.text()

    async def post(self, body: bytes | str, params: dict[str, str]) -> tuple[int, str]:
        data = body.encode() if isinstance(body, str) else body
        async with self.session.post(self.url, params=params, data=data) as response:
            return response.status, await response.text()

    async def post_plain(self, xml: str, **query: Any) -> tuple[int, str]:
        return await self.post(xml, self.query(**query))

    async def post_safe(
        self, xml: str, crypto: WeChatCrypto | None = None, msg_signature: str | None = None
    ) -> tuple[int, str]:
        """Encrypts ``xml`` with wechatpy and posts it in safe mode."""
        params = self.query()
        envelope = ET.fromstring(
            (crypto or self.crypto).encrypt_message(xml, params["nonce"], params["timestamp"])
        )
        encrypted = envelope.findtext("Encrypt") or ""
        params |= {
            "encrypt_type": "aes",
            "msg_signature": msg_signature or envelope.findtext("MsgSignature") or "",
        }
        return await self.post(safe_body(encrypted), params)

    async def post_encrypted_field(self, encrypted: str) -> tuple[int, str]:
        """Posts an arbitrary ``Encrypt`` value with valid signatures."""
        params = self.query()
        params |= {
            "encrypt_type": "aes",
            "msg_signature": signature(self.token, params["timestamp"], params["nonce"], encrypted),
        }
        return await self.post(safe_body(encrypted), params)

    def decrypt_reply(self, body: str) -> str:
        """Checks the reply's signature and decrypts it with wechatpy."""
        envelope = ET.fromstring(body)
        return self.crypto.decrypt_message(
            body,
            envelope.findtext("MsgSignature"),
            envelope.findtext("TimeStamp"),
            envelope.findtext("Nonce"),
        )


def safe_body(encrypted: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )


@pytest.fixture
async def wechat_api() -> AsyncIterator[FakeWeChatApi]:
    api = FakeWeChatApi()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
def bot() -> FakeBot:
    return FakeBot()


@pytest.fixture
def settings(wechat_api: FakeWeChatApi) -> WeChatSettings:
    return WeChatSettings(
        token=TOKEN,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        aes_key=AES_KEY,
        api_base=wechat_api.base_url,
        reply_seconds=0.5,
        follow_up_seconds=0.01,
    )


StartChannel = Callable[..., Awaitable[WeChatClient]]


@pytest.fixture
async def start_channel(
    bot: FakeBot, settings: WeChatSettings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[StartChannel]:
    """Serves a ``WeChatInput`` on 127.0.0.1 the way Rasa registers channels; returns a client."""
    # Sanic 21.12 can only start several apps in one process in test mode (as sanic-testing does).
    monkeypatch.setattr(Sanic, "test_mode", True)
    servers: list[Any] = []
    channels: list[WeChatInput] = []
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT_SECONDS))

    async def start(
        channel: WeChatInput | None = None, rate_limit: str = "", **overrides: Any
    ) -> WeChatClient:
        channel = channel or WeChatInput(replace(settings, **overrides))
        channels.append(channel)
        app = Sanic(f"wechat_test_{uuid.uuid4().hex}", configure_logging=False)
        app.ctx.agent = bot
        if rate_limit:  # POSBOT_RATE_LIMIT, as the Rasa server installs it
            install_rate_limit(app, {RATE_LIMIT_ENV: rate_limit})
        register([channel], app, route="/webhooks/")
        server = await app.create_server(
            sock=loopback_socket(), return_asyncio_server=True, access_log=False
        )
        await server.startup()
        servers.append(server)
        port = server.server.sockets[0].getsockname()[1]
        return WeChatClient(session, f"http://127.0.0.1:{port}/webhooks/wechat/webhook")

    yield start
    await session.close()
    for channel in channels:
        await channel.close()
    for server in servers:
        server.close()
        await server.wait_closed()
