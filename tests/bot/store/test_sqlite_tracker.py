"""Item 14: ``make run`` keeps conversations in SQLite (redacted, kept across restarts).

What it keeps in memory is bounded: copilot call transcripts in
``tests/bot/channels/state/test_call_context.py``, WeChat text in
``tests/bot/channels/wechat/test_channel.py``."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import read_endpoints_from_path
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.store.tracker_store import (
    DEFAULT_TRACKER_URL,
    TRACKER_URL_ENV,
    RedactingSQLTrackerStore,
    tracker_url,
)
from tests.conftest import ROOT

PHONE = "13812345678"
ID_CARD = "110101199003074578"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def _tracker(sender: str, domain: Domain, text: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(text, {"name": "inform", "confidence": 1.0}))
    tracker.update(BotUttered("好的"))
    return tracker


def _stored_data(database: Path, sender: str) -> str:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT data FROM events WHERE sender_id = ?", (sender,))
        return "\n".join(row[0] for row in rows)


def test_the_embedded_endpoints_file_uses_the_redacting_sql_store(
    domain: Domain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "conversations" / "tracker.db"
    monkeypatch.setenv(TRACKER_URL_ENV, f"sqlite:///{database}")
    monkeypatch.setenv("POSBOT_ACTIONS_SECRET", "test-actions-secret")  # endpoints.yml reads it
    endpoints = read_endpoints_from_path(ROOT / "endpoints.yml")

    store = TrackerStore.create(endpoints.tracker_store, domain)

    assert isinstance(store, RedactingSQLTrackerStore)
    assert store.engine.url.database == str(database)
    assert database.parent.is_dir()
    store.engine.dispose()


def test_without_a_url_the_store_is_the_sqlite_file_in_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(TRACKER_URL_ENV, raising=False)

    assert tracker_url(None, {}) == DEFAULT_TRACKER_URL == "sqlite:///var/tracker.db"
    store = RedactingSQLTrackerStore(domain=Domain.empty())
    assert store.engine.url.database == "var/tracker.db"
    assert (tmp_path / "var").is_dir()
    store.engine.dispose()


def test_the_sqlite_file_uses_a_write_ahead_log(tmp_path: Path) -> None:
    store = RedactingSQLTrackerStore(
        domain=Domain.empty(), url=f"sqlite:///{tmp_path / 'tracker.db'}"
    )
    with store.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    store.engine.dispose()
    assert mode == "wal"


def test_a_malformed_url_is_a_precise_error() -> None:
    with pytest.raises(ValueError, match="POSBOT_TRACKER_URL"):
        tracker_url(None, {TRACKER_URL_ENV: "var/tracker.db"})


async def test_conversations_are_redacted_and_survive_a_restart(
    domain: Domain, tmp_path: Path
) -> None:
    database = tmp_path / "tracker.db"
    url = f"sqlite:///{database}"
    store = RedactingSQLTrackerStore(domain=domain, host=url)
    await store.save(_tracker("sqlite-user", domain, f"手机{PHONE} 身份证{ID_CARD}"))
    store.engine.dispose()

    stored = _stored_data(database, "sqlite-user")
    restarted = RedactingSQLTrackerStore(domain=domain, host=url)
    tracker = await restarted.retrieve("sqlite-user")
    restarted.engine.dispose()

    assert stored and PHONE not in stored and ID_CARD not in stored
    [user_text] = [e.text for e in tracker.events if isinstance(e, UserUttered)]
    assert user_text.startswith("手机138****5678 身份证")
    assert ID_CARD not in user_text
    assert [e.text for e in tracker.events if isinstance(e, BotUttered)] == ["好的"]


async def test_concurrent_conversations_are_all_saved_on_sqlite(
    domain: Domain, tmp_path: Path
) -> None:
    store = RedactingSQLTrackerStore(domain=domain, host=f"sqlite:///{tmp_path / 'tracker.db'}")
    senders = [f"web-{number:02d}" for number in range(20)]
    await asyncio.gather(*(store.save(_tracker(s, domain, "审核要多久")) for s in senders))
    trackers = await asyncio.gather(*(store.retrieve(s) for s in senders))
    keys = await store.keys()
    store.engine.dispose()

    assert sorted(keys) == senders
    assert all(len(t.events) == 3 for t in trackers)
