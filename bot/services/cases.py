"""Views of a merchant's terminals and cases, computed for one day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

from sqlalchemy.orm import Session

from bot.domain_values import OPEN_CASE_STATUSES
from bot.store.models import Case, Terminal
from bot.store.repositories import (
    ApplicationDraftRepository,
    CaseRepository,
    MerchantRepository,
    TicketRepository,
)
from bot.workdays import DecisionWindow, WorkdayCalendar

ESCALATION = "escalation"
HANDOFF = "handoff"


@dataclass(frozen=True)
class TerminalView:
    """What the bot may show about a terminal once its merchant is verified."""

    terminal_id: str
    pos_type: str | None
    suspension_reason: str | None
    suspended_at: datetime | None

    @classmethod
    def of(cls, terminal: Terminal) -> TerminalView:
        """Copies the fields of a terminal row."""
        return cls(
            terminal.terminal_id,
            terminal.pos_type,
            terminal.suspension_reason,
            terminal.suspended_at,
        )


@dataclass(frozen=True)
class CaseView:
    """A case with its decision window evaluated for ``today``."""

    case_id: str
    merchant_id: str
    terminal_id: str
    status: str
    suspension_reason: str | None
    submitted_at: datetime | None
    updated_at: datetime | None
    rejection_reason: str
    missing_documents: tuple[str, ...]
    window: DecisionWindow | None
    overdue: bool
    elapsed_workdays: int

    @property
    def is_open(self) -> bool:
        """Whether a decision is still pending."""
        return self.status in OPEN_CASE_STATUSES

    @classmethod
    def of(cls, case: Case, calendar: WorkdayCalendar, today: date) -> CaseView:
        """Evaluates the case's window and overdue flag on ``today``."""
        window = None
        elapsed = 0
        if case.submitted_at is not None:
            window = calendar.decision_window(case.submitted_at)
            elapsed = calendar.workdays_between(case.submitted_at.date(), today)
        is_open = case.status in OPEN_CASE_STATUSES
        return cls(
            case_id=case.case_id,
            merchant_id=case.merchant_id,
            terminal_id=case.terminal_id,
            status=case.status,
            suspension_reason=case.suspension_reason,
            submitted_at=case.submitted_at,
            updated_at=case.updated_at,
            rejection_reason=case.rejection_reason or "",
            missing_documents=tuple(case.missing_document_list),
            window=window,
            overdue=bool(is_open and window is not None and window.is_overdue(today)),
            elapsed_workdays=elapsed,
        )


class LookupOutcome(str, Enum):
    """How a look-up for a verified merchant ended."""

    FOUND = "found"
    CHOOSE = "choose"
    NOT_YOURS = "not_yours"
    NO_TERMINAL = "no_terminal"


@dataclass(frozen=True)
class CaseLookup:
    """The terminal and case a verified merchant asked about, or why there is none."""

    outcome: LookupOutcome
    terminal: TerminalView | None = None
    case: CaseView | None = None
    choices: tuple[TerminalView, ...] = field(default_factory=tuple)


def lookup_for_merchant(
    session: Session,
    *,
    merchant_id: str,
    calendar: WorkdayCalendar,
    today: date,
    terminal_id: str | None = None,
    case_id: str | None = None,
) -> CaseLookup:
    """Finds what a verified merchant asks about, never crossing into another merchant's data.

    Args:
        session: an open session.
        merchant_id: the verified merchant.
        calendar: working-day calendar for the decision window.
        today: the day to evaluate overdue flags on.
        terminal_id: the terminal the user named, if any.
        case_id: the case the user named, if any (wins over ``terminal_id``).
    """
    cases = CaseRepository(session)
    if case_id:
        found = cases.get_with_terminal(case_id)
        if found is None or found[0].merchant_id != merchant_id:
            return CaseLookup(LookupOutcome.NOT_YOURS)
        case, terminal = found
        return CaseLookup(
            LookupOutcome.FOUND, TerminalView.of(terminal), CaseView.of(case, calendar, today)
        )
    if terminal_id:
        rows = cases.terminals_with_latest_case(terminal_id=terminal_id)
        if not rows or rows[0][0].merchant_id != merchant_id:
            return CaseLookup(LookupOutcome.NOT_YOURS)
        return _found(*rows[0], calendar, today)
    rows = cases.terminals_with_latest_case(merchant_id=merchant_id)
    if not rows:
        return CaseLookup(LookupOutcome.NO_TERMINAL)
    if len(rows) == 1:
        return _found(*rows[0], calendar, today)
    return CaseLookup(
        LookupOutcome.CHOOSE, choices=tuple(TerminalView.of(terminal) for terminal, _ in rows)
    )


def _found(
    terminal: Terminal, latest: Case | None, calendar: WorkdayCalendar, today: date
) -> CaseLookup:
    view = CaseView.of(latest, calendar, today) if latest is not None else None
    return CaseLookup(LookupOutcome.FOUND, TerminalView.of(terminal), view)


def escalate_case(
    session: Session, *, case_id: str, sender_id: str, now: datetime
) -> tuple[str, bool]:
    """Opens an escalation ticket for an overdue case, or returns the open one.

    Returns:
        The ticket id and whether it was created now.
    """
    tickets = TicketRepository(session)
    existing = tickets.open_for_case(case_id, ESCALATION)
    if existing is not None:
        return existing.ticket_id, False
    case = CaseRepository(session).get(case_id)
    if case is None:
        raise LookupError(f"no case {case_id}")
    ticket = tickets.create(
        kind=ESCALATION,
        sender_id=sender_id,
        summary=f"商户催办：申请 {case_id} 超过第7个工作日仍未出结果",
        now=now,
        case_id=case_id,
        merchant_id=case.merchant_id,
    )
    CaseRepository(session).add_event(case_id, "escalated", ticket.ticket_id, now)
    return ticket.ticket_id, True


def open_handoff(
    session: Session,
    *,
    sender_id: str,
    summary: str,
    now: datetime,
    merchant_id: str | None = None,
) -> str:
    """Opens a handoff ticket for a human agent and returns its id."""
    ticket = TicketRepository(session).create(
        kind=HANDOFF, sender_id=sender_id, summary=summary, now=now, merchant_id=merchant_id
    )
    return ticket.ticket_id


@dataclass(frozen=True)
class SubmissionResult:
    """The case an application resulted in.

    ``created`` is true for a case this conversation filed (now, or before when the
    confirmation is repeated), false for another open case of the terminal.
    """

    case: CaseView
    created: bool


def _lock_owned_terminal(session: Session, merchant_id: str, terminal_id: str) -> None:
    """Checks ownership, then locks the terminal: filings for it run one after another.

    Raises:
        PermissionError: the terminal does not belong to the merchant.
    """
    merchants = MerchantRepository(session)
    terminal = merchants.get_terminal(terminal_id)
    if terminal is None or terminal.merchant_id != merchant_id:
        raise PermissionError(f"terminal {terminal_id} is not merchant {merchant_id}'s")
    merchants.lock_terminal(terminal_id)


def submit_application(
    session: Session,
    *,
    merchant_id: str,
    terminal_id: str,
    suspension_reason: str,
    contact_phone: str,
    now: datetime,
    calendar: WorkdayCalendar,
) -> SubmissionResult:
    """Files an application, or returns the terminal's open case instead of a duplicate.

    The terminal's row is locked first, so of two submissions at the same moment the second
    finds the first one's case (the unique index ``uq_cases_open_terminal`` backs this up).

    Raises:
        PermissionError: the terminal does not belong to the merchant.
    """
    _lock_owned_terminal(session, merchant_id, terminal_id)
    cases = CaseRepository(session)
    existing = cases.open_for_terminal(terminal_id)
    if existing is not None:
        return SubmissionResult(CaseView.of(existing, calendar, now.date()), created=False)
    case = cases.create(
        merchant_id=merchant_id,
        terminal_id=terminal_id,
        suspension_reason=suspension_reason,
        contact_phone=contact_phone,
        now=now,
    )
    return SubmissionResult(CaseView.of(case, calendar, now.date()), created=True)


def file_application(
    session: Session,
    *,
    sender_id: str,
    merchant_id: str,
    terminal_id: str,
    suspension_reason: str,
    now: datetime,
    calendar: WorkdayCalendar,
    slot_phone: str | None = None,
) -> SubmissionResult | None:
    """Files the conversation's confirmed application, idempotently.

    A confirmation repeated after a lost reply (same conversation, same draft) returns the
    case the draft was filed as; the draft keeps that case id instead of the phone.

    Args:
        session: an open session.
        sender_id: the conversation.
        merchant_id: the verified merchant.
        terminal_id: the terminal of the application.
        suspension_reason: the canonical reason.
        now: the filing time.
        calendar: working-day calendar for the decision window.
        slot_phone: the contact phone from the conversation when it is whole (not masked).

    Returns:
        The result, or ``None`` when the contact phone is gone (the draft expired).

    Raises:
        PermissionError: the terminal does not belong to the merchant.
    """
    _lock_owned_terminal(session, merchant_id, terminal_id)
    drafts = ApplicationDraftRepository(session)
    filed = drafts.filed_case_of(sender_id)
    if filed is not None:
        case = CaseRepository(session).get(filed)
        repeated = case is not None and (case.merchant_id, case.terminal_id) == (
            merchant_id,
            terminal_id,
        )
        if repeated and case is not None and case.status in OPEN_CASE_STATUSES:
            return SubmissionResult(CaseView.of(case, calendar, now.date()), created=True)
    phone = drafts.phone_of(sender_id) or slot_phone
    if phone is None:
        return None
    result = submit_application(
        session,
        merchant_id=merchant_id,
        terminal_id=terminal_id,
        suspension_reason=suspension_reason,
        contact_phone=phone,
        now=now,
        calendar=calendar,
    )
    if result.created:
        drafts.mark_filed(sender_id, result.case.case_id, now)
    else:
        drafts.discard(sender_id)
    return result


def open_case_of_terminal(
    session: Session, terminal_id: str, calendar: WorkdayCalendar, today: date
) -> CaseView | None:
    """The terminal's open case, if any."""
    case = CaseRepository(session).open_for_terminal(terminal_id)
    return CaseView.of(case, calendar, today) if case is not None else None


def terminals_of(session: Session, merchant_id: str) -> Sequence[TerminalView]:
    """The merchant's terminals."""
    return [TerminalView.of(t) for t in MerchantRepository(session).terminals_of(merchant_id)]
