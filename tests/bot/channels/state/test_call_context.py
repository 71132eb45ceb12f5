"""The copilot's call contexts keep the last turns of a call only, in memory and in Redis."""

from __future__ import annotations

from bot.channels.state.call_context import InMemoryCallContexts
from bot.channels.state.redis_backend import RedisCallContexts, redis_client
from bot.services.copilot import MAX_CALL_TURNS
from tests.security import redis_service

security_redis_url = redis_service.security_redis_url  # fixture: a flushed Redis database


async def test_a_copilot_call_keeps_its_last_turns_only() -> None:
    calls = InMemoryCallContexts()
    for number in range(MAX_CALL_TURNS + 20):
        context = await calls.add_turn("call-1", "alice", f"第{number}句", [])

    assert MAX_CALL_TURNS == 30
    assert context.turns == [f"第{n}句" for n in range(20, MAX_CALL_TURNS + 20)]


async def test_a_shared_copilot_call_keeps_its_last_turns_only(security_redis_url: str) -> None:
    client = redis_client(security_redis_url)
    try:
        calls = RedisCallContexts(client)
        for number in range(MAX_CALL_TURNS + 5):
            context = await calls.add_turn("call-2", "alice", f"第{number}句", [])
    finally:
        await client.close()
        await client.connection_pool.disconnect()

    assert context.turns == [f"第{n}句" for n in range(5, MAX_CALL_TURNS + 5)]
