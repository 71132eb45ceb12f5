"""Messages the bot did not understand, kept (masked) for the content team's `posbot review`."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from bot.redaction import mask_pii
from bot.services.base import StoreService
from bot.store.repositories import NluMissRepository

MAX_MISS_CHARS: Final = 500


def record_miss(
    session: Session,
    *,
    sender_id: str,
    text: str,
    guess: str | None,
    confidence: float | None,
    now: datetime,
) -> None:
    """Stores one missed message, personal data masked and cut to ``MAX_MISS_CHARS``."""
    NluMissRepository(session).add(
        sender_id=sender_id,
        text=mask_pii(text)[:MAX_MISS_CHARS],
        guess=guess,
        confidence=confidence,
        now=now,
    )


class MissService(StoreService):
    """Records missed messages (async, one transaction per message)."""

    async def record(
        self,
        *,
        sender_id: str,
        text: str,
        guess: str | None,
        confidence: float | None,
        now: datetime,
    ) -> None:
        """See :func:`record_miss`."""
        await self.transaction(
            lambda session: record_miss(
                session,
                sender_id=sender_id,
                text=text,
                guess=guess,
                confidence=confidence,
                now=now,
            )
        )
