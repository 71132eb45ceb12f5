"""The case store's network round trips on PostgreSQL, and its recovery from dropped connections.

The store reaches its database through the load test's counting relay
(:class:`load.round_trips.CountingProxy`), which names every request it forwards: a look-up must
cost its statement and nothing else (no ping, no ``BEGIN``/``COMMIT``, no ``PREPARE`` once the
connection has prepared it), an identity check one transaction of five statements. Without a
ping per use, a pooled connection the database dropped must still never fail a user's request
while the database is up (the fault tests' proxy resets the connections, as a restarted server
does), on one event loop (the action server's) as across loops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime

import pytest
from sqlalchemy.engine import make_url

from bot.runtime.processes import free_port
from bot.services.base import StoreUnavailable
from bot.services.cases import CaseService, LookupOutcome
from bot.services.identity import IdentityService, Outcome
from bot.store.database import CaseStore
from bot.store.seed import seed_demo_data
from bot.workdays import WorkdayCalendar
from load.round_trips import PREPARED, CountingProxy
from tests.prod.proxy import TcpProxy

NOW = datetime(2026, 11, 26, 10, 0)
MERCHANT = "898310058121234"
PHONE_LAST4 = "5678"


@pytest.fixture
def counted(pg_store: CaseStore) -> Iterator[tuple[CaseStore, CountingProxy]]:
    """A store on ``pg_store``'s database, reached through a counting relay."""
    pg_store.create_schema()
    seed_demo_data(pg_store, now=NOW)
    url = make_url(pg_store.url)
    port = free_port()
    proxy = CountingProxy(port, (url.host or "127.0.0.1", url.port or 5432))
    store = CaseStore(url.set(host="127.0.0.1", port=port).render_as_string(False))
    yield store, proxy
    store.dispose()
    proxy.close()


async def _looked_up(store: CaseStore) -> LookupOutcome:
    service = CaseService(store, WorkdayCalendar())
    return (await service.lookup(merchant_id=MERCHANT, today=NOW.date())).outcome


async def _checked(store: CaseStore, phone_last4: str = PHONE_LAST4) -> Outcome:
    check = IdentityService(store).check(
        merchant_id=MERCHANT, case_id=None, phone_last4=phone_last4, sender_id="rt", now=NOW
    )
    return (await check).outcome


def _lookup(store: CaseStore) -> LookupOutcome:
    return asyncio.run(_looked_up(store))


def _check(store: CaseStore, phone_last4: str = PHONE_LAST4) -> Outcome:
    return asyncio.run(_checked(store, phone_last4))


def _requests(
    proxy: CountingProxy, action: Callable[[], Awaitable[object]]
) -> tuple[int, dict[str, int]]:
    """Round trips of ``action`` and their kinds, once the connections it needs are open and
    its statements prepared (by a first run on the same event loop: a pool belongs to one)."""

    async def twice() -> tuple[int, dict[str, int]]:
        await action()
        before = proxy.snapshot(reset_kinds=True)["round_trips"]
        await action()
        return proxy.snapshot()["round_trips"] - before, dict(proxy.kinds)

    return asyncio.run(twice())


def test_a_case_look_up_is_one_round_trip(counted) -> None:
    store, proxy = counted
    assert _lookup(store) is LookupOutcome.FOUND

    trips, kinds = _requests(proxy, lambda: _looked_up(store))

    assert trips == 1
    assert kinds == {PREPARED: 1}  # the look-up's statement, prepared by the first run


def test_an_identity_check_is_one_transaction_of_five_statements(counted) -> None:
    store, proxy = counted

    trips, kinds = _requests(proxy, lambda: _checked(store))

    assert trips == 7
    # asyncpg's BEGIN and COMMIT are simple queries; the five statements were prepared by the
    # first run (no ping: a "SELECT 1" would be a simple query too).
    assert kinds == {"BEGIN ISOLATION LEVEL READ": 1, PREPARED: 5, "COMMIT;": 1}
    assert _check(store) is Outcome.VERIFIED


@pytest.fixture(params=["postgresql", "postgresql+psycopg2"], ids=["asyncpg", "psycopg2"])
def cuttable(
    pg_store: CaseStore, request: pytest.FixtureRequest
) -> Iterator[tuple[CaseStore, TcpProxy]]:
    """A store on ``pg_store``'s database, reached through a proxy that can reset everything;
    through asyncpg on the event loop, and through psycopg2 in worker threads (one pool for
    every event loop: the retry of :mod:`bot.store.database`)."""
    pg_store.create_schema()
    seed_demo_data(pg_store, now=NOW)
    url = make_url(pg_store.url).set(drivername=request.param)
    proxy = TcpProxy(free_port(), url.port or 5432)
    store = CaseStore(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
    yield store, proxy
    store.dispose()
    proxy.close()


def test_reads_and_writes_go_on_after_the_database_reset_the_pooled_connections(
    cuttable,
) -> None:
    store, proxy = cuttable
    assert _lookup(store) is LookupOutcome.FOUND
    assert _check(store) is Outcome.VERIFIED

    proxy.cut()  # a restart: every open connection is reset
    proxy.restore()

    assert _lookup(store) is LookupOutcome.FOUND
    assert _check(store) is Outcome.VERIFIED


@pytest.mark.parametrize("noticed", [False, True], ids=["at-once", "after-the-loop-saw-it"])
def test_on_one_event_loop_reads_and_writes_go_on_after_a_reset(cuttable, noticed: bool) -> None:
    store, proxy = cuttable

    async def scenario() -> tuple[LookupOutcome, Outcome]:
        assert await _looked_up(store) is LookupOutcome.FOUND
        assert await _checked(store) is Outcome.VERIFIED
        proxy.cut()  # the pooled connections of this loop are reset
        proxy.restore()
        if noticed:  # else the first statement meets the dead connection and is sent again
            await asyncio.sleep(0.2)
        return await _looked_up(store), await _checked(store)

    assert asyncio.run(scenario()) == (LookupOutcome.FOUND, Outcome.VERIFIED)


def test_while_the_database_is_down_reads_and_writes_fail_fast_then_work_again(cuttable) -> None:
    store, proxy = cuttable
    assert _lookup(store) is LookupOutcome.FOUND

    proxy.cut()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            _lookup(store)
        with pytest.raises(StoreUnavailable):
            _check(store)
        assert time.monotonic() - started < 5
    finally:
        proxy.restore()

    assert _lookup(store) is LookupOutcome.FOUND
    assert _check(store) is Outcome.VERIFIED
