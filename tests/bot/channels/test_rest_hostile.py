"""Hostile and bad input to the REST channel, served by a real Sanic server with a fake bot.

Every rejected request must get a precise 4xx with a JSON reason, reach neither the bot nor its
logs, and never show a stack trace; odd but valid messages reach the bot cleaned.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage, register
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from sanic import Sanic

from bot.channels.rest import MAX_BODY_BYTES, MAX_MESSAGE_CHARS, GuardedRestInput
from tests.conftest import ROOT

JSON = "application/json"
EMPTY_HINT = "请输入您的问题，例如：POS机为什么被停用？"
TIMEOUT_SECONDS = 5.0


@dataclass
class FakeAgent:
    """Stands in for Rasa's agent: records messages, answers with their text, has the domain."""

    domain: Domain
    fail: bool = False
    messages: list[UserMessage] = field(default_factory=list)
    # Rasa's in-memory store, empty: every sender is a new conversation (no session token).
    tracker_store: InMemoryTrackerStore = field(init=False)

    def __post_init__(self) -> None:
        self.tracker_store = InMemoryTrackerStore(self.domain)

    @property
    def texts(self) -> list[str]:
        return [message.text or "" for message in self.messages]

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.fail:
            raise RuntimeError("secret internals /srv/posbot/bot.py line 42")
        await message.output_channel.send_response(
            message.sender_id, {"text": f"收到：{message.text}"}
        )


@dataclass
class RestClient:
    """Posts to the channel under test."""

    session: aiohttp.ClientSession
    url: str
    host: str
    port: int

    async def post(self, body: bytes, content_type: str | None = JSON) -> tuple[int, Any, str]:
        headers = {"Content-Type": content_type} if content_type else {}
        async with self.session.post(self.url, data=body, headers=headers) as response:
            raw = await response.text()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = None
            return response.status, payload, raw


@pytest.fixture(scope="module")
def rasa_domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def agent(rasa_domain: Domain) -> FakeAgent:
    return FakeAgent(rasa_domain)


@pytest.fixture
async def client(agent: FakeAgent, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RestClient]:
    """``GuardedRestInput`` registered the way Rasa does it, on 127.0.0.1 and a free port."""
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = Sanic(f"rest_test_{uuid.uuid4().hex}", configure_logging=False)
    app.ctx.agent = agent
    register([GuardedRestInput()], app, route="/webhooks/")
    server = await app.create_server(
        host="127.0.0.1", port=0, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    port = server.server.sockets[0].getsockname()[1]
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
    yield RestClient(session, f"http://127.0.0.1:{port}/webhooks/rest/webhook", "127.0.0.1", port)
    await session.close()
    server.close()
    await server.wait_closed()


def body(sender: Any = "merchant-1", message: Any = "审核要多久", **extra: Any) -> bytes:
    return json.dumps({"sender": sender, "message": message, **extra}).encode("utf-8")


def nested(depth: int) -> bytes:
    """A small body whose metadata is ``depth`` nested arrays."""
    prefix = b'{"sender": "a", "message": "hi", "metadata": {"x": '
    return prefix + b"[" * depth + b"]" * depth + b"}}"


REJECTED = [
    (b"{not json", JSON, 400, "not valid JSON"),
    (b"", JSON, 400, "not valid JSON"),
    (b"null", JSON, 400, "expected a JSON object"),
    (b"[1, 2]", JSON, 400, "expected a JSON object"),
    (b'"just a string"', JSON, 400, "expected a JSON object"),
    (b'{"sender": "a"}', JSON, 400, "message"),
    (b'{"message": "hi"}', JSON, 400, "sender"),
    (body(sender=5), JSON, 400, "sender"),
    (body(sender=""), JSON, 400, "sender"),
    (body(sender="a\x00b"), JSON, 400, "sender"),
    (body(sender="../../etc/passwd"), JSON, 400, "sender"),
    (body(sender="s" * 129), JSON, 400, "sender"),
    (body(message=None), JSON, 400, "message"),
    (body(message=["审核要多久"]), JSON, 400, "message"),
    (body(message={"text": "hi"}), JSON, 400, "message"),
    (body(metadata=[1]), JSON, 400, "metadata"),
    (b"\xff\xfe\xfa", JSON, 400, "not valid UTF-8"),
    ('{"sender": "a", "message": "审核"}'.encode("gbk"), JSON, 400, "not valid UTF-8"),
    (b'{"sender": "a", "message": "\xed\xa0\xbd"}', JSON, 400, "not valid UTF-8"),
    (nested(8000), JSON, 400, "nested"),
    (body(message="长" * (MAX_MESSAGE_CHARS + 1)), JSON, 413, "characters"),
    (body(message="x" * 10_000), JSON, 413, "characters"),
    (body(message="a" * (1024 * 1024)), JSON, 413, "bytes"),
    (b"sender=a&message=hi", "application/x-www-form-urlencoded", 415, "Content-Type"),
    (body(), "application/x-www-form-urlencoded", 415, "Content-Type"),
    (body(), "text/plain", 415, "Content-Type"),
    (body(), "multipart/form-data; boundary=x", 415, "Content-Type"),
    (b"<xml/>", "application/xml", 415, "Content-Type"),
]
REJECTED_IDS = [
    "malformed-json",
    "empty-body",
    "json-null",
    "json-array",
    "json-string",
    "no-message",
    "no-sender",
    "sender-number",
    "sender-empty",
    "sender-nul",
    "sender-path",
    "sender-too-long",
    "message-null",
    "message-list",
    "message-object",
    "metadata-list",
    "invalid-utf8",
    "gbk-body",
    "utf8-encoded-surrogate",
    "deeply-nested-json",
    "1001-chars",
    "10kb",
    "1mb",
    "form-urlencoded",
    "json-as-form",
    "text-plain",
    "multipart",
    "xml",
]


@pytest.mark.parametrize(("raw", "content_type", "status", "reason"), REJECTED, ids=REJECTED_IDS)
async def test_bad_requests_get_a_precise_client_error_and_never_reach_the_bot(
    client: RestClient,
    agent: FakeAgent,
    caplog: pytest.LogCaptureFixture,
    raw: bytes,
    content_type: str,
    status: int,
    reason: str,
) -> None:
    with caplog.at_level(logging.DEBUG):
        code, payload, text = await client.post(raw, content_type)
    assert code == status
    assert isinstance(payload, dict) and reason in payload["error"]
    assert "Traceback" not in text
    assert agent.messages == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(
    ("text", "received"),
    [
        ("😡😡😡😡😡", "😡😡😡😡😡"),
        ("审核\x00要\x1b多久\x7f", "审核要多久"),
        ("审核\u200b要\u202e多久\ufeff", "审核要多久"),
        ("\ud83d好", "好"),  # a lone surrogate, sent as a JSON escape
        ("  查下进度\r\n", "查下进度"),
        ("长" * MAX_MESSAGE_CHARS, "长" * MAX_MESSAGE_CHARS),
        (" " * 50 + "长" * MAX_MESSAGE_CHARS + "\u200b" * 50, "长" * MAX_MESSAGE_CHARS),
    ],
    ids=["emoji", "control", "invisible", "lone-surrogate", "whitespace", "limit", "limit-padded"],
)
async def test_odd_but_valid_messages_reach_the_bot_cleaned(
    client: RestClient, agent: FakeAgent, text: str, received: str
) -> None:
    code, payload, _ = await client.post(body(sender="odd", message=text))
    assert code == 200
    assert agent.texts == [received]
    assert payload == [{"recipient_id": "odd", "text": f"收到：{received}"}]


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\u200b\u0007", "\ufeff\u202e"])
async def test_empty_messages_get_a_polite_hint_without_the_bot(
    client: RestClient, agent: FakeAgent, text: str
) -> None:
    code, payload, _ = await client.post(body(sender="empty", message=text))
    assert code == 200
    assert payload == [{"recipient_id": "empty", "text": EMPTY_HINT}]
    assert agent.messages == []


@pytest.mark.parametrize("content_type", [JSON, "application/json; charset=utf-8"])
async def test_json_content_types_are_accepted(
    client: RestClient, agent: FakeAgent, content_type: str
) -> None:
    code, _, _ = await client.post(body(), content_type)
    assert code == 200
    assert agent.texts == ["审核要多久"]


async def test_a_body_without_content_type_is_read_as_json(
    client: RestClient, agent: FakeAgent
) -> None:
    payload = body()
    head = (
        b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n"
    )
    assert (await raw_exchange(client, head, payload)).startswith(b"HTTP/1.1 200")
    assert agent.texts == ["审核要多久"]


async def test_metadata_object_reaches_the_bot(client: RestClient, agent: FakeAgent) -> None:
    code, _, _ = await client.post(body(metadata={"channel": "widget"}))
    assert code == 200
    assert agent.messages[0].metadata == {"channel": "widget"}


async def test_secrets_are_masked_before_the_bot(client: RestClient, agent: FakeAgent) -> None:
    code, _, _ = await client.post(body(message="我的密码是918273 卡号6222021234567890123"))
    assert code == 200
    assert "918273" not in agent.texts[0]
    assert "6222021234567890123" not in agent.texts[0]


async def test_bot_failure_shows_no_internals(
    client: RestClient, agent: FakeAgent, caplog: pytest.LogCaptureFixture
) -> None:
    agent.fail = True
    with caplog.at_level(logging.DEBUG):
        code, _, text = await client.post(body(message="我的密码是918273"))
    assert code != 500
    assert "secret internals" not in text and "Traceback" not in text and "918273" not in text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "secret internals" not in logged and "918273" not in logged


async def raw_exchange(client: RestClient, head: bytes, payload: bytes) -> bytes:
    """Sends ``head`` and ``payload`` on one connection; the status line of the answer."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(head + payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), TIMEOUT_SECONDS)
    finally:
        writer.close()


async def test_declared_huge_body_is_refused_before_it_is_read(
    client: RestClient, agent: FakeAgent
) -> None:
    # 50 MB announced, 1 KB sent: waiting for the rest would time out; the answer must not wait.
    head = (
        b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
    )
    status = await raw_exchange(client, head, b"{" + b" " * 1024)
    assert status.startswith(b"HTTP/1.1 413")
    assert agent.messages == []


async def test_chunked_body_over_the_limit_is_refused(client: RestClient, agent: FakeAgent) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"sender": "a", "message": "'
        for _ in range(64):
            yield b"a" * 8192

    headers = {"Content-Type": JSON}
    async with client.session.post(client.url, data=chunks(), headers=headers) as response:
        assert response.status == 413
        assert str(MAX_BODY_BYTES) in (await response.json())["error"]
    assert agent.messages == []


async def test_many_bad_requests_do_not_stop_good_ones(
    client: RestClient, agent: FakeAgent
) -> None:
    bad: list[Awaitable[tuple[int, Any, str]]] = [client.post(nested(5000)) for _ in range(20)]
    bad += [client.post(body(message="x" * 20_000)) for _ in range(20)]
    results = await asyncio.gather(*bad)
    assert {code for code, _, _ in results} == {400, 413}
    code, _, _ = await client.post(body())
    assert code == 200
    assert agent.texts == ["审核要多久"]
