"""RedactingSQLTrackerStore on a real PostgreSQL: redaction, loud failures, recovery."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from rasa.core.tracker_store import FailSafeTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import create_engine, text

from bot.prod.preflight import PreflightError, check_tracker_store
from bot.prod.settings import ProdSettings
from bot.store.tracker_store import RedactingSQLTrackerStore, TrackerStoreUnavailable
from tests.conftest import ROOT
from tests.prod.conftest import BASE_PORT
from tests.prod.proxy import TcpProxy

STORE_CLASS = "bot.store.tracker_store.RedactingSQLTrackerStore"
PROXY_PORT = BASE_PORT + 40
DEAD_PORT = BASE_PORT + 41
PHONE = "13812345678"
ID_CARD = "110101199003074578"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def proxy(pg_database: str):
    port = int(pg_database.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    proxy = TcpProxy(PROXY_PORT, port)
    yield proxy
    proxy.close()


def _via(url: str, netloc: str) -> str:
    scheme_user, rest = url.split("@", 1)
    return f"{scheme_user}@{netloc}/{rest.split('/', 1)[1]}"


def _tracker(sender: str, domain: Domain, text_: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(text_, {"name": "inform", "confidence": 1.0}))
    tracker.update(BotUttered("好的"))
    return tracker


def test_the_endpoint_config_builds_the_redacting_store(pg_database: str) -> None:
    store = TrackerStore.create(EndpointConfig(url=pg_database, type=STORE_CLASS))

    assert isinstance(store, RedactingSQLTrackerStore)
    store.engine.dispose()


async def test_personal_data_never_reaches_the_events_table(
    pg_database: str, domain: Domain
) -> None:
    store = RedactingSQLTrackerStore(domain=domain, host=pg_database)
    await store.save(_tracker("redact-me", domain, f"手机{PHONE} 身份证{ID_CARD}"))

    engine = create_engine(pg_database, future=True)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT data FROM events WHERE sender_id = 'redact-me'")
        ).scalars()
        stored = "\n".join(rows)
    engine.dispose()
    retrieved = await store.retrieve("redact-me")
    store.engine.dispose()

    [user_text] = [e.text for e in retrieved.events if isinstance(e, UserUttered)]
    assert stored and PHONE not in stored and ID_CARD not in stored
    assert user_text.startswith("手机138****5678 身份证")
    assert ID_CARD not in user_text


async def test_a_dead_database_fails_loudly_and_passes_rasas_fail_safe_wrapper(
    domain: Domain, caplog: pytest.LogCaptureFixture
) -> None:
    # The constructor does not block (Rasa's retries every 5 s, forever).
    store = RedactingSQLTrackerStore(
        domain=domain, host=f"postgresql://postgres@127.0.0.1:{DEAD_PORT}/none"
    )
    wrapped = FailSafeTrackerStore(store)  # what Rasa's Agent does with every tracker store

    with caplog.at_level(logging.ERROR), pytest.raises(TrackerStoreUnavailable):
        await wrapped.retrieve("anyone")
    with pytest.raises(TrackerStoreUnavailable):
        await wrapped.save(_tracker("anyone", domain, "你好"))

    assert any(
        r.levelno == logging.ERROR and "ALERT tracker store unavailable" in r.getMessage()
        for r in caplog.records
    )
    assert wrapped._fallback_tracker_store is None  # nothing went to memory
    store.engine.dispose()


async def test_recovers_when_the_database_returns(
    pg_database: str, proxy: TcpProxy, domain: Domain
) -> None:
    store = RedactingSQLTrackerStore(domain=domain, host=_via(pg_database, proxy.url_netloc))
    await store.save(_tracker("comes-back", domain, "审核要多久"))

    proxy.cut()
    with pytest.raises(TrackerStoreUnavailable):
        await store.retrieve("comes-back")
    proxy.restore()
    tracker = await store.retrieve("comes-back")
    store.engine.dispose()

    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["审核要多久"]


def test_the_preflight_refuses_a_tracker_store_rasa_would_replace_by_memory(
    tmp_path: Path, pg_database: str
) -> None:
    settings = ProdSettings(state_dir=tmp_path, tracker_db_url=pg_database)
    settings.endpoints_file.write_text(
        yaml.safe_dump(
            {"tracker_store": {"type": "bot.store.tracker_store.Misspelt", "url": pg_database}}
        ),
        encoding="utf-8",
    )

    with pytest.raises(PreflightError, match="InMemoryTrackerStore"):
        check_tracker_store(settings)
