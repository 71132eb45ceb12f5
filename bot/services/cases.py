"""Views of a merchant's terminals and cases, computed for one day; escalations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

from sqlalchemy.orm import Session

from bot.domain_values import OPEN_CASE_STATUSES
from bot.services.base import CalendarService
from bot.store.models import Case, Terminal
from bot.store.repositories import CaseRepository, MerchantRepository, TicketRepository
from bot.workdays import DecisionWindow, WorkdayCalendar

ESCALATION = "escalation"


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


def open_case_of_terminal(
    session: Session, terminal_id: str, calendar: WorkdayCalendar, today: date
) -> CaseView | None:
    """The terminal's open case, if any."""
    case = CaseRepository(session).open_for_terminal(terminal_id)
    return CaseView.of(case, calendar, today) if case is not None else None


def terminals_of(session: Session, merchant_id: str) -> Sequence[TerminalView]:
    """The merchant's terminals."""
    return [TerminalView.of(t) for t in MerchantRepository(session).terminals_of(merchant_id)]


class CaseService(CalendarService):
    """What a verified merchant may see and ask for about its cases (async, one unit of work
    per call)."""

    async def lookup(
        self,
        *,
        merchant_id: str,
        today: date,
        terminal_id: str | None = None,
        case_id: str | None = None,
    ) -> CaseLookup:
        """See :func:`lookup_for_merchant`."""
        return await self.read(
            lambda session: lookup_for_merchant(
                session,
                merchant_id=merchant_id,
                calendar=self.calendar,
                today=today,
                terminal_id=terminal_id,
                case_id=case_id,
            )
        )

    async def escalate(self, *, case_id: str, sender_id: str, now: datetime) -> tuple[str, bool]:
        """See :func:`escalate_case`."""
        return await self.transaction(
            lambda session: escalate_case(session, case_id=case_id, sender_id=sender_id, now=now)
        )

    async def open_case_of_terminal(self, terminal_id: str, today: date) -> CaseView | None:
        """The terminal's open case, if any."""
        return await self.read(
            lambda session: open_case_of_terminal(session, terminal_id, self.calendar, today)
        )

    async def terminals_of(self, merchant_id: str) -> Sequence[TerminalView]:
        """The merchant's terminals."""
        return await self.read(lambda session: terminals_of(session, merchant_id))
