"""Applications to lift a suspension: the draft's contact phone, terminal ownership, filing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from bot.domain_values import OPEN_CASE_STATUSES
from bot.services.base import CalendarService
from bot.services.cases import CaseView, open_case_of_terminal
from bot.store.repositories import (
    ApplicationDraftRepository,
    CaseRepository,
    MerchantRepository,
)
from bot.workdays import WorkdayCalendar


@dataclass(frozen=True)
class TerminalCheck:
    """Whether the terminal is the merchant's; if so its recorded reason and open case."""

    owned: bool
    recorded_reason: str | None = None
    open_case: CaseView | None = None


def check_terminal(
    session: Session,
    *,
    merchant_id: str,
    terminal_id: str,
    calendar: WorkdayCalendar,
    today: date,
) -> TerminalCheck:
    """Checks that the terminal belongs to the merchant; then what the application form needs:
    the suspension reason on record and the terminal's open case (no second application)."""
    terminal = MerchantRepository(session).get_terminal(terminal_id)
    if terminal is None or terminal.merchant_id != merchant_id:
        return TerminalCheck(owned=False)
    open_case = open_case_of_terminal(session, terminal_id, calendar, today)
    return TerminalCheck(True, terminal.suspension_reason, open_case)


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


class ApplicationService(CalendarService):
    """Drafts, ownership checks and filing (async, one unit of work per call)."""

    async def save_phone(self, sender_id: str, phone: str, now: datetime) -> None:
        """Keeps the full contact phone of ``sender_id``'s application (never in a slot)."""
        await self.transaction(
            lambda session: ApplicationDraftRepository(session).save_phone(sender_id, phone, now)
        )

    async def draft_phone(self, sender_id: str) -> str | None:
        """The contact phone kept for ``sender_id``, if any (none once filed)."""
        return await self.read(
            lambda session: ApplicationDraftRepository(session).phone_of(sender_id)
        )

    async def discard_draft(self, sender_id: str) -> None:
        """Forgets ``sender_id``'s draft (the merchant declined or cancelled)."""
        await self.transaction(
            lambda session: ApplicationDraftRepository(session).discard(sender_id)
        )

    async def check_terminal(
        self, *, merchant_id: str, terminal_id: str, today: date
    ) -> TerminalCheck:
        """See :func:`check_terminal`."""
        return await self.read(
            lambda session: check_terminal(
                session,
                merchant_id=merchant_id,
                terminal_id=terminal_id,
                calendar=self.calendar,
                today=today,
            )
        )

    async def file(
        self,
        *,
        sender_id: str,
        merchant_id: str,
        terminal_id: str,
        suspension_reason: str,
        now: datetime,
        slot_phone: str | None = None,
    ) -> SubmissionResult | None:
        """See :func:`file_application`."""
        return await self.transaction(
            lambda session: file_application(
                session,
                sender_id=sender_id,
                merchant_id=merchant_id,
                terminal_id=terminal_id,
                suspension_reason=suspension_reason,
                now=now,
                calendar=self.calendar,
                slot_phone=slot_phone,
            )
        )
