"""The hotline copilot: call context across turns and the case card for an agent."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from bot.domain_values import mask_name, mask_phone
from bot.services.base import CalendarService
from bot.services.cases import CaseView
from bot.services.documents import document_dict
from bot.store.documents import DocumentRepository
from bot.store.models import Case, Merchant
from bot.store.repositories import (
    CaseAccessAuditRepository,
    CaseRepository,
    MerchantRepository,
)
from bot.workdays import WorkdayCalendar

CALL_IDS: Final = ("merchant_id", "terminal_id", "case_id")
MAX_CALLS: Final = 500
# A call keeps its last 30 turns (the copilot shows 20); each turn is at most 2000 characters
# (the copilot's limit), so memory stays bounded: 500 calls x 30 turns x 2000 characters.
MAX_CALL_TURNS: Final = 30
CALL_TTL_SECONDS: Final = 4 * 3600


@dataclass
class CallContext:
    """What is known about one phone call so far (personal data masked)."""

    call_id: str
    agent_id: str
    turns: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)
    touched: float = 0.0


class CallRegistry:
    """Recent calls in memory, bounded in number, age and turns per call."""

    def __init__(
        self,
        max_calls: int = MAX_CALLS,
        ttl_seconds: float = CALL_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_turns: int = MAX_CALL_TURNS,
    ) -> None:
        self._calls: OrderedDict[str, CallContext] = OrderedDict()
        self._max_calls = max_calls
        self._max_turns = max_turns
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()

    def add_turn(
        self, call_id: str, agent_id: str, masked_text: str, entities: Iterable[dict[str, Any]]
    ) -> CallContext:
        """Records what the caller said; identifiers accumulate across the call."""
        now = self._clock()
        with self._lock:
            for key in [k for k, c in self._calls.items() if now - c.touched > self._ttl]:
                del self._calls[key]
            context = self._calls.pop(call_id, None)
            if context is None or context.agent_id != agent_id:
                context = CallContext(call_id, agent_id)
            context.turns.append(masked_text)
            del context.turns[: -self._max_turns]
            for entity in entities:
                if entity.get("entity") in CALL_IDS and entity.get("value"):
                    context.ids[entity["entity"]] = str(entity["value"]).upper()
            context.touched = now
            self._calls[call_id] = context
            while len(self._calls) > self._max_calls:
                self._calls.popitem(last=False)
            return context


def _case_dict(view: CaseView) -> dict[str, Any]:
    window = view.window
    return {
        "case_id": view.case_id,
        "terminal_id": view.terminal_id,
        "status": view.status,
        "suspension_reason": view.suspension_reason,
        "submitted_at": view.submitted_at.isoformat() if view.submitted_at else None,
        "updated_at": view.updated_at.isoformat() if view.updated_at else None,
        "window_start": window.first_day.isoformat() if window else None,
        "window_end": window.last_day.isoformat() if window else None,
        "window_estimated": window.estimated if window else None,
        "overdue": view.overdue,
        "missing_documents": list(view.missing_documents),
        "rejection_reason": view.rejection_reason,
    }


def case_card(
    session: Session,
    *,
    ids: dict[str, str],
    agent_id: str,
    call_id: str,
    calendar: WorkdayCalendar,
    today: date,
    now: datetime,
) -> dict[str, Any] | None:
    """The case card for the identifiers heard in the call; each look-up is audited.

    Returns:
        The card (phone and name masked), or ``None`` when nothing matches.
    """
    cases = CaseRepository(session)
    merchants = MerchantRepository(session)
    case: Case | None = None
    merchant: Merchant | None = None
    if ids.get("case_id"):
        case = cases.get(ids["case_id"])
        merchant = merchants.get(case.merchant_id) if case else None
    if merchant is None and ids.get("terminal_id"):
        terminal = merchants.get_terminal(ids["terminal_id"])
        if terminal is not None:
            merchant = merchants.get(terminal.merchant_id)
            case = cases.latest_for_terminal(terminal.terminal_id)
    if merchant is None and ids.get("merchant_id"):
        merchant = merchants.get(ids["merchant_id"])
        if merchant is not None:
            found = cases.for_merchant(merchant.merchant_id)
            case = found[0] if found else None
    if merchant is None:
        return None
    CaseAccessAuditRepository(session).record(
        agent_id=agent_id,
        call_id=call_id,
        merchant_id=merchant.merchant_id,
        case_id=case.case_id if case else None,
        now=now,
    )
    return {
        "merchant_id": merchant.merchant_id,
        "merchant_name": mask_name(merchant.name),
        "registered_phone": mask_phone(merchant.registered_phone),
        "terminals": [
            {
                "terminal_id": t.terminal_id,
                "pos_type": t.pos_type,
                "suspension_reason": t.suspension_reason,
                "suspended_at": t.suspended_at.isoformat() if t.suspended_at else None,
            }
            for t in merchants.terminals_of(merchant.merchant_id)
        ],
        "case": _case_dict(CaseView.of(case, calendar, today)) if case else None,
        # Documents the merchant sent for the case (agents download them from the desk).
        "documents": [document_dict(d) for d in DocumentRepository(session).for_case(case.case_id)]
        if case
        else [],
    }


class CaseCardService(CalendarService):
    """The copilot's case cards (async, one transaction per card with its audit row)."""

    async def card(
        self, *, ids: dict[str, str], agent_id: str, call_id: str, now: datetime
    ) -> dict[str, Any] | None:
        """See :func:`case_card` (evaluated on ``now``'s day)."""
        return await self.transaction(
            lambda session: case_card(
                session,
                ids=ids,
                agent_id=agent_id,
                call_id=call_id,
                calendar=self.calendar,
                today=now.date(),
                now=now,
            )
        )
