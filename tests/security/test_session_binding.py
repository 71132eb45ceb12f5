"""Issue 11, item 1: a conversation is bound to the client that started it.

The REST channel, the widget's inbox and the WeChat channel run on real Sanic servers with a
stand-in agent whose tracker store is Rasa's in-memory one (what ``make run`` uses); the last
test replays the reported attack against both real servers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage, register
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from sanic import Sanic

from bot.channels.delivery import DELIVERERS, current_outbox, deliver
from bot.channels.rest import GuardedRestInput
from bot.channels.sessions import SESSION_HEADER, SessionTokens, channel_sender
from bot.channels.webchat import WebChatInput
from bot.channels.wechat.channel import WeChatInput, WeChatSettings
from tests.bot.channels.conftest import loopback_socket
from tests.conftest import ROOT

SECRET = "test-session-secret-0123456789"
JSON = {"Content-Type": "application/json"}


@dataclass
class RecordingAgent:
    """Stands in for Rasa's agent: records every message in a real in-memory tracker store."""

    domain: Domain
    tracker_store: InMemoryTrackerStore = field(init=False)
    messages: list[UserMessage] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tracker_store = InMemoryTrackerStore(self.domain)

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, input_channel=message.input_channel))
        await self.tracker_store.save(tracker)
        await message.output_channel.send_response(message.sender_id, {"text": "收到"})


@dataclass
class Client:
    session: aiohttp.ClientSession
    base: str

    async def say(
        self, sender: str, text: str = "查下进度", token: str | None = None
    ) -> tuple[int, Any, str | None]:
        headers = {**JSON, **({SESSION_HEADER: token} if token is not None else {})}
        body = json.dumps({"sender": sender, "message": text})
        async with self.session.post(
            f"{self.base}/webhooks/rest/webhook", data=body, headers=headers
        ) as response:
            return response.status, await response.json(), response.headers.get(SESSION_HEADER)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def agent(domain: Domain) -> RecordingAgent:
    return RecordingAgent(domain)


@pytest.fixture
async def client(agent: RecordingAgent, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = Sanic(f"session_test_{uuid.uuid4().hex}", configure_logging=False)
    app.ctx.agent = agent
    tokens = SessionTokens(SECRET)
    register([GuardedRestInput(tokens), WebChatInput(tokens)], app, route="/webhooks/")
    server = await app.create_server(
        sock=loopback_socket(), return_asyncio_server=True, access_log=False
    )
    await server.startup()
    port = server.server.sockets[0].getsockname()[1]
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    yield Client(session, f"http://127.0.0.1:{port}")
    await session.close()
    server.close()
    await server.wait_closed()


def expected_token(sender_id: str) -> str:
    """The documented token: HMAC-SHA256 of the channel-prefixed sender id."""
    return hmac.new(SECRET.encode(), sender_id.encode(), hashlib.sha256).hexdigest()


async def test_first_reply_issues_the_token_and_later_messages_need_it(
    client: Client, agent: RecordingAgent
) -> None:
    status, replies, token = await client.say("web-victim", "你好")
    assert status == 200
    assert token == expected_token("rest:web-victim")
    assert replies == [{"recipient_id": "web-victim", "text": "收到"}]
    assert agent.messages[0].sender_id == "rest:web-victim"

    status, replies, token_again = await client.say("web-victim", "查下进度", token)
    assert (status, token_again) == (200, None)
    assert len(agent.messages) == 2


@pytest.mark.parametrize("token", [None, "", "0" * 64, expected_token("rest:someone-else")])
async def test_a_message_to_an_existing_conversation_without_its_token_is_refused(
    client: Client, agent: RecordingAgent, token: str | None
) -> None:
    await client.say("web-victim", "你好")
    events_before = len((await agent.tracker_store.retrieve("rest:web-victim")).events)

    status, body, issued = await client.say("web-victim", "查下进度", token)

    assert status == 403
    assert SESSION_HEADER in body["error"] and issued is None
    assert [m.text for m in agent.messages] == ["你好"]  # nothing processed
    tracker = await agent.tracker_store.retrieve("rest:web-victim")
    assert len(tracker.events) == events_before  # no tracker event


async def test_a_token_issued_by_another_server_carries_its_hint_and_is_accepted(
    client: Client, agent: RecordingAgent
) -> None:
    await client.say("web-routed", "你好")
    # What the production profile's second Rasa server issued for this conversation.
    other_server = SessionTokens(SECRET, "r2").issue("rest:web-routed")
    assert other_server == f"r2.{expected_token('rest:web-routed')}"

    status, _, issued = await client.say("web-routed", "查下进度", other_server)

    assert (status, issued) == (200, None)
    assert [m.text for m in agent.messages] == ["你好", "查下进度"]


@pytest.mark.parametrize(
    "forged",
    [
        "r1." + expected_token("rest:someone-else"),  # a hint on another conversation's HMAC
        "r1." + "0" * 64,
        "R1." + expected_token("rest:web-routed"),  # a hint not of the form nginx maps
        "r1/../." + expected_token("rest:web-routed"),
        "r1." * 300 + expected_token("rest:web-routed"),
        expected_token("rest:web-routed") + ".r1",
    ],
)
async def test_a_forged_routing_hint_or_hmac_is_refused(
    client: Client, agent: RecordingAgent, forged: str
) -> None:
    await client.say("web-routed", "你好")

    status, body, issued = await client.say("web-routed", "查下进度", forged)

    assert status == 403 and SESSION_HEADER in body["error"] and issued is None
    assert [m.text for m in agent.messages] == ["你好"]


async def test_rest_cannot_address_a_wechat_conversation(
    client: Client, agent: RecordingAgent
) -> None:
    wechat = await agent.tracker_store.get_or_create_tracker("wechat:oVictimOpenId")
    wechat.update(ActionExecuted("action_listen"))
    await agent.tracker_store.save(wechat)
    wechat_events = len((await agent.tracker_store.retrieve("wechat:oVictimOpenId")).events)

    status, replies, token = await client.say("wechat:oVictimOpenId")
    # A new REST conversation of its own, never the WeChat user's.
    assert status == 200 and token == expected_token("rest:wechat:oVictimOpenId")
    assert replies[0]["recipient_id"] == "wechat:oVictimOpenId"
    assert agent.messages[0].sender_id == "rest:wechat:oVictimOpenId"
    assert len((await agent.tracker_store.retrieve("wechat:oVictimOpenId")).events) == wechat_events


async def test_the_widget_inbox_needs_the_conversation_token(client: Client) -> None:
    sender = "web-" + "ab" * 12
    _, _, token = await client.say(sender, "你好")
    await current_outbox().put(f"rest:{sender}", "您好，我是客服小王", "agent")
    url = f"{client.base}/chat/inbox?sender={sender}"
    async with client.session.get(url) as response:
        assert response.status == 403
    async with client.session.get(url, headers={SESSION_HEADER: "f" * 64}) as response:
        assert response.status == 403
    async with client.session.get(url, headers={SESSION_HEADER: token}) as response:
        assert response.status == 200
        assert [m["text"] for m in (await response.json())["messages"]] == ["您好，我是客服小王"]


def _post(url: str, sender: str, text: str, token: str | None = None) -> tuple[int, Any, str]:
    headers = {**JSON, **({SESSION_HEADER: token} if token else {})}
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", body, headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), response.headers[SESSION_HEADER]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers[SESSION_HEADER]


def test_a_verified_conversation_cannot_be_taken_over_on_the_real_servers(running_bot) -> None:
    bot, _ = running_bot
    victim = f"web-{uuid.uuid4().hex[:24]}"
    status, _, token = _post(bot.url, victim, "商户号898310058121234 手机尾号5678")
    assert status == 200 and token
    status, replies, _ = _post(bot.url, victim, "查下进度", token)
    assert status == 200 and "60013452" in "\n".join(r.get("text", "") for r in replies)

    status, body, issued = _post(bot.url, victim, "查下进度")
    assert status == 403 and issued is None and SESSION_HEADER in body["error"]


@dataclass
class RecordingWeChatApi:
    """Stands in for WeChat's customer-service API: records what would be sent to whom."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    async def send_text(self, openid: str, text: str) -> bool:
        self.sent.append((openid, text))
        return True


async def test_agent_replies_reach_wechat_only_for_wechat_conversations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(DELIVERERS, "wechat", None)  # restored after the test
    api = RecordingWeChatApi()
    channel = WeChatInput(WeChatSettings(token="t"), api=api)  # type: ignore[arg-type]
    channel.blueprint(lambda message: None)  # registers the channel's deliverer
    assert await deliver("wechat", "wechat:oVictimOpenId", "您好", "agent") == "wechat"
    # A REST conversation named like an OpenID never reaches that WeChat user.
    assert not await channel._deliver("rest:oVictimOpenId", "您好")
    assert api.sent == [("oVictimOpenId", "您好")]
    assert channel_sender("wechat", "wechat:oX") == "oX"
    assert channel_sender("wechat", "rest:wechat:oX") is None
