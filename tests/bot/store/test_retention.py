from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from bot.clock import CHINA_TZ
from bot.store.models import (
    ApplicationDraft,
    CaseAccessAudit,
    NluMiss,
    Ticket,
    VerificationAttempt,
)
from bot.store.repositories import ApplicationDraftRepository
from bot.store.retention import ANONYMISED, apply_retention

NOW = datetime(2026, 11, 26, 10, 0)
OLD = NOW - timedelta(days=40)
NEW = NOW - timedelta(days=2)


def _count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_old_conversation_data_goes_new_stays(store, tmp_path):
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = create_engine(tracker_url, future=True)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, "
                                "timestamp FLOAT, data TEXT)"))  # fmt: skip
        for moment in (OLD, NEW):
            connection.execute(
                text("INSERT INTO events (sender_id, timestamp, data) VALUES ('s', :t, '{}')"),
                {"t": moment.replace(tzinfo=CHINA_TZ).timestamp()},
            )
    with store.session() as session:
        for moment in (OLD, NEW):
            session.add(NluMiss(sender_id="s", text="啊", recorded_at=moment))
            session.add(VerificationAttempt(merchant_key="898310058121234", sender_id="s",
                                            succeeded=False, attempted_at=moment))  # fmt: skip
            ticket_id = f"TK{moment:%Y%m%d}0001"
            summary = "手机138****5678"
            session.add(Ticket(ticket_id=ticket_id, kind="handoff", sender_id="web-1",
                               summary=summary, created_at=moment))  # fmt: skip
        session.add(CaseAccessAudit(agent_id="a", call_id="c", accessed_at=OLD))
        session.add(CaseAccessAudit(agent_id="a", call_id="c", accessed_at=NOW - timedelta(400)))
    report = apply_retention(store, days=30, now=NOW, tracker_url=tracker_url)
    assert (report.misses_deleted, report.attempts_deleted, report.tickets_anonymised,
            report.audits_deleted, report.tracker_events_deleted) == (1, 1, 1, 1, 1)  # fmt: skip
    with store.session() as session:
        assert _count(session, NluMiss) == 1 and _count(session, VerificationAttempt) == 1
        old_ticket = session.get(Ticket, f"TK{OLD:%Y%m%d}0001")
        assert (old_ticket.summary, old_ticket.sender_id) == (ANONYMISED, "anonymised")
        assert session.get(Ticket, f"TK{NEW:%Y%m%d}0001").summary == "手机138****5678"
        assert _count(session, CaseAccessAudit) == 1
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 1
    engine.dispose()
    assert apply_retention(store, days=30, now=NOW).tickets_anonymised == 0  # idempotent


def test_application_drafts_older_than_a_day_are_deleted_whatever_the_period(store):
    with store.session() as session:
        drafts = ApplicationDraftRepository(session)
        drafts.save_phone("old", "13912345678", NOW - timedelta(hours=25))
        drafts.save_phone("new", "13700001111", NOW - timedelta(hours=1))
    report = apply_retention(store, days=30, now=NOW)
    assert report.drafts_deleted == 1
    with store.session() as session:
        remaining = session.execute(select(ApplicationDraft.sender_id)).scalars().all()
    assert remaining == ["new"]


def test_nonsense_periods_are_refused(store):
    with pytest.raises(ValueError):
        apply_retention(store, days=0, now=NOW)
    with pytest.raises(ValueError):
        apply_retention(store, days=30, audit_days=7, now=NOW)
