"""Item 10: a signed WeChat callback is never handed to the bot twice while it is still fresh.

A timestamp is accepted 300 s either side of the server's clock, so one signed request can be
presented during 600 s. Its MsgId and its nonce must be remembered at least that long, in memory
(one process) and in Redis (the production profile).
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.channels.state.redis_backend import (
    DEDUP_PREFIX,
    NONCE_PREFIX,
    RedisDeduplicator,
    RedisNonceRegistry,
    redis_client,
)
from bot.channels.state.wechat import InMemoryDeduplicator, InMemoryNonceRegistry
from bot.channels.wechat.channel import SUCCESS, WeChatInput, WeChatSettings
from bot.channels.wechat.security import MAX_CLOCK_SKEW_SECONDS
from tests.bot.channels.conftest import FakeBot, FakeWeChatApi, StartChannel, text_xml
from tests.security import redis_service

security_redis_url = redis_service.security_redis_url  # fixture: a flushed Redis database

NOW = 1_790_000_000
WINDOW = 2 * MAX_CLOCK_SKEW_SECONDS


@pytest.mark.parametrize("replay_after", [306, 450, WINDOW])
async def test_a_signed_callback_replayed_within_the_window_is_not_processed(
    start_channel: StartChannel,
    bot: FakeBot,
    wechat_api: FakeWeChatApi,
    settings: WeChatSettings,
    replay_after: int,
) -> None:
    clock = [float(NOW)]
    channel = WeChatInput(
        settings,
        clock=lambda: clock[0],
        deduplicator=InMemoryDeduplicator(clock=lambda: clock[0]),
        nonces=InMemoryNonceRegistry(clock=lambda: clock[0]),
    )
    client = await start_channel(channel)
    # Signed with a timestamp 300 s ahead of the server: valid from now until now + 600 s.
    captured = client.query(timestamp=NOW + MAX_CLOCK_SKEW_SECONDS)
    body = text_xml("查下进度", msg_id="7000001")
    status, first = await client.post(body, captured)
    assert status == 200 and "收到：查下进度" in first

    clock[0] = float(NOW + replay_after)
    assert await client.post(body, captured) == (200, SUCCESS)

    assert bot.texts == ["查下进度"]
    assert wechat_api.sends == []


async def test_after_the_window_the_replay_is_refused_as_stale(
    start_channel: StartChannel, bot: FakeBot, settings: WeChatSettings
) -> None:
    clock = [float(NOW)]
    channel = WeChatInput(
        settings,
        clock=lambda: clock[0],
        deduplicator=InMemoryDeduplicator(clock=lambda: clock[0]),
        nonces=InMemoryNonceRegistry(clock=lambda: clock[0]),
    )
    client = await start_channel(channel)
    captured = client.query(timestamp=NOW + MAX_CLOCK_SKEW_SECONDS)
    body = text_xml("查下进度", msg_id="7000002")
    assert (await client.post(body, captured))[0] == 200
    clock[0] = float(NOW + WINDOW + 1)
    assert (await client.post(body, captured))[0] == 403
    assert bot.texts == ["查下进度"]


async def test_redis_keeps_message_ids_and_nonces_for_the_whole_window(
    security_redis_url: str,
) -> None:
    client: Redis = redis_client(security_redis_url)
    try:
        assert await RedisDeduplicator(client).first_seen("oUser:7000003")
        assert await RedisNonceRegistry(client).accepts(f"{NOW}:12345", "digest")
        for key in (DEDUP_PREFIX + "oUser:7000003", f"{NONCE_PREFIX}{NOW}:12345"):
            assert await client.pttl(key) >= WINDOW * 1000
        assert not await RedisDeduplicator(client).first_seen("oUser:7000003")
    finally:
        await client.close()
        await client.connection_pool.disconnect()
