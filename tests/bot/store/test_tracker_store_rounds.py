"""RedactingSQLTrackerStore on SQLite: one statement per read and per save, a cache that stays
right when another process writes, deletes or races, and redacted events in it too."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from sqlalchemy import event

from bot.store.lock_context import Hold, holding
from bot.store.tracker_store import RedactingSQLTrackerStore
from tests.conftest import ROOT

PHONE = "13812345678"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tracker.db'}"


class Statements:
    """Counts the statements a store sends (what becomes network round trips on PostgreSQL)."""

    def __init__(self, store: RedactingSQLTrackerStore) -> None:
        self.sql: list[str] = []
        event.listen(store.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement: str, *_args) -> None:
        self.sql.append(statement.split()[0])

    def take(self) -> list[str]:
        taken, self.sql = self.sql, []
        return taken


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


async def test_a_turn_is_one_read_and_one_insert(stores) -> None:
    store, _ = stores
    await _turn(store, "s1", "第一句")  # creates the table
    counted = Statements(store)

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
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute("DELETE FROM events WHERE sender_id = 's3' AND type_name = 'bot'")

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


async def test_a_hold_after_its_own_hold_reads_nothing(stores) -> None:
    store, _ = stores
    await _turn(store, "s8", "一")
    with holding(Hold("s8", "p1:a", None)):
        await _turn(store, "s8", "二")  # checks the table, then remembers hold p1:a
    counted = Statements(store)

    with holding(Hold("s8", "p1:b", "p1:a")):
        await _turn(store, "s8", "三")
    assert counted.take() == ["INSERT"]
    with holding(Hold("s8", "p2:c", "p2:x")):  # another process held it in between
        await _turn(store, "s8", "四")
    assert counted.take() == ["SELECT", "INSERT"]
    assert _texts(await store.retrieve("s8")) == ["一", "二", "三", "四"]
