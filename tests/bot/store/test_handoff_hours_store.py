"""After-hours requests in the store: retention deletes old ones with their phone and message;
timings follow their tickets."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.services.handoff_hours import (
    CALLBACK,
    MAX_OPEN_REQUESTS,
    MESSAGE,
    HandoffHoursService,
    TooMany,
    after_hours_requests,
    record_after_hours,
)
from bot.services.handoffs import open_handoff
from bot.store.handoff_hours import ALREADY_CLOSED, COMPLETED, NO_SUCH_TICKET
from bot.store.models import AfterHoursRequest, HandoffTiming, Ticket
from bot.store.retention import apply_retention
from tests.bot.store.conftest import pg_store  # noqa: F401  (fixture)

NOW = datetime(2026, 11, 26, 10, 0)


def test_retention_deletes_old_after_hours_requests(store):
    with store.session() as session:
        for moment, sender in ((NOW - timedelta(days=40), "old"), (NOW, "new")):
            record_after_hours(
                session,
                kind=CALLBACK,
                sender_id=sender,
                summary="s",
                now=moment,
                callback_at=moment + timedelta(days=1),
                phone="13912345678",
            )
    report = apply_retention(store, days=30, now=NOW)
    assert report.after_hours_deleted == 1
    with store.session() as session:
        senders = session.execute(select(AfterHoursRequest.sender_id)).scalars().all()
        assert senders == ["new"]
        assert session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 2


def test_the_agents_list_masks_messages_and_shows_the_number_to_call(store):
    with store.session() as session:
        record_after_hours(
            session,
            kind=MESSAGE,
            sender_id="m",
            summary="身份证110101199003071234",
            now=NOW,
            message="请打13812345678",
        )
        record_after_hours(
            session, kind=CALLBACK, sender_id="c", summary="", now=NOW,
            callback_at=datetime(2026, 11, 27, 9, 30), phone="13912345678",
        )  # fmt: skip
        listed = after_hours_requests(session)
    assert [r["kind"] for r in listed] == ["callback", "message"]
    callback, message = listed
    assert (callback["phone"], callback["phone_masked"], callback["callback_at"]) == (
        "13912345678",
        "139****5678",
        "2026-11-27T09:30:00",
    )
    assert message["message"] == "请打138****5678"
    assert "110101199003071234" not in message["summary"]


def _leave_message(session, sender: str, text: str) -> str:
    return record_after_hours(
        session, kind=MESSAGE, sender_id=sender, summary="留言", now=NOW, message=text
    )


async def test_an_agent_marks_a_request_done_and_the_merchant_may_leave_another(store):
    with store.session() as session:
        ids = [_leave_message(session, "rest:full", f"第{n}条") for n in range(MAX_OPEN_REQUESTS)]
        with pytest.raises(TooMany):
            _leave_message(session, "rest:full", "再来一条")
        handoff = open_handoff(session, sender_id="rest:full", summary="转人工", now=NOW)
        session.commit()
    service = HandoffHoursService(store)
    later = NOW + timedelta(hours=15)

    outcomes = [
        await service.complete_request(ticket_id=ids[0], agent_id="agent-wang", now=later),
        await service.complete_request(ticket_id=ids[0], agent_id="agent-li", now=later),
        await service.complete_request(ticket_id="TK999999999999", agent_id="a", now=later),
        await service.complete_request(ticket_id=handoff, agent_id="a", now=later),
    ]

    assert outcomes == [COMPLETED, ALREADY_CLOSED, NO_SUCH_TICKET, NO_SUCH_TICKET]
    assert [r["ticket_id"] for r in await service.requests()] == ids[1:]
    with store.session() as session:
        ticket = session.get(Ticket, ids[0])
        timing = session.get(HandoffTiming, ids[0])
        assert ticket.status == "closed" and ticket.summary.endswith(
            "[done: agent-wang, 2026-11-27 01:00]"
        )
        assert (timing.closed_by, timing.closed_at) == ("agent-wang", later)
        assert session.get(Ticket, handoff).status == "open"
        _leave_message(session, "rest:full", "又一条")  # room for one again
        session.commit()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, store):
    if request.param == "sqlite":
        return store
    pg = request.getfixturevalue("pg_store")
    pg.create_schema()
    return pg


async def test_two_agents_marking_one_request_done_at_once_close_it_once(any_store):
    with any_store.session() as session:
        ticket_id = _leave_message(session, "rest:twice", "请回电")
        session.commit()
    service = HandoffHoursService(any_store)

    outcomes = await asyncio.gather(
        *(
            service.complete_request(ticket_id=ticket_id, agent_id=agent, now=NOW)
            for agent in ("alice", "bob", "carol", "dave")
        )
    )

    assert sorted(outcomes) == [ALREADY_CLOSED] * 3 + [COMPLETED]
    with any_store.session() as session:
        assert session.get(Ticket, ticket_id).summary.count("[done:") == 1
