"""Queries of the status notifications: the outbox, the widget's inbox, opt-outs, and the
operator's status change of a case. Each repository takes a caller-owned ``Session``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from bot.store.models import (
    Case,
    CaseEvent,
    Merchant,
    Notification,
    NotificationOptOut,
    VerificationAttempt,
)
from bot.store.repositories import upsert

PENDING: Final = "pending"
SENT: Final = "sent"
FAILED: Final = "failed"
SKIPPED: Final = "skipped"
NOTIFICATION_STATUSES: Final = (PENDING, SENT, FAILED, SKIPPED)
#: The case events that announce a new status ("old -> new" in their detail).
STATUS_CHANGED: Final = "status_changed"
_NEW_STATUS: Final = re.compile(r"->\s*([a-z_]+)")
_VERIFIED: Final = "verified"
MAX_ERROR_CHARS: Final = 200


def new_status_of(detail: str) -> str | None:
    """The status a ``status_changed`` event's detail ("old -> new …") announces."""
    match = _NEW_STATUS.search(detail or "")
    return match.group(1) if match else None


@dataclass(frozen=True)
class StatusEvent:
    """A status change not planned yet: the event, its case and merchant."""

    event_id: int
    case_id: str
    merchant_id: str
    new_status: str
    occurred_at: datetime


@dataclass(frozen=True)
class Claimed:
    """A notification a worker claimed, with what it needs to send it."""

    id: int
    idempotency_key: str
    case_id: str
    merchant_id: str
    channel: str
    recipient_key: str
    attempts: int
    message: str


class NotificationRepository:
    """The ``notifications`` outbox."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def unplanned_status_events(self, since: datetime, limit: int) -> list[StatusEvent]:
        """Status changes since ``since`` that have no notification yet, oldest first."""
        planned = exists().where(Notification.case_event_id == CaseEvent.id)
        query = (
            select(CaseEvent.id, CaseEvent.case_id, Case.merchant_id, CaseEvent.detail)
            .add_columns(CaseEvent.occurred_at)
            .join(Case, Case.case_id == CaseEvent.case_id)
            .where(CaseEvent.kind == STATUS_CHANGED, CaseEvent.occurred_at >= since, ~planned)
            .order_by(CaseEvent.id)
            .limit(limit)
        )
        events = []
        for event_id, case_id, merchant_id, detail, occurred_at in self.session.execute(query):
            status = new_status_of(detail)
            if status is not None:
                events.append(StatusEvent(event_id, case_id, merchant_id, status, occurred_at))
        return events

    def add(self, values: dict[str, object]) -> bool:
        """Inserts one notification unless its idempotency key exists; whether it was new."""
        statement = upsert(self.session, Notification, values).on_conflict_do_nothing(
            index_elements=[Notification.idempotency_key]
        )
        return bool(self.session.execute(statement).rowcount)

    def due(self, now: datetime, limit: int) -> list[tuple[int, int]]:
        """``(id, attempts)`` of pending notifications due at ``now``, oldest first.

        On PostgreSQL the rows are locked with ``SKIP LOCKED``: a second worker picks others.
        """
        query = (
            select(Notification.id, Notification.attempts)
            .where(Notification.status == PENDING, Notification.next_attempt_at <= now)
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [(row[0], row[1]) for row in self.session.execute(query)]

    def claim(
        self, notification_id: int, seen_attempts: int, now: datetime, until: datetime
    ) -> bool:
        """Takes one due row: counts the attempt and hides it until ``until`` (the lease).

        A conditional UPDATE on the attempt count read before: of two workers that read the
        same row, only the first one's update matches.
        """
        changed = self.session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.status == PENDING,
                Notification.attempts == seen_attempts,
                Notification.next_attempt_at <= now,
            )
            .values(attempts=seen_attempts + 1, next_attempt_at=until)
            .execution_options(synchronize_session=False)
        ).rowcount
        return bool(changed)

    def claimed(self, notification_id: int) -> Claimed:
        """The row as the worker needs it."""
        row = self.session.get(Notification, notification_id)
        assert row is not None  # claimed in this transaction
        return Claimed(
            row.id,
            row.idempotency_key,
            row.case_id,
            row.merchant_id,
            row.channel,
            row.recipient_key,
            row.attempts,
            row.message,
        )

    def finish(
        self,
        notification_id: int,
        attempts: int,
        *,
        status: str,
        now: datetime,
        error: str = "",
        retry_at: datetime | None = None,
    ) -> bool:
        """Records the outcome of the claimed attempt number ``attempts``.

        ``retry_at`` keeps the row pending until then. Nothing changes (``False``) when the
        row was claimed again meanwhile (the lease ran out).
        """
        values: dict[str, object] = {"status": status, "last_error": error[:MAX_ERROR_CHARS]}
        if status == SENT:
            values["sent_at"] = now
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        changed = self.session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.status == PENDING,
                Notification.attempts == attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        return bool(changed)

    def unseen_in_inbox(self, channel: str, recipient_key: str, limit: int) -> list[Notification]:
        """Sent notifications of a widget conversation it has not shown yet, oldest first."""
        query = (
            select(Notification)
            .where(
                Notification.channel == channel,
                Notification.recipient_key == recipient_key,
                Notification.status == SENT,
                Notification.seen_at.is_(None),
            )
            .order_by(Notification.id)
            .limit(limit)
        )
        return list(self.session.execute(query).scalars())

    def mark_seen(self, notification_id: int, now: datetime) -> bool:
        """Marks a notification shown; ``False`` when another poll took it first."""
        changed = self.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.seen_at.is_(None))
            .values(seen_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        return bool(changed)

    def listing(
        self, *, status: str | None = None, case_id: str | None = None, limit: int = 50
    ) -> Sequence[Notification]:
        """The newest notifications, optionally of one status or case (for operators)."""
        query = select(Notification).order_by(Notification.id.desc()).limit(limit)
        if status is not None:
            query = query.where(Notification.status == status)
        if case_id is not None:
            query = query.where(Notification.case_id == case_id)
        return self.session.execute(query).scalars().all()

    def retry_failed(self, now: datetime, notification_id: int | None = None) -> int:
        """Puts failed notifications back in the queue (attempts from zero); how many."""
        query = update(Notification).where(Notification.status == FAILED)
        if notification_id is not None:
            query = query.where(Notification.id == notification_id)
        return int(
            self.session.execute(
                query.values(status=PENDING, attempts=0, next_attempt_at=now).execution_options(
                    synchronize_session=False
                )
            ).rowcount
        )


class RecipientRepository:
    """Where a merchant can be reached: its last verified conversation, its registered phone."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def verified_conversations(self, merchant_id: str) -> list[str]:
        """Sender ids of the merchant's verified conversations, newest first."""
        query = (
            select(VerificationAttempt.sender_id)
            .where(
                VerificationAttempt.merchant_key == merchant_id,
                VerificationAttempt.outcome == _VERIFIED,
            )
            .order_by(VerificationAttempt.attempted_at.desc(), VerificationAttempt.id.desc())
        )
        return list(dict.fromkeys(self.session.execute(query).scalars()))

    def registered_phone(self, merchant_id: str) -> str | None:
        """The merchant's registered mobile number, if the merchant exists."""
        merchant = self.session.get(Merchant, merchant_id)
        return merchant.registered_phone if merchant is not None else None


class OptOutRepository:
    """Subjects (``merchant:…``, ``recipient:…``) that want no notifications."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def set(self, subject: str, opted_out: bool, now: datetime) -> None:
        """Records (or lifts) the opt-out of ``subject``."""
        if opted_out:
            statement = upsert(
                self.session, NotificationOptOut, {"subject": subject, "created_at": now}
            ).on_conflict_do_nothing(index_elements=[NotificationOptOut.subject])
            self.session.execute(statement)
        else:
            self.session.execute(
                delete(NotificationOptOut).where(NotificationOptOut.subject == subject)
            )

    def any_opted_out(self, subjects: Sequence[str]) -> bool:
        """Whether one of ``subjects`` opted out."""
        query = select(NotificationOptOut.subject).where(NotificationOptOut.subject.in_(subjects))
        return self.session.execute(query.limit(1)).first() is not None


class CaseStatusRepository:
    """The operator's change of a case's status (``posbot case set-status``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self, case_id: str) -> Case | None:
        """The case, its row locked until the transaction ends (a write that changes nothing:
        a row lock on PostgreSQL, the write lock on SQLite)."""
        self.session.execute(
            update(Case)
            .where(Case.case_id == case_id)
            .values(status=Case.status)
            .execution_options(synchronize_session=False)
        )
        case = self.session.get(Case, case_id)
        if case is not None:
            self.session.refresh(case)
        return case

    def other_open_case(self, case: Case, open_statuses: Sequence[str]) -> str | None:
        """Another open case of the same terminal, if any."""
        query = select(Case.case_id).where(
            Case.terminal_id == case.terminal_id,
            Case.case_id != case.case_id,
            Case.status.in_(open_statuses),
        )
        return self.session.execute(query.limit(1)).scalar_one_or_none()

    def set_status(
        self,
        case: Case,
        *,
        status: str,
        missing_documents: str,
        rejection_reason: str,
        detail: str,
        now: datetime,
    ) -> None:
        """Stores the new status and its details, and records the ``status_changed`` event."""
        case.status = status
        case.missing_documents = missing_documents
        case.rejection_reason = rejection_reason
        case.updated_at = now
        self.session.add(
            CaseEvent(case_id=case.case_id, kind=STATUS_CHANGED, detail=detail, occurred_at=now)
        )
        self.session.flush()
