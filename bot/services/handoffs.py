"""Handoffs to human agents: the ticket a conversation opens, the agents' queue, closing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from bot.redaction import mask_pii
from bot.services.base import StoreService
from bot.store.repositories import TicketRepository

HANDOFF: Final = "handoff"


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


def waiting_conversations(session: Session) -> list[dict[str, Any]]:
    """The open handoff tickets, oldest first, summaries masked (the agents' queue)."""
    return [
        {
            "ticket_id": ticket.ticket_id,
            "sender_id": ticket.sender_id,
            "merchant_id": ticket.merchant_id,
            "created_at": ticket.created_at.isoformat(),
            "summary": mask_pii(ticket.summary),
        }
        for ticket in TicketRepository(session).open_of_kind(HANDOFF)
    ]


def close_handoffs(session: Session, *, sender_id: str, agent_id: str, now: datetime) -> list[str]:
    """Closes the conversation's open handoff tickets, noting who closed them and when."""
    note = f"\n[closed by {agent_id} at {now:%Y-%m-%d %H:%M}]"
    return TicketRepository(session).close_open_for_sender(sender_id, HANDOFF, note)


class HandoffService(StoreService):
    """Handoff tickets (async, one unit of work per call)."""

    async def open(
        self, *, sender_id: str, summary: str, now: datetime, merchant_id: str | None = None
    ) -> str:
        """See :func:`open_handoff`."""
        return await self.transaction(
            lambda session: open_handoff(
                session, sender_id=sender_id, summary=summary, now=now, merchant_id=merchant_id
            )
        )

    async def waiting(self) -> list[dict[str, Any]]:
        """See :func:`waiting_conversations`."""
        return await self.read(waiting_conversations)

    async def close(self, *, sender_id: str, agent_id: str, now: datetime) -> list[str]:
        """See :func:`close_handoffs`."""
        return await self.transaction(
            lambda session: close_handoffs(session, sender_id=sender_id, agent_id=agent_id, now=now)
        )
