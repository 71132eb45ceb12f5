"""RedactingSQLTrackerStore on SQLite and PostgreSQL (asyncpg, and psycopg2 in worker threads):
one statement per read and per save, a cache that stays right when another process writes,
deletes or races, and redacted events in it too."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from sqlalchemy import create_engine, event

from bot.store import tracker_pg
from bot.store.lock_context import Hold, holding
from bot.store.tracker_pg import TrackedConnection
from bot.store.tracker_store import RedactingSQLTrackerStore
from tests.conftest import ROOT

PHONE = "13812345678"
SQLITE, ASYNCPG, PSYCOPG2 = "sqlite", "asyncpg", "psycopg2"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(params=[SQLITE, ASYNCPG, PSYCOPG2])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A tracker URL without an events table: a SQLite file, or the module's PostgreSQL
    database through asyncpg or through psycopg2."""
    if request.param == SQLITE:
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    database: str = request.getfixturevalue("pg_database")
    engine = create_engine(database, future=True, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS events")
    engine.dispose()
    if request.param == PSYCOPG2:
        return database.replace("postgresql://", "postgresql+psycopg2://", 1)
    return database


class Statements:
    """Counts the statements a store sends (each one network round trip on PostgreSQL)."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def seen(self, statement: str) -> None:
        self.sql.append(statement.split()[0])

    def take(self) -> list[str]:
        taken, self.sql = self.sql, []
        return taken


def _counting(counted: Statements, name: str) -> Callable[..., Any]:
    sends = getattr(TrackedConnection, name)

    async def counted_send(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        counted.seen(query)
        return await sends(self, query, *args, **kwargs)

    return counted_send


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Callable[[RedactingSQLTrackerStore], Statements]:
    """``statements(store)`` counts from now on what ``store`` sends, whatever its driver."""

    def counting(store: RedactingSQLTrackerStore) -> Statements:
        counted = Statements()
        if store.statements is None:
            event.listen(store.engine, "before_cursor_execute", lambda *args: counted.seen(args[2]))
        else:
            # Every statement asyncpg sends goes through one of these (a pool's reset too).
            for name in ("fetch", "fetchval", "execute"):
                monkeypatch.setattr(TrackedConnection, name, _counting(counted, name))
        return counted

    return counting


@pytest.fixture
def stores(url: str, domain: Domain) -> Iterator[tuple[RedactingSQLTrackerStore, ...]]:
    made = (
        RedactingSQLTrackerStore(domain=domain, host=url),
        RedactingSQLTrackerStore(domain=domain, host=url),
    )
    yield made
    for store in made:
        store.close()


async def _turn(store: RedactingSQLTrackerStore, sender: str, text: str) -> None:
    tracker = await store.retrieve(sender)
    if tracker is None:
        tracker = store.init_tracker(sender)
        tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(text, {"name": "inform", "confidence": 1.0}))
    tracker.update(BotUttered(f"答:{text}"))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)


def _texts(tracker) -> list[str]:
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]


async def test_a_turn_is_one_read_and_one_insert(stores, statements) -> None:
    store, _ = stores
    await _turn(store, "s1", "第一句")  # creates the table
    counted = statements(store)

    await _turn(store, "s1", "第二句")

    assert counted.take() == ["SELECT", "INSERT"]


async def test_another_process_writes_are_seen_and_continued(stores) -> None:
    first, second = stores
    await _turn(first, "s2", "一")
    await _turn(second, "s2", "二")  # second reads what first wrote
    await _turn(first, "s2", "三")  # first's cache gets second's rows

    for store in stores:
        assert _texts(await store.retrieve("s2")) == ["一", "二", "三"]
    assert _texts(await first.retrieve_full_tracker("s2")) == ["一", "二", "三"]


async def test_rows_deleted_by_retention_are_noticed(stores, url: str) -> None:
    store, _ = stores
    for text in ("一", "二"):
        await _turn(store, "s3", text)
    engine = create_engine(tracker_pg.sync_url(url), future=True)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "DELETE FROM events WHERE sender_id = 's3' AND type_name = 'bot'"
        )
    engine.dispose()

    tracker = await store.retrieve("s3")

    assert not any(isinstance(e, BotUttered) for e in tracker.events)
    assert _texts(tracker) == ["一", "二"]


async def test_only_the_latest_session_is_read(stores) -> None:
    first, second = stores
    await _turn(first, "s4", "旧")
    tracker = await first.retrieve("s4")
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    await first.save(tracker)
    await _turn(first, "s4", "新")

    for store in stores:
        assert _texts(await store.retrieve("s4")) == ["新"]
    assert _texts(await second.retrieve_full_tracker("s4")) == ["旧", "新"]


async def test_a_stale_view_appends_after_the_stored_events(
    stores, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = stores
    await _turn(first, "s5", "一")
    stale = await first.retrieve("s5")
    await _turn(second, "s5", "二")  # written while first was not looking (no lock held)
    stale.update(UserUttered("三", {"name": "inform", "confidence": 1.0}))

    with caplog.at_level(logging.WARNING):
        await first.save(stale)

    assert "changed since it was read" in caplog.text
    stored = await second.retrieve("s5")
    assert _texts(stored) == ["一", "二", "三"]  # nothing lost, nothing twice


async def test_a_tracker_changed_but_not_saved_leaves_the_cache_alone(stores) -> None:
    store, _ = stores
    await _turn(store, "s6", "一")
    tracker = await store.retrieve("s6")
    tracker.update(UserUttered("丢弃", {"name": "inform", "confidence": 1.0}))
    tracker.events[1].text = "改掉"  # a caller mutating an event object

    assert _texts(await store.retrieve("s6")) == ["一"]


async def test_the_cache_holds_redacted_events_as_stored(stores) -> None:
    first, second = stores
    await _turn(first, "s7", f"手机{PHONE}")

    from_cache = _texts(await first.retrieve("s7"))
    from_table = _texts(await second.retrieve("s7"))

    assert from_cache == from_table == ["手机138****5678"]


async def test_a_hold_after_its_own_hold_reads_nothing(stores, statements) -> None:
    store, _ = stores
    await _turn(store, "s8", "一")
    with holding(Hold("s8", "p1:a", None)):
        await _turn(store, "s8", "二")  # checks the table, then remembers hold p1:a
    counted = statements(store)

    with holding(Hold("s8", "p1:b", "p1:a")):
        await _turn(store, "s8", "三")
    assert counted.take() == ["INSERT"]
    with holding(Hold("s8", "p2:c", "p2:x")):  # another process held it in between
        await _turn(store, "s8", "四")
    assert counted.take() == ["SELECT", "INSERT"]
    assert _texts(await store.retrieve("s8")) == ["一", "二", "三", "四"]
