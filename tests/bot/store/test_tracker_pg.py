"""The tracker store on PostgreSQL through asyncpg: its URLs, bounds, prepared statements, a
failed multi-statement insert that leaves nothing behind, and connections the server dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine

from bot.store import tracker_pg
from bot.store.tracker_queries import INSERT_CHUNK, Query, Statement
from bot.store.tracker_store import RedactingSQLTrackerStore, TrackerStoreUnavailable
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def database(pg_database: str) -> str:
    """The module's PostgreSQL database without an events table."""
    engine = create_engine(pg_database, future=True, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS events")
    engine.dispose()
    return pg_database


@pytest.fixture
def store(database: str, domain: Domain) -> Iterator[RedactingSQLTrackerStore]:
    made = RedactingSQLTrackerStore(domain=domain, host=database, pool_size=1)
    yield made
    made.close()


def _count(database: str, sender: str) -> int:
    engine = create_engine(database, future=True)
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT COUNT(*) FROM events WHERE sender_id = %s", (sender,)
        ).scalar_one()
    engine.dispose()
    return int(found)


def _one_value(sql: str) -> Query[object]:
    rows = yield Statement(sql)
    return rows[0][0]


def _said(tracker: DialogueStateTracker, text: str, intent: str = "inform") -> None:
    tracker.update(UserUttered(text, {"name": intent, "confidence": 1.0}))
    tracker.update(ActionExecuted("action_listen"))


async def _saved_first_turn(
    store: RedactingSQLTrackerStore, sender: str, text: str
) -> DialogueStateTracker:
    """A new conversation of ``sender`` whose first turn says ``text``, saved."""
    tracker = store.init_tracker(sender)
    _said(tracker, text)
    await store.save(tracker)
    return tracker


@pytest.mark.parametrize(
    ("url", "served"),
    [
        ("postgresql://u@db:5432/bot", True),
        ("postgresql+asyncpg://u@db/bot", True),
        ("postgresql+psycopg2://u@db/bot", False),
        ("sqlite:///var/tracker.db", False),
    ],
)
def test_asyncpg_serves_postgresql_urls_without_another_driver(url: str, served: bool) -> None:
    assert tracker_pg.serves(url) is served


def test_the_url_becomes_asyncpgs_arguments_with_the_bounds() -> None:
    dsn, options = tracker_pg.connect_arguments(
        "postgresql+asyncpg://bot:p%40ss%2Fw@db.internal:6432/tracker"
        "?sslmode=require&application_name=posbot&connect_timeout=7",
        connect_timeout=3,
        statement_timeout_ms=5000,
    )

    assert dsn == (
        "postgresql://bot:p%40ss%2Fw@db.internal:6432/tracker"
        "?application_name=posbot&sslmode=require"
    )
    assert options == {
        "timeout": 7.0,
        "command_timeout": 6.0,
        "server_settings": {"statement_timeout": "5000"},
    }
    assert tracker_pg.sync_url("postgresql://u:p%40@db/t") == "postgresql+psycopg2://u:p%40@db/t"


async def test_statements_run_with_the_servers_statement_timeout(
    store: RedactingSQLTrackerStore,
) -> None:
    assert store.statements is not None

    setting = await store.statements.run(_one_value, ("SHOW statement_timeout",), retry=True)

    assert setting == "5s"


async def test_a_statement_is_prepared_once_per_connection(
    store: RedactingSQLTrackerStore, database: str
) -> None:
    tracker = store.init_tracker("prepared")
    for number in range(5):  # same shape each turn: two events
        _said(tracker, f"第{number}句")
        await store.save(tracker)
    assert store.statements is not None

    inserts = await store.statements.run(
        _one_value,
        (
            "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT%' "
            "AND statement NOT LIKE '%pg_prepared_statements%'",
        ),
        retry=True,
    )

    assert inserts == 1  # five saves of two rows each, one prepared statement
    assert _count(database, "prepared") == 10


async def test_a_failed_chunk_rolls_back_the_whole_insert(
    store: RedactingSQLTrackerStore, database: str
) -> None:
    tracker = store.init_tracker("too-long")
    tracker.update(ActionExecuted("action_listen"))
    for number in range(INSERT_CHUNK):
        _said(tracker, f"第{number}句")
    _said(tracker, "最后", intent="x" * 300)  # intent_name is VARCHAR(255): the second chunk fails

    with pytest.raises(TrackerStoreUnavailable):
        await store.save(tracker)
    assert _count(database, "too-long") == 0

    fresh = store.init_tracker("after")  # the connection was left usable, out of a transaction
    _said(fresh, "你好")
    await store.save(fresh)
    assert _count(database, "after") == 2


def _terminate_store_connections(database: str) -> int:
    engine = create_engine(database, future=True, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        ended = connection.exec_driver_sql(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).scalar_one()
    engine.dispose()
    return int(ended)


async def test_a_connection_the_server_dropped_between_turns_is_replaced(
    store: RedactingSQLTrackerStore, database: str
) -> None:
    tracker = await _saved_first_turn(store, "restart", "一")

    assert _terminate_store_connections(database) >= 1  # a restart, a failover
    await asyncio.sleep(0.2)
    _said(tracker, "二")
    await store.save(tracker)  # a write: not retried, so it needs a live connection

    assert _count(database, "restart") == 4
    again = await store.retrieve("restart")
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["一", "二"]


async def test_an_idle_connection_that_fails_its_ping_is_replaced_before_a_write(
    store: RedactingSQLTrackerStore, database: str
) -> None:
    tracker = await _saved_first_turn(store, "idle", "一")
    assert store.statements is not None
    store.statements.idle_ping_seconds = 0.0  # every use counts as after idling

    _terminate_store_connections(database)  # the event loop has not seen it yet
    _said(tracker, "二")
    await store.save(tracker)

    assert _count(database, "idle") == 4


def test_each_event_loop_gets_its_own_pool(database: str, domain: Domain) -> None:
    made = RedactingSQLTrackerStore(domain=domain, host=database)

    async def turn(text: str) -> list[str]:
        tracker = await made.retrieve("loops") or made.init_tracker("loops")
        _said(tracker, text)
        await made.save(tracker)
        return [e.text for e in (await made.retrieve("loops")).events if e.type_name == "user"]

    try:
        assert asyncio.run(turn("一")) == ["一"]
        assert asyncio.run(turn("二")) == ["一", "二"]  # a new loop: the old pool is not used
    finally:
        made.close()


@pytest.mark.parametrize(
    "sender", ["o'neil'); DROP TABLE events; --", "{p} $1 %s ? :name", "商户🙂\u200b" * 20]
)
async def test_hostile_sender_ids_are_values_not_sql(
    store: RedactingSQLTrackerStore, database: str, domain: Domain, sender: str
) -> None:
    await _saved_first_turn(store, sender, "{p} $2 %s '; DELETE FROM events; --")
    reader = RedactingSQLTrackerStore(domain=domain, host=database)  # nothing cached
    try:
        read = await reader.retrieve(sender)
    finally:
        reader.close()

    assert [e.text for e in read.events if isinstance(e, UserUttered)] == [
        "{p} $2 %s '; DELETE FROM events; --"
    ]
    assert _count(database, sender) == 2
