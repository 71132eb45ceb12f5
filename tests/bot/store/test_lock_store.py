"""AtomicRedisLockStore against a real Redis: one holder at a time across processes, in order."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.store.lock_store import AtomicRedisLockStore
from bot.store.redis_pool import ReadyConnectionPool
from tests.prod.conftest import BASE_PORT
from tests.prod.proxy import TcpProxy

HOLDERS_PER_PROCESS = 10
PROCESSES = 2
HOLD_SECONDS = 0.01
PROXY_PORT = BASE_PORT + 42


def _store(url: str) -> AtomicRedisLockStore:
    return AtomicRedisLockStore(EndpointConfig(url=url, key_prefix="posbottest"))


async def _hold(store: AtomicRedisLockStore, conversation: str, client: redis.Redis, tag: str):
    async with store.lock(conversation, lock_lifetime=30):
        inside = client.incr(f"{conversation}:inside")
        client.rpush(f"{conversation}:seen", inside)
        await asyncio.sleep(HOLD_SECONDS)
        client.rpush(f"{conversation}:served", tag)
        client.decr(f"{conversation}:inside")


def _contend(url: str, conversation: str, process: int) -> None:
    """One process: many coroutines asking for the same conversation's lock at once."""
    store = _store(url)
    client = redis.Redis.from_url(url)

    async def main() -> None:
        await asyncio.gather(
            *(
                _hold(store, conversation, client, f"{process}-{i}")
                for i in range(HOLDERS_PER_PROCESS)
            )
        )

    asyncio.run(main())


@pytest.fixture
def client(redis_url: str):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_the_endpoint_config_builds_the_atomic_store(redis_url: str) -> None:
    store = LockStore.create(
        EndpointConfig(url=redis_url, type="bot.store.lock_store.AtomicRedisLockStore")
    )

    assert isinstance(store, AtomicRedisLockStore)


def test_one_holder_at_a_time_across_processes(redis_url: str, client: redis.Redis) -> None:
    conversation = f"conv-{uuid.uuid4().hex}"
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_contend, args=(redis_url, conversation, p))
        for p in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    seen = [int(v) for v in client.lrange(f"{conversation}:seen", 0, -1)]
    served = [v.decode() for v in client.lrange(f"{conversation}:served", 0, -1)]
    client.delete(f"{conversation}:seen", f"{conversation}:served", f"{conversation}:inside")
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    assert seen == [1] * PROCESSES * HOLDERS_PER_PROCESS  # never two holders inside
    assert sorted(served) == sorted(
        f"{p}-{i}" for p in range(PROCESSES) for i in range(HOLDERS_PER_PROCESS)
    )
    # The last one out leaves no keys behind but the id of the last hold, which expires.
    last = f"posbottest:lock:{{{conversation}}}:last".encode()
    assert client.keys(f"posbottest:lock:{{{conversation}}}*") == [last]
    assert 0 < client.ttl(last) <= 24 * 3600


async def test_first_come_first_served(redis_url: str, client: redis.Redis) -> None:
    store = _store(redis_url)
    conversation = f"conv-{uuid.uuid4().hex}"
    order: list[int] = []

    async def turn(number: int) -> None:
        async with store.lock(conversation, lock_lifetime=30):
            order.append(number)
            await asyncio.sleep(0.05)

    tasks = []
    for number in range(5):
        tasks.append(asyncio.create_task(turn(number)))
        await asyncio.sleep(0.01)  # each asks after the previous one has its ticket
    await asyncio.gather(*tasks)

    assert order == [0, 1, 2, 3, 4]


async def test_a_dead_holder_blocks_only_until_its_ticket_expires(
    redis_url: str, client: redis.Redis
) -> None:
    store = _store(redis_url)
    conversation = f"conv-{uuid.uuid4().hex}"
    store.issue_ticket(conversation, lock_lifetime=0.5)  # its process died holding the lock

    started = time.monotonic()
    async with store.lock(conversation, lock_lifetime=30):
        waited = time.monotonic() - started

    assert 0.3 < waited < 5


async def test_redis_down_is_a_lock_error() -> None:
    store = AtomicRedisLockStore(EndpointConfig(url="redis://127.0.0.1:5199/0"))

    with pytest.raises(LockError):
        async with store.lock("anyone"):
            pass


@asynccontextmanager
async def _store_behind_proxy(
    redis_url: str,
) -> AsyncIterator[tuple[AtomicRedisLockStore, TcpProxy]]:
    """A store reaching Redis through a proxy that can reset every connection."""
    port = int(redis_url.rsplit(":", 1)[1].split("/", 1)[0])
    proxy = TcpProxy(PROXY_PORT, port)
    store = _store(f"redis://127.0.0.1:{PROXY_PORT}/5")
    try:
        yield store, proxy
    finally:
        await store.close()
        proxy.close()


async def test_works_again_at_once_when_redis_returns(redis_url: str) -> None:
    async with _store_behind_proxy(redis_url) as (store, proxy):
        async with store.lock("comes-back"):
            pass
        proxy.cut()  # the pooled connection is reset, as by a Redis restart
        with pytest.raises(LockError):
            async with store.lock("comes-back"):
                pass
        proxy.restore()
        async with store.lock("comes-back") as lock:
            assert lock.conversation_id == "comes-back"


async def test_a_connection_reset_while_idle_costs_the_next_lock_nothing(redis_url: str) -> None:
    async with _store_behind_proxy(redis_url) as (store, proxy):
        async with store.lock("idle-reset"):
            pass
        proxy.cut()  # resets the idle pooled connection, as a Redis restart does
        proxy.restore()
        async with store.lock("idle-reset") as lock:  # sent again on a new connection
            assert lock.conversation_id == "idle-reset"


def test_the_store_does_not_poll_a_connection_before_each_command(redis_url: str) -> None:
    store = _store(redis_url)
    assert isinstance(store.red.connection_pool, ReadyConnectionPool)


async def test_a_live_holder_keeps_the_lock_beyond_the_liveness_of_its_ticket(
    redis_url: str,
) -> None:
    store = AtomicRedisLockStore(
        EndpointConfig(url=redis_url, key_prefix="posbottest", liveness_seconds=0.3)
    )
    conversation = f"conv-{uuid.uuid4().hex}"
    trace: list[str] = []

    async def turn(name: str, hold: float) -> None:
        async with store.lock(conversation, lock_lifetime=30):
            trace.append(f"{name} in")
            await asyncio.sleep(hold)
            trace.append(f"{name} out")

    first = asyncio.create_task(turn("first", 1.0))  # more than 3 liveness periods
    await asyncio.sleep(0.05)
    await asyncio.gather(first, turn("second", 0))

    assert trace == ["first in", "first out", "second in", "second out"]


async def test_an_uncontended_lock_is_one_round_trip_to_take_and_one_to_give_back(
    redis_url: str,
) -> None:
    store = _store(redis_url)
    conversation = f"conv-{uuid.uuid4().hex}"
    async with store.lock(conversation):
        pass  # loads the scripts (EVALSHA answers NOSCRIPT the first time)
    sent: list[str] = []
    original = store.red.execute_command

    async def counted(*args, **kwargs):
        sent.append(str(args[0]))
        return await original(*args, **kwargs)

    store.red.execute_command = counted
    try:
        async with store.lock(conversation):
            assert sent == ["EVALSHA"]
        assert sent == ["EVALSHA", "EVALSHA"]
    finally:
        await store.close()


async def test_each_hold_knows_the_hold_before_it(redis_url: str) -> None:
    from bot.store.lock_context import current_hold

    first, second = _store(redis_url), _store(redis_url)
    conversation = f"conv-{uuid.uuid4().hex}"
    holds = []
    for store in (first, first, second):
        async with store.lock(conversation):
            holds.append(current_hold(conversation))
    await first.close()
    await second.close()

    assert holds[0].previous_hold_id is None
    assert holds[1].previous_hold_id == holds[0].hold_id
    assert holds[2].previous_hold_id == holds[1].hold_id
    assert holds[0].hold_id.startswith(first.holder_id)
    assert holds[2].hold_id.startswith(second.holder_id)
    assert current_hold(conversation) is None  # only inside the lock
