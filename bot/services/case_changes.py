"""Changes a verified merchant asks for on a filed application: withdrawal, contact phone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from sqlalchemy.orm import Session

from bot.domain_values import mask_phone
from bot.services.base import CalendarService
from bot.services.cases import CaseView
from bot.store.repositories import ApplicationDraftRepository, CaseRepository
from bot.workdays import WorkdayCalendar


class ChangeOutcome(str, Enum):
    """How a change ended."""

    DONE = "done"
    NOT_YOURS = "not_yours"
    NOT_OPEN = "not_open"


@dataclass(frozen=True)
class ChangeResult:
    """The outcome and the case as it is afterwards (``None`` when it is not the merchant's)."""

    outcome: ChangeOutcome
    case: CaseView | None = None


def open_cases_of_merchant(
    session: Session, merchant_id: str, calendar: WorkdayCalendar, today: date
) -> list[CaseView]:
    """The merchant's open cases (submitted, under review, needs documents), oldest first."""
    return [
        CaseView.of(case, calendar, today)
        for case in CaseRepository(session).open_for_merchant(merchant_id)
    ]


def _owned(session: Session, merchant_id: str, case_id: str) -> bool:
    case = CaseRepository(session).get(case_id)
    return case is not None and case.merchant_id == merchant_id


def _result(
    session: Session, case_id: str, done: bool, calendar: WorkdayCalendar, now: datetime
) -> ChangeResult:
    case = CaseRepository(session).get(case_id)
    assert case is not None  # the caller found it in this transaction
    session.refresh(case)
    outcome = ChangeOutcome.DONE if done else ChangeOutcome.NOT_OPEN
    return ChangeResult(outcome, CaseView.of(case, calendar, now.date()))


def withdraw_case(
    session: Session,
    *,
    merchant_id: str,
    case_id: str,
    now: datetime,
    calendar: WorkdayCalendar,
) -> ChangeResult:
    """Withdraws the merchant's open case (status ``withdrawn`` and a ``withdrawn`` event)."""
    if not _owned(session, merchant_id, case_id):
        return ChangeResult(ChangeOutcome.NOT_YOURS)
    done = CaseRepository(session).withdraw(case_id, now)
    return _result(session, case_id, done, calendar, now)


def change_contact_phone(
    session: Session,
    *,
    merchant_id: str,
    case_id: str,
    phone: str,
    now: datetime,
    calendar: WorkdayCalendar,
) -> ChangeResult:
    """Stores a new contact phone on the merchant's open case (event with the masked number)."""
    if not _owned(session, merchant_id, case_id):
        return ChangeResult(ChangeOutcome.NOT_YOURS)
    done = CaseRepository(session).set_contact_phone(case_id, phone, mask_phone(phone), now)
    return _result(session, case_id, done, calendar, now)


def change_phone_from_draft(
    session: Session,
    *,
    sender_id: str,
    merchant_id: str,
    case_id: str,
    now: datetime,
    calendar: WorkdayCalendar,
) -> tuple[ChangeResult, str | None]:
    """Stores the number waiting in ``sender_id``'s draft on the case, then drops the draft.

    Returns:
        The result and the new number; ``NOT_OPEN`` without a case when no number waits (the
        retention command deleted the draft).
    """
    drafts = ApplicationDraftRepository(session)
    phone = drafts.phone_of(sender_id)
    if phone is None:
        return ChangeResult(ChangeOutcome.NOT_OPEN), None
    result = change_contact_phone(
        session,
        merchant_id=merchant_id,
        case_id=case_id,
        phone=phone,
        now=now,
        calendar=calendar,
    )
    drafts.discard(sender_id)
    return result, phone


class CaseChangeService(CalendarService):
    """Withdrawals and contact phone changes (async, one unit of work per call)."""

    async def open_cases(self, merchant_id: str, today: date) -> list[CaseView]:
        """See :func:`open_cases_of_merchant`."""
        return await self.read(
            lambda session: open_cases_of_merchant(session, merchant_id, self.calendar, today)
        )

    async def withdraw(self, *, merchant_id: str, case_id: str, now: datetime) -> ChangeResult:
        """See :func:`withdraw_case`."""
        return await self.transaction(
            lambda session: withdraw_case(
                session, merchant_id=merchant_id, case_id=case_id, now=now, calendar=self.calendar
            )
        )

    async def change_phone(
        self, *, sender_id: str, merchant_id: str, case_id: str, now: datetime
    ) -> tuple[ChangeResult, str | None]:
        """See :func:`change_phone_from_draft`."""
        return await self.transaction(
            lambda session: change_phone_from_draft(
                session,
                sender_id=sender_id,
                merchant_id=merchant_id,
                case_id=case_id,
                now=now,
                calendar=self.calendar,
            )
        )
