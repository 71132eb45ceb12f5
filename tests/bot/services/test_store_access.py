"""The services own their sessions: one transaction per call, off the event loop, and a
database failure is ``StoreUnavailable`` (never a SQLAlchemy error) for actions and channels."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import pytest
from sqlalchemy import select

from bot.services.base import StoreService, StoreUnavailable
from bot.services.copilot import CaseCardService
from bot.services.handoffs import HandoffService, open_handoff
from bot.services.misses import MAX_MISS_CHARS, MissService
from bot.store.database import CaseStore
from bot.store.models import CaseAccessAudit, NluMiss, Ticket
from bot.store.repositories import MerchantRepository
from bot.store.seed import DEMO_TERMINALS

NOW = datetime(2026, 11, 26, 10, 0)
ZHANG = "898310058121234"  # terminal 60013452, case JC202611250001 under review
ZHANG_CASE = "JC202611250001"
DEAD_URL = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"


async def test_sqlite_work_runs_in_one_committed_session_on_a_worker_thread(
    seeded_store: CaseStore,
):
    loop_thread = threading.get_ident()

    def work(session) -> tuple[int, int]:
        return threading.get_ident(), MerchantRepository(session).count()

    worker, merchants = await StoreService(seeded_store).transaction(work)
    assert worker != loop_thread
    assert merchants == len({terminal.merchant_id for terminal in DEMO_TERMINALS})


@pytest.mark.parametrize(
    ("url", "error"),
    [
        (DEAD_URL, "OperationalError"),  # asyncpg on the event loop
        (DEAD_URL.replace("postgresql:", "postgresql+psycopg2:"), "OperationalError"),  # thread
    ],
)
async def test_a_database_failure_is_store_unavailable_naming_only_the_error_class(
    caplog, url: str, error: str
):
    with (
        caplog.at_level(logging.ERROR, logger="bot.services.base"),
        pytest.raises(StoreUnavailable) as raised,
    ):
        await HandoffService(CaseStore(url)).waiting()
    assert str(raised.value) == error
    assert [r.getMessage() for r in caplog.records] == [f"Case store unavailable: {error}"]


async def test_a_failed_unit_of_work_leaves_nothing_behind(seeded_store: CaseStore):
    def open_then_fail(session) -> None:
        open_handoff(session, sender_id="s1", summary="x", now=NOW)  # flushed, then rolled back
        raise PermissionError("not yours")

    with pytest.raises(PermissionError):
        await StoreService(seeded_store).transaction(open_then_fail)
    with seeded_store.session() as session:
        assert session.execute(select(Ticket)).scalars().all() == []


async def test_the_agents_queue_masks_summaries_and_closing_notes_the_agent(
    seeded_store: CaseStore,
):
    handoffs = HandoffService(seeded_store)
    first = await handoffs.open(
        sender_id="s1", summary="手机13812345678", now=NOW, merchant_id=ZHANG
    )
    await handoffs.open(sender_id="s2", summary="hi", now=NOW.replace(hour=11))
    waiting = await handoffs.waiting()
    assert [(t["ticket_id"], t["sender_id"], t["merchant_id"]) for t in waiting] == [
        (first, "s1", ZHANG),
        (waiting[1]["ticket_id"], "s2", None),
    ]
    assert "13812345678" not in waiting[0]["summary"]
    assert waiting[0]["created_at"] == "2026-11-26T10:00:00"

    assert await handoffs.close(sender_id="s1", agent_id="alice", now=NOW) == [first]
    assert await handoffs.close(sender_id="s1", agent_id="alice", now=NOW) == []
    assert [t["sender_id"] for t in await handoffs.waiting()] == ["s2"]
    with seeded_store.session() as session:
        ticket = session.get(Ticket, first)
        assert (ticket.status, ticket.summary) == (
            "closed",
            "手机13812345678\n[closed by alice at 2026-11-26 10:00]",
        )


async def test_a_case_card_is_audited_and_no_match_is_not(seeded_store: CaseStore, calendar):
    cards = CaseCardService(seeded_store, calendar)
    card = await cards.card(ids={"case_id": ZHANG_CASE}, agent_id="alice", call_id="c1", now=NOW)
    assert (card["merchant_id"], card["case"]["case_id"]) == (ZHANG, ZHANG_CASE)
    assert [t["terminal_id"] for t in card["terminals"]] == ["60013452"]
    assert card["registered_phone"] != "13812345678"
    assert (
        await cards.card(ids={"terminal_id": "00000000"}, agent_id="a", call_id="c2", now=NOW)
        is None
    )
    with seeded_store.session() as session:
        audits = session.execute(select(CaseAccessAudit)).scalars().all()
        assert [
            (a.agent_id, a.call_id, a.merchant_id, a.case_id, a.accessed_at) for a in audits
        ] == [("alice", "c1", ZHANG, ZHANG_CASE, NOW)]


async def test_a_missed_message_is_stored_masked_and_cut(store: CaseStore):
    text = "我的手机13812345678" + "啊" * 600
    await MissService(store).record(
        sender_id="s1", text=text, guess="greet", confidence=0.4, now=NOW
    )
    with store.session() as session:
        [miss] = session.execute(select(NluMiss)).scalars().all()
    assert "13812345678" not in miss.text
    assert len(miss.text) == MAX_MISS_CHARS
    assert (miss.sender_id, miss.guess, miss.confidence, miss.recorded_at) == (
        "s1",
        "greet",
        0.4,
        NOW,
    )
