"""Repositories: every query of the case store. Each takes a caller-owned ``Session``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.dml import Insert

from bot.domain_values import OPEN_CASE_STATUSES, WITHDRAWN
from bot.store.models import (
    ApplicationDraft,
    Case,
    CaseAccessAudit,
    CaseEvent,
    CaseIdCounter,
    Merchant,
    NluMiss,
    Terminal,
    Ticket,
    VerificationAttempt,
    VerificationLock,
)

CASE_ID_PREFIX = "JC"
TICKET_ID_PREFIX = "TK"
TICKET_OPEN = "open"
TICKET_CLOSED = "closed"
CONTACT_PHONE_CHANGED = "contact_phone_changed"


def dialect_insert(session: Session, model: type) -> Any:
    """An ``INSERT`` of ``model`` in the session's dialect, with ``ON CONFLICT`` available.

    SQLite (3.24+) and PostgreSQL spell the upsert the same way; only the SQLAlchemy construct
    differs.
    """
    dialect = session.get_bind().dialect.name
    inserts = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
    if dialect not in inserts:
        raise NotImplementedError(f"no upsert for the {dialect} dialect")
    return inserts[dialect](model)


def upsert(session: Session, model: type, values: dict[str, object]) -> Insert:
    """:func:`dialect_insert` of one row of ``values``."""
    insert: Insert = dialect_insert(session, model).values(**values)
    return insert


def _next_daily_id(
    session: Session, column: InstrumentedAttribute, prefix: str, now: datetime
) -> str:
    """Next id of the form PREFIX + yyyymmdd + 4-digit sequence for ``now``'s day.

    The sequence comes from the day's row of ``case_id_counters``, incremented with one upsert:
    the row stays locked (PostgreSQL) or the database write-locked (SQLite) until the caller
    commits, so two filings never get the same number (``max + 1`` did, within one second).
    The first number of a day continues after ids already stored (imported ones); a number
    the back office has used meanwhile is skipped.
    """
    day_prefix = f"{prefix}{now:%Y%m%d}"
    counter = CaseIdCounter.__table__
    while True:
        last = session.execute(
            select(func.max(column)).where(column.like(f"{day_prefix}%"))
        ).scalar_one_or_none()
        first = int(last[-4:]) + 1 if last else 1
        statement = upsert(session, CaseIdCounter, {"day_prefix": day_prefix, "last_value": first})
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[counter.c.day_prefix],
                set_={"last_value": counter.c.last_value + 1},
            )
        )
        sequence = session.execute(
            select(CaseIdCounter.last_value).where(CaseIdCounter.day_prefix == day_prefix)
        ).scalar_one()
        if sequence > 9999:
            raise OverflowError(f"more than 9999 ids for {day_prefix}")
        candidate = f"{day_prefix}{sequence:04d}"
        taken = session.execute(select(column).where(column == candidate)).first()
        if taken is None:
            return candidate


class MerchantRepository:
    """Merchants and their terminals."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, merchant_id: str) -> Merchant | None:
        """The merchant with this id, if any."""
        return self.session.get(Merchant, merchant_id)

    def count(self) -> int:
        """How many merchants the store holds."""
        return self.session.execute(select(func.count()).select_from(Merchant)).scalar_one()

    def get_terminal(self, terminal_id: str) -> Terminal | None:
        """The terminal with this id, if any."""
        return self.session.get(Terminal, terminal_id)

    def lock_terminal(self, terminal_id: str) -> None:
        """Locks the terminal's row until the transaction ends (filings one after another).

        A write that changes nothing: a row lock on PostgreSQL, the write lock on SQLite (a
        ``SELECT … FOR UPDATE`` would lock nothing there). Reads after it see what the
        previous holder committed.
        """
        self.session.execute(
            update(Terminal)
            .where(Terminal.terminal_id == terminal_id)
            .values(pos_type=Terminal.pos_type)
            .execution_options(synchronize_session=False)
        )

    def terminals_of(self, merchant_id: str) -> Sequence[Terminal]:
        """The merchant's terminals, by terminal id."""
        query = (
            select(Terminal)
            .where(Terminal.merchant_id == merchant_id)
            .order_by(Terminal.terminal_id)
        )
        return self.session.execute(query).scalars().all()


# The look-ups of every verified question, built once: building a statement and its cache key
# costs more than running it on an indexed table.
_NEWEST_CASE_OF_TERMINAL = (
    select(Case.case_id)
    .where(Case.terminal_id == Terminal.terminal_id)
    .order_by(Case.submitted_at.desc(), Case.case_id.desc())
    .limit(1)
    .correlate(Terminal)
    .scalar_subquery()
)
_TERMINALS_WITH_LATEST = select(Terminal, Case).outerjoin(
    Case, Case.case_id == _NEWEST_CASE_OF_TERMINAL
)
_MERCHANT_TERMINALS_WITH_LATEST = _TERMINALS_WITH_LATEST.where(
    Terminal.merchant_id == bindparam("merchant_id")
).order_by(Terminal.terminal_id)
_TERMINAL_WITH_LATEST = _TERMINALS_WITH_LATEST.where(
    Terminal.terminal_id == bindparam("terminal_id")
)
_CASE_WITH_TERMINAL = (
    select(Case, Terminal).join(Terminal).where(Case.case_id == bindparam("case_id"))
)


class CaseRepository:
    """Applications and their history."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, case_id: str) -> Case | None:
        """The case with this id, if any."""
        return self.session.get(Case, case_id)

    def for_merchant(self, merchant_id: str) -> Sequence[Case]:
        """The merchant's cases, newest first."""
        query = (
            select(Case)
            .where(Case.merchant_id == merchant_id)
            .order_by(Case.submitted_at.desc(), Case.case_id.desc())
        )
        return self.session.execute(query).scalars().all()

    def latest_for_terminal(self, terminal_id: str) -> Case | None:
        """The newest case of a terminal, if any."""
        query = (
            select(Case)
            .where(Case.terminal_id == terminal_id)
            .order_by(Case.submitted_at.desc(), Case.case_id.desc())
            .limit(1)
        )
        return self.session.execute(query).scalars().first()

    def terminals_with_latest_case(
        self, *, merchant_id: str | None = None, terminal_id: str | None = None
    ) -> Sequence[tuple[Terminal, Case | None]]:
        """One terminal by id, else a merchant's terminals, each with its newest case, 1 query."""
        if terminal_id is not None:
            query, parameters = _TERMINAL_WITH_LATEST, {"terminal_id": terminal_id}
        elif merchant_id is not None:
            query, parameters = _MERCHANT_TERMINALS_WITH_LATEST, {"merchant_id": merchant_id}
        else:
            raise ValueError("merchant_id or terminal_id is required")
        rows = self.session.execute(query, parameters).all()
        return [(row[0], row[1]) for row in rows]

    def get_with_terminal(self, case_id: str) -> tuple[Case, Terminal] | None:
        """The case with this id and its terminal, in one query."""
        row = self.session.execute(_CASE_WITH_TERMINAL, {"case_id": case_id}).first()
        return (row[0], row[1]) if row is not None else None

    def open_for_terminal(self, terminal_id: str) -> Case | None:
        """The terminal's open case (submitted, under review or waiting for documents)."""
        query = (
            select(Case)
            .where(Case.terminal_id == terminal_id, Case.status.in_(OPEN_CASE_STATUSES))
            .order_by(Case.submitted_at.desc())
            .limit(1)
        )
        return self.session.execute(query).scalars().first()

    def create(
        self,
        *,
        merchant_id: str,
        terminal_id: str,
        suspension_reason: str,
        contact_phone: str,
        now: datetime,
        source: str = "bot",
    ) -> Case:
        """Files a new case with a fresh ``JC`` + 12-digit id and records the event."""
        case = Case(
            case_id=_next_daily_id(self.session, Case.case_id, CASE_ID_PREFIX, now),
            merchant_id=merchant_id,
            terminal_id=terminal_id,
            status="submitted",
            suspension_reason=suspension_reason,
            submitted_at=now,
            updated_at=now,
            rejection_reason="",
            missing_documents="",
            contact_phone=contact_phone,
            source=source,
        )
        self.session.add(case)
        self.add_event(case.case_id, "submitted", f"via {source}", now)
        self.session.flush()
        return case

    def add_event(self, case_id: str, kind: str, detail: str, now: datetime) -> CaseEvent:
        """Appends one entry to the case history."""
        entry = CaseEvent(case_id=case_id, kind=kind, detail=detail, occurred_at=now)
        self.session.add(entry)
        return entry

    def history(self, case_id: str) -> Sequence[CaseEvent]:
        """The case history in order."""
        query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        return self.session.execute(query).scalars().all()

    # -- changes asked by the merchant (withdrawal, contact phone) --------------------------

    def open_for_merchant(self, merchant_id: str) -> Sequence[Case]:
        """The merchant's open cases, oldest first."""
        query = (
            select(Case)
            .where(Case.merchant_id == merchant_id, Case.status.in_(OPEN_CASE_STATUSES))
            .order_by(Case.submitted_at, Case.case_id)
        )
        return self.session.execute(query).scalars().all()

    def withdraw(self, case_id: str, now: datetime) -> bool:
        """Marks an open case ``withdrawn`` and records the event; ``False`` if it is closed.

        One conditional UPDATE, so a decision imported at the same moment is never overwritten.
        """
        case = self.get(case_id)
        old_status = case.status if case is not None else None
        detail = f"{old_status} -> {WITHDRAWN}（商户撤销）"
        return self._change_open_case(case_id, {"status": WITHDRAWN}, WITHDRAWN, detail, now)

    def set_contact_phone(self, case_id: str, phone: str, masked: str, now: datetime) -> bool:
        """Stores a new contact phone on an open case (the event keeps it masked)."""
        values = {"contact_phone": phone}
        return self._change_open_case(case_id, values, CONTACT_PHONE_CHANGED, masked, now)

    def _change_open_case(
        self, case_id: str, values: dict[str, Any], kind: str, detail: str, now: datetime
    ) -> bool:
        """Updates the case only while it is open (one conditional UPDATE, so a decision
        imported at the same moment is never overwritten) and records the event."""
        changed = self.session.execute(
            update(Case)
            .where(Case.case_id == case_id, Case.status.in_(OPEN_CASE_STATUSES))
            .values(**values, updated_at=now)
            .execution_options(synchronize_session="fetch")
        ).rowcount
        if not changed:
            return False
        self.add_event(case_id, kind, detail, now)
        self.session.flush()
        return True


class TicketRepository:
    """Tickets for people (escalations and handoffs)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        kind: str,
        sender_id: str,
        summary: str,
        now: datetime,
        case_id: str | None = None,
        merchant_id: str | None = None,
    ) -> Ticket:
        """Opens a ticket with a fresh ``TK`` + 12-digit id."""
        ticket = Ticket(
            ticket_id=_next_daily_id(self.session, Ticket.ticket_id, TICKET_ID_PREFIX, now),
            kind=kind,
            sender_id=sender_id,
            summary=summary,
            case_id=case_id,
            merchant_id=merchant_id,
            status=TICKET_OPEN,
            created_at=now,
        )
        self.session.add(ticket)
        self.session.flush()
        return ticket

    def open_for_case(self, case_id: str, kind: str) -> Ticket | None:
        """An open ticket of this kind for the case, to avoid duplicates."""
        query = select(Ticket).where(
            Ticket.case_id == case_id, Ticket.kind == kind, Ticket.status == TICKET_OPEN
        )
        return self.session.execute(query).scalars().first()

    def open_of_kind(self, kind: str) -> Sequence[Ticket]:
        """The open tickets of this kind, oldest first."""
        query = (
            select(Ticket)
            .where(Ticket.kind == kind, Ticket.status == TICKET_OPEN)
            .order_by(Ticket.created_at)
        )
        return self.session.execute(query).scalars().all()

    def close_open_for_sender(self, sender_id: str, kind: str, note: str) -> list[str]:
        """Closes the conversation's open tickets of this kind, appending ``note`` to each
        summary; returns their ids."""
        query = select(Ticket).where(
            Ticket.kind == kind, Ticket.status == TICKET_OPEN, Ticket.sender_id == sender_id
        )
        tickets = self.session.execute(query).scalars().all()
        for ticket in tickets:
            ticket.status = TICKET_CLOSED
            ticket.summary += note
        return [ticket.ticket_id for ticket in tickets]

    def for_sender(self, sender_id: str) -> Sequence[Ticket]:
        """The tickets opened from one conversation."""
        query = select(Ticket).where(Ticket.sender_id == sender_id).order_by(Ticket.ticket_id)
        return self.session.execute(query).scalars().all()


class ApplicationDraftRepository:
    """The full contact phone of an application in progress, by conversation."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def save_phone(self, sender_id: str, phone: str, now: datetime) -> None:
        """Keeps ``phone`` as the contact phone of ``sender_id``'s (new) application."""
        draft = self.session.get(ApplicationDraft, sender_id)
        if draft is None:
            self.session.add(
                ApplicationDraft(sender_id=sender_id, contact_phone=phone, updated_at=now)
            )
        else:
            draft.contact_phone, draft.updated_at, draft.case_id = phone, now, None
        self.session.flush()

    def phone_of(self, sender_id: str) -> str | None:
        """The contact phone kept for ``sender_id``, if any (none once filed)."""
        draft = self.session.get(ApplicationDraft, sender_id)
        return draft.contact_phone if draft and draft.case_id is None else None

    def filed_case_of(self, sender_id: str) -> str | None:
        """The case ``sender_id``'s draft was filed as, if it was."""
        draft = self.session.get(ApplicationDraft, sender_id)
        return draft.case_id if draft else None

    def mark_filed(self, sender_id: str, case_id: str, now: datetime) -> None:
        """Forgets the phone and remembers the case the draft became (for a repeated "yes")."""
        draft = self.session.get(ApplicationDraft, sender_id)
        if draft is None:
            draft = ApplicationDraft(sender_id=sender_id)
            self.session.add(draft)
        draft.contact_phone, draft.case_id, draft.updated_at = "", case_id, now
        self.session.flush()

    def discard(self, sender_id: str) -> None:
        """Forgets ``sender_id``'s draft (filed or cancelled)."""
        self.session.execute(
            delete(ApplicationDraft).where(ApplicationDraft.sender_id == sender_id)
        )

    def discard_older_than(self, cutoff: datetime) -> int:
        """Deletes drafts untouched since ``cutoff``; returns how many."""
        result = self.session.execute(
            delete(ApplicationDraft).where(ApplicationDraft.updated_at < cutoff)
        )
        return result.rowcount


@dataclass(frozen=True)
class ClientState:
    """A client's counted failures since its last success, and whether a lock ended them."""

    failures: int
    ended_by_lock: bool


class VerificationAttemptRepository:
    """The record of identity checks, and the counts the limits are computed from."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, merchant_key: str, sender_id: str, outcome: str, now: datetime) -> None:
        """Records one check."""
        self.session.add(
            VerificationAttempt(
                merchant_key=merchant_key,
                sender_id=sender_id,
                succeeded=outcome == "verified",
                outcome=outcome,
                attempted_at=now,
            )
        )
        self.session.flush()

    def merchant_failures(
        self, merchant_key: str, *, since: datetime, outcomes: Sequence[str]
    ) -> int:
        """Checks of a merchant since ``since`` that ended in one of ``outcomes``."""
        return self.session.execute(
            select(func.count())
            .select_from(VerificationAttempt)
            .where(
                VerificationAttempt.merchant_key == merchant_key,
                VerificationAttempt.outcome.in_(outcomes),
                VerificationAttempt.attempted_at > since,
            )
        ).scalar_one()

    def client_state(
        self, sender_id: str, *, since: datetime, outcomes: Sequence[str]
    ) -> ClientState:
        """The client's checks ending in ``outcomes`` after ``since`` and its last success
        (one statement: the last success is a subquery)."""
        last_success = (
            select(func.max(VerificationAttempt.attempted_at))
            .where(
                VerificationAttempt.sender_id == sender_id,
                VerificationAttempt.succeeded.is_(True),
                VerificationAttempt.attempted_at > since,
            )
            .scalar_subquery()
        )
        rows = self.session.execute(
            select(VerificationAttempt.outcome).where(
                VerificationAttempt.sender_id == sender_id,
                VerificationAttempt.outcome.in_(outcomes),
                VerificationAttempt.attempted_at > func.coalesce(last_success, since),
            )
        ).scalars()
        found = list(rows)
        return ClientState(len(found), "merchant_locked" in found)


class VerificationLockRepository:
    """Row locks by key that serialise work on one thing: identity checks per client and per
    merchant, a conversation's uploads, closing a ticket."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self, keys: Sequence[str], *, now: datetime) -> None:
        """Locks the rows of ``keys`` (created if missing) until the transaction ends.

        One multi-row upsert, its rows in sorted order (PostgreSQL inserts and locks them in
        that order: no deadlock between two checks); on PostgreSQL the updated rows stay
        locked, on SQLite the write takes the database write lock. The reads that follow see
        what the previous holder committed.
        """
        rows = [{"lock_key": key, "touched_at": now} for key in sorted(set(keys))]
        if not rows:
            return
        statement = dialect_insert(self.session, VerificationLock).values(rows)
        self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[VerificationLock.__table__.c.lock_key],
                set_={"touched_at": statement.excluded.touched_at},
            )
        )

    def discard_older_than(self, cutoff: datetime) -> int:
        """Deletes lock rows untouched since ``cutoff``; returns how many."""
        result = self.session.execute(
            delete(VerificationLock).where(VerificationLock.touched_at < cutoff)
        )
        return result.rowcount


class CaseAccessAuditRepository:
    """Who looked at which merchant's case data (agents skip merchant verification)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        *,
        agent_id: str,
        call_id: str,
        merchant_id: str | None,
        case_id: str | None,
        now: datetime,
    ) -> None:
        """Records one look-up."""
        self.session.add(
            CaseAccessAudit(
                agent_id=agent_id,
                call_id=call_id,
                merchant_id=merchant_id,
                case_id=case_id,
                accessed_at=now,
            )
        )


class NluMissRepository:
    """Messages the bot did not understand (stored masked by the caller)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        *,
        sender_id: str,
        text: str,
        guess: str | None,
        confidence: float | None,
        now: datetime,
    ) -> None:
        """Stores one missed message as given."""
        self.session.add(
            NluMiss(
                sender_id=sender_id,
                text=text,
                guess=guess,
                confidence=confidence,
                recorded_at=now,
            )
        )

    def since(self, since: datetime | None = None) -> list[NluMiss]:
        """The recorded misses (all, or those since ``since``), oldest first."""
        query = select(NluMiss).order_by(NluMiss.id)
        if since is not None:
            query = query.where(NluMiss.recorded_at >= since)
        return list(self.session.execute(query).scalars())
