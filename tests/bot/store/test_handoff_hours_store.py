"""After-hours requests in the store: retention deletes old ones with their phone and message;
timings follow their tickets."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.services.handoff_hours import (
    CALLBACK,
    MESSAGE,
    after_hours_requests,
    record_after_hours,
)
from bot.store.models import AfterHoursRequest, Ticket
from bot.store.retention import apply_retention

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
