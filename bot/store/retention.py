"""Data retention: what is older than the retention period is deleted or anonymised.

Cases and their history belong to the acquirer's records and are kept. Conversation data
is not: missed messages and identity checks are deleted, handoff/escalation tickets keep their
numbers and kinds but lose the conversation summary and sender, and conversation events of a
SQL tracker store are deleted. Application drafts (the full contact phone of an application in
progress) only live for one conversation: any untouched for a day is deleted, whatever ``days``,
and so are the identity checks' lock rows (they name conversations). Messages and call-back
numbers left outside the agents' hours are deleted with the conversation data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import create_engine, delete, inspect, update
from sqlalchemy.sql import column, table

from bot.clock import CHINA_TZ
from bot.store.database import CaseStore
from bot.store.models import (
    AfterHoursRequest,
    CaseAccessAudit,
    NluMiss,
    Ticket,
    VerificationAttempt,
)
from bot.store.repositories import ApplicationDraftRepository, VerificationLockRepository

ANONYMISED: Final = "[已按数据保留策略匿名化]"
ANONYMOUS_SENDER: Final = "anonymised"
DRAFT_RETENTION: Final = timedelta(days=1)


@dataclass(frozen=True)
class RetentionReport:
    """How many rows each step touched."""

    misses_deleted: int
    attempts_deleted: int
    tickets_anonymised: int
    audits_deleted: int
    tracker_events_deleted: int
    drafts_deleted: int = 0
    after_hours_deleted: int = 0


def apply_retention(
    store: CaseStore,
    *,
    days: int,
    now: datetime,
    audit_days: int = 365,
    tracker_url: str | None = None,
) -> RetentionReport:
    """Deletes or anonymises conversation data older than ``days`` days.

    Args:
        store: the case store.
        days: retention period of conversation data.
        now: the current China time.
        audit_days: retention period of the agents' access audit (longer, for compliance).
        tracker_url: SQLAlchemy URL of Rasa's SQL tracker store, if one is used.
    """
    if days < 1 or audit_days < days:
        raise ValueError("days must be >= 1 and audit_days >= days")
    cutoff = now - timedelta(days=days)
    with store.session() as session:
        misses = session.execute(delete(NluMiss).where(NluMiss.recorded_at < cutoff)).rowcount
        attempts = session.execute(
            delete(VerificationAttempt).where(VerificationAttempt.attempted_at < cutoff)
        ).rowcount
        # Messages and call-back numbers left outside the agents' hours (before their tickets
        # lose the sender).
        after_hours = session.execute(
            delete(AfterHoursRequest).where(AfterHoursRequest.created_at < cutoff)
        ).rowcount
        tickets = session.execute(
            update(Ticket)
            .where(Ticket.created_at < cutoff, Ticket.sender_id != ANONYMOUS_SENDER)
            .values(summary=ANONYMISED, sender_id=ANONYMOUS_SENDER)
        ).rowcount
        drafts = ApplicationDraftRepository(session).discard_older_than(now - DRAFT_RETENTION)
        # The identity checks' lock rows (client and merchant keys) are only needed while a
        # check runs; the counts live in verification_attempts.
        VerificationLockRepository(session).discard_older_than(now - DRAFT_RETENTION)
        audits = session.execute(
            delete(CaseAccessAudit).where(
                CaseAccessAudit.accessed_at < now - timedelta(days=audit_days)
            )
        ).rowcount
    events = _delete_tracker_events(tracker_url, cutoff) if tracker_url else 0
    return RetentionReport(misses, attempts, tickets, audits, events, drafts, after_hours)


def _delete_tracker_events(url: str, cutoff: datetime) -> int:
    """Deletes Rasa SQLTrackerStore events older than ``cutoff`` (timestamps are UTC epoch)."""
    engine = create_engine(url, future=True)
    try:
        if "events" not in inspect(engine).get_table_names():
            return 0
        events = table("events", column("timestamp"))
        epoch = cutoff.replace(tzinfo=CHINA_TZ).timestamp()
        with engine.begin() as connection:
            return connection.execute(delete(events).where(events.c.timestamp < epoch)).rowcount
    finally:
        engine.dispose()
