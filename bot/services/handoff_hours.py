"""The clock around handoffs: queue position and expected wait, agents' answers, hand-back
and idle tickets, and the messages and call-backs merchants leave outside the agents' hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session

from bot.domain_values import mask_phone
from bot.redaction import mask_pii
from bot.services.base import StoreService
from bot.services.handoffs import HANDOFF, close_handoffs, open_handoff
from bot.store.handoff_hours import HandoffHoursRepository, QueueStatus
from bot.store.models import AfterHoursRequest
from bot.store.repositories import TicketRepository

AFTER_HOURS: Final = "after_hours"
MESSAGE: Final = "message"
CALLBACK: Final = "callback"
REQUEST_KINDS: Final = (MESSAGE, CALLBACK)
#: Open after-hours requests one conversation may have; more are refused.
MAX_OPEN_REQUESTS: Final = 3
MAX_MESSAGE_CHARS: Final = 500

__all__ = ["AFTER_HOURS", "CALLBACK", "MESSAGE", "HandoffHoursService", "QueueStatus", "TooMany"]


class TooMany(Exception):
    """The conversation already has the maximum of open after-hours requests."""


@dataclass(frozen=True)
class QueuedHandoff:
    """A handoff ticket just opened and its place in the queue."""

    ticket_id: str
    queue: QueueStatus


def open_queued_handoff(
    session: Session,
    *,
    sender_id: str,
    summary: str,
    now: datetime,
    merchant_id: str | None,
    default_minutes: float,
) -> QueuedHandoff:
    """Opens a handoff ticket and tells where it stands in the agents' queue."""
    ticket_id = open_handoff(
        session, sender_id=sender_id, summary=summary, now=now, merchant_id=merchant_id
    )
    repository = HandoffHoursRepository(session)
    ticket = repository.ticket(ticket_id)
    return QueuedHandoff(ticket_id, repository.queue_status(ticket, now, default_minutes))


def note_agent_reply(session: Session, *, sender_id: str, now: datetime) -> None:
    """Records an agent's answer on the conversation's open handoff tickets."""
    repository = HandoffHoursRepository(session)
    repository.note_agent_reply(repository.open_tickets(sender_id, HANDOFF), now)


def close_handed_back(
    session: Session, *, sender_id: str, agent_id: str, now: datetime
) -> list[str]:
    """Closes the conversation's handoff tickets an agent handed back, with their close time."""
    closed = close_handoffs(session, sender_id=sender_id, agent_id=agent_id, now=now)
    HandoffHoursRepository(session).note_closed(closed, agent_id, now)
    return closed


def close_if_idle(
    session: Session, *, sender_id: str, now: datetime, idle_minutes: float
) -> list[str]:
    """Closes the conversation's handoff tickets when no agent answered for ``idle_minutes``."""
    if idle_minutes <= 0:
        return []
    return HandoffHoursRepository(session).close_idle(
        sender_id, HANDOFF, now, timedelta(minutes=idle_minutes)
    )


def record_after_hours(
    session: Session,
    *,
    kind: str,
    sender_id: str,
    summary: str,
    now: datetime,
    merchant_id: str | None = None,
    callback_at: datetime | None = None,
    phone: str | None = None,
    message: str = "",
) -> str:
    """Opens an after-hours ticket with the merchant's message or call-back; returns its id.

    Raises:
        ValueError: an unknown kind, or a call-back without a time or phone.
        TooMany: the conversation already has ``MAX_OPEN_REQUESTS`` open requests.
    """
    if kind not in REQUEST_KINDS or (kind == CALLBACK and (callback_at is None or not phone)):
        raise ValueError("an after-hours request is a message, or a call-back with time and phone")
    repository = HandoffHoursRepository(session)
    if len(repository.open_tickets(sender_id, AFTER_HOURS)) >= MAX_OPEN_REQUESTS:
        raise TooMany(sender_id)
    ticket = TicketRepository(session).create(
        kind=AFTER_HOURS, sender_id=sender_id, summary=summary, now=now, merchant_id=merchant_id
    )
    repository.add_request(
        AfterHoursRequest(
            ticket_id=ticket.ticket_id,
            kind=kind,
            sender_id=sender_id,
            merchant_id=merchant_id,
            callback_at=callback_at,
            phone=phone,
            message=mask_pii(message)[:MAX_MESSAGE_CHARS],
            created_at=now,
        )
    )
    return ticket.ticket_id


def after_hours_requests(session: Session) -> list[dict[str, Any]]:
    """The open after-hours requests for agents: call-backs by time, then messages.

    The phone to call is shown in full (agents dial it); messages and summaries are masked.
    """
    return [
        {
            "ticket_id": ticket.ticket_id,
            "kind": request.kind,
            "sender_id": ticket.sender_id,
            "merchant_id": request.merchant_id,
            "callback_at": request.callback_at.isoformat() if request.callback_at else None,
            "phone": request.phone,
            "phone_masked": mask_phone(request.phone) if request.phone else None,
            "message": mask_pii(request.message),
            "created_at": request.created_at.isoformat(),
            "summary": mask_pii(ticket.summary),
        }
        for request, ticket in HandoffHoursRepository(session).open_requests()
    ]


class HandoffHoursService(StoreService):
    """Handoffs with the clock (async, one transaction per call)."""

    async def open_queued(
        self,
        *,
        sender_id: str,
        summary: str,
        now: datetime,
        merchant_id: str | None,
        default_minutes: float,
    ) -> QueuedHandoff:
        """See :func:`open_queued_handoff`."""
        return await self.transaction(
            lambda session: open_queued_handoff(
                session,
                sender_id=sender_id,
                summary=summary,
                now=now,
                merchant_id=merchant_id,
                default_minutes=default_minutes,
            )
        )

    async def note_agent_reply(self, *, sender_id: str, now: datetime) -> None:
        """See :func:`note_agent_reply`."""
        await self.transaction(
            lambda session: note_agent_reply(session, sender_id=sender_id, now=now)
        )

    async def close_handed_back(self, *, sender_id: str, agent_id: str, now: datetime) -> list[str]:
        """See :func:`close_handed_back`."""
        return await self.transaction(
            lambda session: close_handed_back(
                session, sender_id=sender_id, agent_id=agent_id, now=now
            )
        )

    async def close_if_idle(
        self, *, sender_id: str, now: datetime, idle_minutes: float
    ) -> list[str]:
        """See :func:`close_if_idle`."""
        return await self.transaction(
            lambda session: close_if_idle(
                session, sender_id=sender_id, now=now, idle_minutes=idle_minutes
            )
        )

    async def registered_phone(self, merchant_id: str) -> str | None:
        """The verified merchant's registered phone (``None`` for an unknown merchant)."""
        return await self.transaction(
            lambda session: HandoffHoursRepository(session).registered_phone(merchant_id)
        )

    async def record(self, **request: Any) -> str:
        """See :func:`record_after_hours`."""
        return await self.transaction(lambda session: record_after_hours(session, **request))

    async def requests(self) -> list[dict[str, Any]]:
        """See :func:`after_hours_requests`."""
        return await self.transaction(after_hours_requests)

    async def complete_request(self, *, ticket_id: str, agent_id: str, now: datetime) -> str:
        """Marks an after-hours request done (its ticket closed, by the agent): ``COMPLETED``,
        ``ALREADY_CLOSED`` or ``NO_SUCH_TICKET`` (:mod:`bot.store.handoff_hours`). The
        conversation may then leave a new request (at most ``MAX_OPEN_REQUESTS`` open)."""
        return await self.transaction(
            lambda session: HandoffHoursRepository(session).complete(
                ticket_id, AFTER_HOURS, agent_id, now
            )
        )
