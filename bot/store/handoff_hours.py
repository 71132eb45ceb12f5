"""Handoff timings (queue position, expected wait, idle tickets) and after-hours requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.models import AfterHoursRequest, HandoffTiming, Merchant, Ticket
from bot.store.repositories import TICKET_CLOSED, TICKET_OPEN, VerificationLockRepository

#: Closed handoffs looked at for the time an agent spends per conversation.
RECENT_DAYS: Final = 7
RECENT_SAMPLES: Final = 20
#: Fewer measured conversations than this: the configured minutes are used instead.
MIN_SAMPLES: Final = 3
IDLE_CLOSER: Final = "idle"
#: What became of an agent's "done" on a ticket (:meth:`HandoffHoursRepository.complete`).
COMPLETED: Final = "completed"
ALREADY_CLOSED: Final = "already_closed"
NO_SUCH_TICKET: Final = "no_such_ticket"
#: Key prefix of the row lock taken while a ticket is closed (``verification_locks``).
TICKET_LOCK_PREFIX: Final = "ticket:"


@dataclass(frozen=True)
class QueueStatus:
    """Where a handoff ticket stands in the agents' queue."""

    ahead: int
    minutes_per_conversation: float
    measured: bool

    @property
    def expected_wait_minutes(self) -> int:
        """Conversations ahead times the minutes per conversation, at least one minute."""
        return max(1, round(self.ahead * self.minutes_per_conversation))


class HandoffHoursRepository:
    """Timings of handoff tickets and the requests left outside the agents' hours."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _timing(self, ticket_id: str) -> HandoffTiming:
        timing = self.session.get(HandoffTiming, ticket_id)
        if timing is None:
            timing = HandoffTiming(ticket_id=ticket_id)
            self.session.add(timing)
        return timing

    def ticket(self, ticket_id: str) -> Ticket:
        """The ticket with this id (it must exist)."""
        ticket = self.session.get(Ticket, ticket_id)
        if ticket is None:
            raise LookupError(ticket_id)
        return ticket

    def waiting_ahead(self, ticket: Ticket) -> int:
        """Open tickets of the same kind opened before ``ticket`` and not yet answered."""
        query = (
            select(func.count())
            .select_from(Ticket)
            .outerjoin(HandoffTiming, HandoffTiming.ticket_id == Ticket.ticket_id)
            .where(
                Ticket.kind == ticket.kind,
                Ticket.status == TICKET_OPEN,
                Ticket.ticket_id != ticket.ticket_id,
                Ticket.ticket_id < ticket.ticket_id,
                HandoffTiming.picked_up_at.is_(None),
            )
        )
        return int(self.session.execute(query).scalar_one())

    def recent_handling_minutes(self, now: datetime) -> list[float]:
        """Minutes from pick-up to close of the newest handoffs closed in the last 7 days."""
        query = (
            select(HandoffTiming.picked_up_at, HandoffTiming.closed_at)
            .where(
                HandoffTiming.closed_at >= now - timedelta(days=RECENT_DAYS),
                HandoffTiming.picked_up_at.is_not(None),
                HandoffTiming.closed_by != IDLE_CLOSER,
            )
            .order_by(HandoffTiming.closed_at.desc())
            .limit(RECENT_SAMPLES)
        )
        return [
            max(0.0, (closed - picked).total_seconds() / 60)
            for picked, closed in self.session.execute(query).all()
        ]

    def queue_status(self, ticket: Ticket, now: datetime, default_minutes: float) -> QueueStatus:
        """The ticket's place in the queue and the minutes an agent needs per conversation."""
        samples = self.recent_handling_minutes(now)
        measured = len(samples) >= MIN_SAMPLES
        minutes = median(samples) if measured else default_minutes
        return QueueStatus(self.waiting_ahead(ticket), minutes, measured)

    def note_agent_reply(self, tickets: Sequence[Ticket], now: datetime) -> None:
        """Marks an agent's answer on the open tickets (the first one is the pick-up)."""
        for ticket in tickets:
            timing = self._timing(ticket.ticket_id)
            if timing.picked_up_at is None:
                timing.picked_up_at = now
            timing.last_agent_reply_at = now
        self.session.flush()

    def note_closed(self, ticket_ids: Sequence[str], closed_by: str, now: datetime) -> None:
        """Marks the tickets closed by an agent (their id) or by the idle rule."""
        for ticket_id in ticket_ids:
            timing = self._timing(ticket_id)
            timing.closed_at, timing.closed_by = now, closed_by
        self.session.flush()

    def complete(self, ticket_id: str, kind: str, closed_by: str, now: datetime) -> str:
        """Closes the open ticket ``ticket_id`` of ``kind`` for the agent ``closed_by`` (under
        the ticket's row lock, so that two agents' clicks close it once); returns
        :data:`COMPLETED`, :data:`ALREADY_CLOSED` or :data:`NO_SUCH_TICKET` (another kind
        counts as none)."""
        VerificationLockRepository(self.session).lock([f"{TICKET_LOCK_PREFIX}{ticket_id}"], now=now)
        ticket = self.session.get(Ticket, ticket_id)
        if ticket is None or ticket.kind != kind:
            return NO_SUCH_TICKET
        if ticket.status != TICKET_OPEN:
            return ALREADY_CLOSED
        ticket.status = TICKET_CLOSED
        ticket.summary += f"\n[done: {closed_by}, {now:%Y-%m-%d %H:%M}]"
        self.note_closed([ticket_id], closed_by, now)
        return COMPLETED

    def open_tickets(self, sender_id: str, kind: str) -> Sequence[Ticket]:
        """The conversation's open tickets of this kind."""
        query = select(Ticket).where(
            Ticket.sender_id == sender_id, Ticket.kind == kind, Ticket.status == TICKET_OPEN
        )
        return self.session.execute(query).scalars().all()

    def idle_since(self, ticket: Ticket) -> datetime:
        """When the ticket last saw an agent's answer, or its creation."""
        timing = self.session.get(HandoffTiming, ticket.ticket_id)
        if timing is not None and timing.last_agent_reply_at is not None:
            return max(ticket.created_at, timing.last_agent_reply_at)
        return ticket.created_at

    def close_idle(self, sender_id: str, kind: str, now: datetime, idle: timedelta) -> list[str]:
        """Closes the conversation's open tickets when none had an agent answer for ``idle``.

        Returns the closed ids (none when one of the tickets is still fresh).
        """
        tickets = self.open_tickets(sender_id, kind)
        if not tickets or any(now - self.idle_since(ticket) < idle for ticket in tickets):
            return []
        minutes = idle.total_seconds() / 60
        note = f"\n[closed: no agent answer for {minutes:g} min, {now:%Y-%m-%d %H:%M}]"
        for ticket in tickets:
            ticket.status = TICKET_CLOSED
            ticket.summary += note
        closed = [ticket.ticket_id for ticket in tickets]
        self.note_closed(closed, IDLE_CLOSER, now)
        return closed

    def registered_phone(self, merchant_id: str) -> str | None:
        """The merchant's registered phone, or ``None`` for an unknown merchant."""
        merchant = self.session.get(Merchant, merchant_id)
        return merchant.registered_phone if merchant is not None else None

    def add_request(self, request: AfterHoursRequest) -> None:
        """Stores an after-hours request."""
        self.session.add(request)
        self.session.flush()

    def open_requests(self) -> Sequence[tuple[AfterHoursRequest, Ticket]]:
        """The open after-hours requests with their tickets: call-backs by slot, then messages."""
        query = (
            select(AfterHoursRequest, Ticket)
            .join(Ticket, Ticket.ticket_id == AfterHoursRequest.ticket_id)
            .where(Ticket.status == TICKET_OPEN)
            .order_by(
                AfterHoursRequest.callback_at.is_(None),
                AfterHoursRequest.callback_at,
                AfterHoursRequest.created_at,
            )
        )
        return [(row[0], row[1]) for row in self.session.execute(query).all()]
