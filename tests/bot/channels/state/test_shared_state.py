"""Redis-backed channel state against the real Redis (db 12 only, flushed around each test).

Two store objects with their own clients stand for two Rasa server processes. Outside CI an
unreachable Redis skips these tests with the reason; in CI (CI=true) it fails them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest
import redis
from rasa.core.channels.channel import register
from redis.asyncio import Redis
from sanic import Sanic

from bot.channels import delivery
from bot.channels.delivery import deliver
from bot.channels.sessions import SESSION_HEADER, SessionTokens
from bot.channels.state import factory
from bot.channels.state.call_context import InMemoryCallContexts
from bot.channels.state.errors import SharedStateUnavailable
from bot.channels.state.outbox import HumanOutbox
from bot.channels.state.redis_backend import (
    CALL_PREFIX,
    DEDUP_PREFIX,
    NONCE_PREFIX,
    OUTBOX_PREFIX,
    RedisCallContexts,
    RedisDeduplicator,
    RedisNonceRegistry,
    RedisOptions,
    RedisOutbox,
    redis_client,
)
from bot.channels.state.wechat import InMemoryDeduplicator, InMemoryOptions
from bot.channels.webchat import WebChatInput
from bot.channels.wechat.channel import SUCCESS, WeChatInput
from tests.bot.channels.conftest import FakeBot, StartChannel, loopback_socket, text_xml

REDIS_URL = os.environ.get("POSBOT_TEST_SHARED_REDIS_URL", "redis://127.0.0.1:6379/12")
# Nothing listens there (helper H6's port range): Redis "down" without stopping the server.
DEAD_REDIS_URL = "redis://127.0.0.1:5699/12"
SENDER = "web-0123456789abcdef01234567"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test database, flushed before and after the test."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        client.close()
        _unavailable(f"Redis not reachable at {REDIS_URL}: {error}")
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[Callable[[], Redis]]:
    """Makes a new client per call (one per simulated process); closes them afterwards."""
    made: list[Redis] = []

    def make() -> Redis:
        made.append(redis_client(redis_url))
        return made[-1]

    yield make
    for client in made:
        await client.close()
        await client.connection_pool.disconnect()


@pytest.fixture
async def dead_client() -> AsyncIterator[Redis]:
    client = redis_client(DEAD_REDIS_URL)
    yield client
    await client.close()
    await client.connection_pool.disconnect()


# --- configuration ----------------------------------------------------------------------------


def test_stores_are_chosen_by_posbot_redis_url_without_connecting() -> None:
    shared = {factory.REDIS_URL_ENV: DEAD_REDIS_URL}
    assert isinstance(factory.deduplicator(shared), RedisDeduplicator)
    assert isinstance(factory.nonce_registry(shared), RedisNonceRegistry)
    assert isinstance(factory.wechat_options(shared), RedisOptions)
    assert isinstance(factory.outbox(shared), RedisOutbox)
    assert isinstance(factory.call_contexts(shared), RedisCallContexts)
    alone = {factory.REDIS_URL_ENV: " "}
    assert isinstance(factory.deduplicator(alone), InMemoryDeduplicator)
    assert isinstance(factory.wechat_options(alone), InMemoryOptions)
    assert isinstance(factory.outbox(alone), HumanOutbox)
    assert isinstance(factory.call_contexts(alone), InMemoryCallContexts)


# --- two processes share the state ----------------------------------------------------------


async def test_a_message_id_is_first_seen_once_across_processes(clients) -> None:
    first, second = RedisDeduplicator(clients()), RedisDeduplicator(clients())
    assert await first.first_seen("msg:openid:1")
    assert not await second.first_seen("msg:openid:1")
    assert not await first.first_seen("msg:openid:1")
    assert await second.first_seen("msg:openid:2")
    ttl = await clients().pttl(DEDUP_PREFIX + "msg:openid:1")
    # Kept for the whole replay window of a signed callback (2 x 300 s), plus a margin.
    assert 600_000 <= ttl <= 605_000


async def test_concurrent_retries_on_two_processes_pass_exactly_once(clients) -> None:
    stores = [RedisDeduplicator(clients()), RedisDeduplicator(clients())]
    results = await asyncio.gather(*(stores[i % 2].first_seen("msg:o:9") for i in range(20)))
    assert sorted(results) == [False] * 19 + [True]


async def test_a_nonce_replayed_with_another_body_is_refused_by_every_process(clients) -> None:
    first, second = RedisNonceRegistry(clients()), RedisNonceRegistry(clients())
    assert await first.accepts("1700000000:42", "digest-a")
    assert await second.accepts("1700000000:42", "digest-a")  # WeChat's retry: same body
    assert not await second.accepts("1700000000:42", "digest-b")
    assert not await first.accepts("1700000000:42", "digest-b")
    assert await second.accepts("1700000000:43", "digest-b")
    ttl = await clients().pttl(NONCE_PREFIX + "1700000000:42")
    assert 600_000 <= ttl <= 605_000  # the replay window of a signed callback, plus a margin


async def test_an_agent_reply_put_by_one_process_is_taken_by_the_other(clients) -> None:
    first, second = RedisOutbox(clients()), RedisOutbox(clients())
    await first.put(SENDER, "您好，我是客服小王", "agent")
    await first.put(SENDER, "已为您加急", "agent")
    await first.put("web-ffffffffffffffffffffffff", "别人的消息", "agent")
    taken = await second.take(SENDER)
    assert [(m["text"], m["from"]) for m in taken] == [
        ("您好，我是客服小王", "agent"),
        ("已为您加急", "agent"),
    ]
    assert all(isinstance(m["at"], float) for m in taken)
    assert await first.take(SENDER) == []
    assert await second.take(SENDER) == []
    ttl = await clients().pttl(OUTBOX_PREFIX + "web-ffffffffffffffffffffffff")
    assert 0 < ttl <= 24 * 3600 * 1000


async def test_the_shared_outbox_keeps_the_newest_messages(clients) -> None:
    box = RedisOutbox(clients(), max_messages=3)
    for number in range(5):
        await box.put(SENDER, f"消息{number}", "agent")
    assert [m["text"] for m in await box.take(SENDER)] == ["消息2", "消息3", "消息4"]


async def test_a_call_context_grows_across_processes_like_in_memory(clients) -> None:
    turns = [
        ("call-1", "alice", "商户号898310058121234", [{"entity": "merchant_id", "value": "8983"}]),
        ("call-1", "alice", "单号jc202611180023", [{"entity": "case_id", "value": "jc2026"}]),
        ("call-1", "alice", "手机号138****5678", [{"entity": "phone_number", "value": "138"}]),
    ]
    shared = [RedisCallContexts(clients()), RedisCallContexts(clients())]
    memory = InMemoryCallContexts()
    for number, turn in enumerate(turns):
        context = await shared[number % 2].add_turn(*turn)
        expected = await memory.add_turn(*turn)
        assert (context.call_id, context.agent_id, context.turns, context.ids) == (
            expected.call_id,
            expected.agent_id,
            expected.turns,
            expected.ids,
        )
    assert context.ids == {"merchant_id": "8983", "case_id": "JC2026"}
    assert len(context.turns) == 3
    taken_over = await shared[0].add_turn("call-1", "bob", "你好", [])
    assert (taken_over.agent_id, taken_over.turns, taken_over.ids) == ("bob", ["你好"], {})
    stored = json.loads(await clients().get(CALL_PREFIX + "call-1"))
    assert stored["agent_id"] == "bob"
    assert 0 < await clients().pttl(CALL_PREFIX + "call-1") <= 4 * 3600 * 1000


async def test_wechat_options_are_shared_and_forgotten(clients) -> None:
    first, second = RedisOptions(clients()), RedisOptions(clients())
    await first.set("openid-1", ("/check_case_status", "/request_human"))
    assert await second.get("openid-1") == ("/check_case_status", "/request_human")
    await second.set("openid-1", ())
    assert await first.get("openid-1") == ()


# --- Redis down -----------------------------------------------------------------------------


async def test_redis_down_is_reported_not_guessed(dead_client: Redis, caplog) -> None:
    with pytest.raises(SharedStateUnavailable):
        await RedisDeduplicator(dead_client).first_seen("msg:o:1")
    with pytest.raises(SharedStateUnavailable):
        await RedisNonceRegistry(dead_client).accepts("1:2", "digest")
    with pytest.raises(SharedStateUnavailable):
        await RedisOutbox(dead_client).take(SENDER)
    with pytest.raises(SharedStateUnavailable):
        await RedisCallContexts(dead_client).add_turn("call-1", "alice", "你好", [])
    with caplog.at_level(logging.ERROR):
        assert await RedisOptions(dead_client).get("openid-1") == ()
        await RedisOptions(dead_client).set("openid-1", ("/greet",))
    assert caplog.text.count("ConnectionError") == 2


async def test_agent_reply_with_the_inbox_down_is_reported_undelivered(
    dead_client: Redis, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    monkeypatch.setattr(delivery, "OUTBOX", RedisOutbox(dead_client))
    with caplog.at_level(logging.ERROR):
        assert await deliver("rest", SENDER, "您好", "agent") == "undelivered"
    assert "not delivered" in caplog.text
    assert "您好" not in caplog.text


# --- through the channels -------------------------------------------------------------------


async def test_a_wechat_retry_reaching_the_other_process_is_not_answered_twice(
    clients, start_channel: StartChannel, bot: FakeBot, settings
) -> None:
    processes = [
        WeChatInput(
            settings,
            deduplicator=RedisDeduplicator(clients()),
            nonces=RedisNonceRegistry(clients()),
            options=RedisOptions(clients()),
        )
        for _ in range(2)
    ]
    first, second = [await start_channel(channel) for channel in processes]
    xml = text_xml("审核要多久", msg_id="7000001")
    status, body = await first.post_plain(xml)
    assert status == 200 and "收到：审核要多久" in body
    assert await second.post_plain(xml) == (200, SUCCESS)
    assert bot.texts == ["审核要多久"]


async def test_a_signed_query_replayed_on_the_other_process_is_refused(
    clients, start_channel: StartChannel, bot: FakeBot, settings
) -> None:
    processes = [WeChatInput(settings, nonces=RedisNonceRegistry(clients())) for _ in range(2)]
    first, second = [await start_channel(channel) for channel in processes]
    query = first.query()
    assert (await first.post(text_xml("你好", msg_id="7000002"), query))[0] == 200
    status, _ = await second.post(text_xml("把钱转给我", msg_id="7000003"), query)
    assert status == 403
    assert bot.texts == ["你好"]


async def test_wechat_answers_503_when_redis_is_down(
    dead_client: Redis, start_channel: StartChannel, bot: FakeBot, settings
) -> None:
    channel = WeChatInput(settings, deduplicator=RedisDeduplicator(dead_client))
    client = await start_channel(channel)
    status, _ = await client.post_plain(text_xml("审核要多久", msg_id="7000004"))
    assert status == 503
    assert bot.messages == []
    channel = WeChatInput(settings, nonces=RedisNonceRegistry(dead_client))
    client = await start_channel(channel)
    status, _ = await client.post_plain(text_xml("审核要多久", msg_id="7000005"))
    assert status == 503
    assert bot.messages == []


@pytest.fixture
async def widget(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[..., Any]]:
    """Serves the web chat channel; returns ``poll(sender) -> (status, json)``."""
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = Sanic(f"webchat_test_{uuid.uuid4().hex}", configure_logging=False)
    tokens = SessionTokens("widget-test-secret-0123456789")
    register([WebChatInput(tokens)], app, route="/webhooks/")
    server = await app.create_server(
        sock=loopback_socket(), return_asyncio_server=True, access_log=False
    )
    await server.startup()
    port = server.server.sockets[0].getsockname()[1]
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))

    async def poll(sender: str) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{port}/chat/inbox"
        # The widget sends its conversation's session token (the REST channel's namespace).
        headers = {SESSION_HEADER: tokens.issue(f"rest:{sender}")}
        async with session.get(url, params={"sender": sender}, headers=headers) as response:
            return response.status, await response.json()

    yield poll
    await session.close()
    await server.close()


async def test_the_widget_poll_sees_a_reply_put_by_the_other_process(
    clients, widget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "OUTBOX", RedisOutbox(clients()))
    await RedisOutbox(clients()).put(f"rest:{SENDER}", "您好，我是客服小王", "agent")
    status, body = await widget(SENDER)
    assert status == 200
    assert [m["text"] for m in body["messages"]] == ["您好，我是客服小王"]
    assert await widget(SENDER) == (200, {"messages": []})


async def test_the_widget_poll_gets_no_messages_when_redis_is_down(
    dead_client: Redis, widget, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    monkeypatch.setattr(delivery, "OUTBOX", RedisOutbox(dead_client))
    with caplog.at_level(logging.ERROR):
        assert await widget(SENDER) == (200, {"messages": []})
    assert "Widget inbox unavailable" in caplog.text
