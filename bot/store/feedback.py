"""Answer feedback, satisfaction ratings, and the intent transitions in the tracker store.

:class:`FeedbackRepository` takes a caller-owned ``Session`` of the case store;
:func:`intent_sequences` reads Rasa's ``events`` table (the tracker store, its own database)
for the related questions of :mod:`bot.services.feedback`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import case, create_engine, func, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session

from bot.store.models import AnswerFeedback, SatisfactionRating
from bot.store.tracker_queries import placeholder

# The user messages of a window, conversation by conversation, in the order they were said.
_USER_INTENTS: Final = (
    "SELECT sender_id, intent_name FROM events WHERE type_name = 'user' AND timestamp >= {p} "
    "AND intent_name IS NOT NULL ORDER BY sender_id, id LIMIT {p}"
)


@dataclass(frozen=True)
class UnhelpfulAnswer:
    """An answer merchants marked as not helpful, with how often and a few of their messages."""

    intent: str
    response: str
    not_helpful: int
    helpful: int
    examples: tuple[str, ...]


class FeedbackRepository:
    """Rows of ``answer_feedback`` and ``satisfaction_ratings`` (values stored as given)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_feedback(
        self,
        *,
        intent: str,
        response: str,
        verdict: str,
        masked_text: str,
        sender_hash: str,
        now: datetime,
    ) -> None:
        """Stores one verdict."""
        self.session.add(
            AnswerFeedback(
                intent=intent,
                response=response,
                verdict=verdict,
                masked_text=masked_text,
                sender_hash=sender_hash,
                created_at=now,
            )
        )

    def add_rating(self, *, sender_hash: str, agent_id: str, score: int, now: datetime) -> None:
        """Stores one satisfaction rating."""
        self.session.add(
            SatisfactionRating(
                sender_hash=sender_hash, agent_id=agent_id, score=score, created_at=now
            )
        )

    def feedback(self) -> list[AnswerFeedback]:
        """Every verdict, oldest first."""
        return list(self.session.scalars(select(AnswerFeedback).order_by(AnswerFeedback.id)))

    def ratings(self) -> list[SatisfactionRating]:
        """Every rating, oldest first."""
        return list(
            self.session.scalars(select(SatisfactionRating).order_by(SatisfactionRating.id))
        )

    def unhelpful_answers(
        self,
        *,
        since: datetime | None = None,
        limit: int = 10,
        examples: int = 5,
        not_helpful: str,
        helpful: str,
    ) -> list[UnhelpfulAnswer]:
        """The answers most often marked ``not_helpful`` (most first), with their counts and the
        newest distinct masked messages."""
        bad = func.sum(case((AnswerFeedback.verdict == not_helpful, 1), else_=0))
        good = func.sum(case((AnswerFeedback.verdict == helpful, 1), else_=0))
        counted = (
            select(AnswerFeedback.intent, AnswerFeedback.response, bad, good)
            .group_by(AnswerFeedback.intent, AnswerFeedback.response)
            .having(bad > 0)
            .order_by(bad.desc(), AnswerFeedback.intent, AnswerFeedback.response)
            .limit(limit)
        )
        if since is not None:
            counted = counted.where(AnswerFeedback.created_at >= since)
        result = []
        for intent, response, bad_count, good_count in self.session.execute(counted):
            query = (
                select(AnswerFeedback.masked_text)
                .where(
                    AnswerFeedback.intent == intent,
                    AnswerFeedback.response == response,
                    AnswerFeedback.verdict == not_helpful,
                )
                .order_by(AnswerFeedback.id.desc())
            )
            if since is not None:
                query = query.where(AnswerFeedback.created_at >= since)
            texts = list(dict.fromkeys(t for t in self.session.scalars(query) if t))
            result.append(
                UnhelpfulAnswer(
                    intent, response, int(bad_count), int(good_count or 0), tuple(texts[:examples])
                )
            )
        return result


def intent_sequences(
    connection: Connection, since_timestamp: float, max_rows: int
) -> Iterator[list[str]]:
    """The intents of each conversation's user messages since ``since_timestamp`` (Unix time),
    in order; at most ``max_rows`` messages are read."""
    p = placeholder(connection)
    rows = connection.exec_driver_sql(_USER_INTENTS.replace("{p}", p), (since_timestamp, max_rows))
    current: str | None = None
    intents: list[str] = []
    for sender_id, intent in rows:
        if sender_id != current:
            if intents:
                yield intents
            current, intents = sender_id, []
        intents.append(intent)
    if intents:
        yield intents


class TrackerIntents:
    """Reads the user intents of the tracker store (``url``: its SQLAlchemy URL), with its own
    small engine created on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    def sequences(self, since_timestamp: float, max_rows: int) -> list[list[str]]:
        """See :func:`intent_sequences`.

        Raises:
            SQLAlchemyError: the database failed or holds no ``events`` table yet.
        """
        url = make_url(self.url)
        database = url.database or ""
        is_file = url.get_backend_name() == "sqlite" and database not in ("", ":memory:")
        if is_file and not Path(database).exists():
            return []  # no conversations yet; and reading must not create the file
        if self._engine is None:
            options: dict[str, Any] = {"future": True, "pool_pre_ping": True}
            if self.url.startswith("sqlite"):
                options["connect_args"] = {"check_same_thread": False}
            else:
                options.update(pool_size=1, max_overflow=1)
            self._engine = create_engine(self.url, **options)
        with self._engine.connect() as connection:
            return list(intent_sequences(connection, since_timestamp, max_rows))
