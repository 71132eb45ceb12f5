"""The SQL of the operators' console: aggregates over the tracker's ``events`` table and the
case store, each one statement over indexed columns (never the events loaded into Python).

Days are China days (Asia/Shanghai, UTC+8, no daylight saving): an event's ``timestamp`` is
Unix seconds, its day number is ``floor((timestamp + 8 h) / 1 day)``; the case store's
datetimes are naive China time already.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.store.models import (
    AnswerFeedback,
    Case,
    NluMiss,
    Notification,
    SatisfactionRating,
    Ticket,
)

CHINA_OFFSET_SECONDS: Final = 8 * 3600
DAY_SECONDS: Final = 86400
EPOCH_DAY: Final = date(1970, 1, 1)
USER: Final = "user"
FALLBACK_INTENT: Final = "nlu_fallback"
ERROR_CODE_INTENT: Final = "report_error_code"
RESPONSE_CODE_ENTITY: Final = "response_code"
HANDOFF: Final = "handoff"
BOT_SOURCE: Final = "bot"
#: The index every console query on ``events`` reads (covering: no table rows are read for
#: the counts). Rasa's table has only ``sender_id`` indexed.
EVENTS_INDEX: Final = (
    "CREATE INDEX IF NOT EXISTS ix_events_type_time "
    "ON events (type_name, timestamp, intent_name, sender_id)"
)
#: The handoff reasons: the ticket summary's header says ``转人工原因：…`` unless the merchant
#: asked (see actions/handoff.py); the patterns match the reasons the actions write.
REASON_PATTERNS: Final = (
    ("failed_verification", "%转人工原因：身份验证失败%"),
    ("two_misses", "%转人工原因：连续两次未能理解%"),
)
ASKED: Final = "asked"
OTHER_REASON: Final = "other"
_REASON_MARK: Final = "%转人工原因：%"


def day_of_number(number: int) -> date:
    """The date of a China day number (days since 1970-01-01)."""
    return EPOCH_DAY + timedelta(days=int(number))


def epoch_of(day: date) -> float:
    """Unix seconds of China midnight at the start of ``day``."""
    return float((day - EPOCH_DAY).days * DAY_SECONDS - CHINA_OFFSET_SECONDS)


def _day_number_sql(connection: Connection) -> str:
    shifted = f"(timestamp + {CHINA_OFFSET_SECONDS}) / {DAY_SECONDS}"
    if connection.dialect.name == "sqlite":
        # Positive values: CAST truncates, which is the floor.
        return f"CAST({shifted} AS INTEGER)"
    return f"CAST(FLOOR({shifted}) AS INTEGER)"


def ensure_event_indexes(connection: Connection) -> None:
    """Creates the console's index on ``events`` when it is missing (idempotent).

    On PostgreSQL (an autocommit connection, as the tracker store's) the index is built
    ``CONCURRENTLY``, so the bot's turns are not blocked meanwhile, and without the statement
    timeout of the tracker store's connections.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET statement_timeout = 0")
        try:
            connection.exec_driver_sql(EVENTS_INDEX.replace("INDEX IF", "INDEX CONCURRENTLY IF"))
        finally:
            connection.exec_driver_sql("RESET statement_timeout")
    else:
        connection.execute(sa.text(EVENTS_INDEX))
    if connection.in_transaction():
        connection.commit()


def _window(since: date, until: date) -> dict[str, float]:
    return {"start": epoch_of(since), "end": epoch_of(until + timedelta(days=1))}


def daily_messages(
    connection: Connection, since: date, until: date
) -> list[tuple[date, int, int, int]]:
    """Per China day from ``since`` to ``until`` (inclusive) with messages: (day, user
    messages, conversations with a message that day, messages the NLU fell back on)."""
    day = _day_number_sql(connection)
    sql = (
        f"SELECT {day} AS d, COUNT(*), COUNT(DISTINCT sender_id), "
        "SUM(CASE WHEN intent_name = :fallback THEN 1 ELSE 0 END) "
        "FROM events WHERE type_name = :user AND timestamp >= :start AND timestamp < :end "
        "GROUP BY d ORDER BY d"
    )
    rows = connection.execute(
        sa.text(sql), {"fallback": FALLBACK_INTENT, "user": USER, **_window(since, until)}
    )
    return [(day_of_number(d), int(m), int(c), int(f or 0)) for d, m, c, f in rows]


def range_totals(connection: Connection, since: date, until: date) -> tuple[int, int, int]:
    """(user messages, distinct conversations, fallback messages) over the whole range."""
    sql = (
        "SELECT COUNT(*), COUNT(DISTINCT sender_id), "
        "SUM(CASE WHEN intent_name = :fallback THEN 1 ELSE 0 END) "
        "FROM events WHERE type_name = :user AND timestamp >= :start AND timestamp < :end"
    )
    row = connection.execute(
        sa.text(sql), {"fallback": FALLBACK_INTENT, "user": USER, **_window(since, until)}
    ).one()
    return int(row[0]), int(row[1]), int(row[2] or 0)


def top_intents(
    connection: Connection, since: date, until: date, limit: int
) -> list[tuple[str, int]]:
    """The most frequent intents of user messages, most frequent first (ties by name)."""
    sql = (
        "SELECT COALESCE(intent_name, ''), COUNT(*) AS n FROM events "
        "WHERE type_name = :user AND timestamp >= :start AND timestamp < :end "
        "GROUP BY intent_name ORDER BY n DESC, 1 LIMIT :limit"
    )
    rows = connection.execute(sa.text(sql), {"user": USER, "limit": limit, **_window(since, until)})
    return [(str(name), int(count)) for name, count in rows]


def response_codes(
    connection: Connection, since: date, until: date, limit: int
) -> list[tuple[str, int]]:
    """Response codes (entity ``response_code``) in messages classified ``report_error_code``:
    code and number of messages, most frequent first. Only those messages' rows are read."""
    if connection.dialect.name == "sqlite":
        source = (
            "SELECT json_extract(e.value, '$.value') AS code FROM events, "
            "json_each(json_extract(events.data, '$.parse_data.entities')) AS e "
            "WHERE events.type_name = :user AND events.intent_name = :intent "
            "AND events.timestamp >= :start AND events.timestamp < :end "
            "AND json_extract(e.value, '$.entity') = :entity"
        )
    else:
        source = (
            "SELECT e.value ->> 'value' AS code FROM events, "
            "json_array_elements(CAST(events.data AS json) -> 'parse_data' -> 'entities') AS e "
            "WHERE events.type_name = :user AND events.intent_name = :intent "
            "AND events.timestamp >= :start AND events.timestamp < :end "
            "AND e.value ->> 'entity' = :entity"
        )
    sql = (
        f"SELECT UPPER(CAST(code AS TEXT)) AS c, COUNT(*) AS n FROM ({source}) AS codes "
        "WHERE code IS NOT NULL GROUP BY c ORDER BY n DESC, c LIMIT :limit"
    )
    params = {
        "user": USER,
        "intent": ERROR_CODE_INTENT,
        "entity": RESPONSE_CODE_ENTITY,
        "limit": limit,
        **_window(since, until),
    }
    return [(str(code), int(count)) for code, count in connection.execute(sa.text(sql), params)]


def _naive_window(since: date, until: date) -> tuple[datetime, datetime]:
    return datetime.combine(since, datetime.min.time()), datetime.combine(
        until + timedelta(days=1), datetime.min.time()
    )


def _day_of(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return sa.func.date(column)
    return sa.cast(column, sa.Date)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def handoff_reason_expression() -> Any:
    """SQL ``CASE`` naming a handoff ticket's reason from its summary."""
    whens = [(Ticket.summary.like(pattern), name) for name, pattern in REASON_PATTERNS]
    whens.append((Ticket.summary.like(_REASON_MARK), OTHER_REASON))
    return sa.case(*whens, else_=ASKED)


def handoffs_by_day(session: Session, since: date, until: date) -> list[tuple[date, str, int, int]]:
    """Per China day and reason: (day, reason, tickets, distinct conversations)."""
    start, end = _naive_window(since, until)
    day = _day_of(session, Ticket.created_at).label("day")
    reason = handoff_reason_expression().label("reason")
    query = (
        sa.select(day, reason, sa.func.count(), sa.func.count(sa.distinct(Ticket.sender_id)))
        .where(Ticket.kind == HANDOFF, Ticket.created_at >= start, Ticket.created_at < end)
        .group_by(day, reason)
        .order_by(day, reason)
    )
    return [(_as_date(d), str(r), int(t), int(c)) for d, r, t, c in session.execute(query)]


def handoff_totals(session: Session, since: date, until: date) -> tuple[int, int]:
    """(handoff tickets, distinct conversations handed off) over the range."""
    start, end = _naive_window(since, until)
    query = sa.select(sa.func.count(), sa.func.count(sa.distinct(Ticket.sender_id))).where(
        Ticket.kind == HANDOFF, Ticket.created_at >= start, Ticket.created_at < end
    )
    tickets, conversations = session.execute(query).one()
    return int(tickets), int(conversations)


def bot_applications(session: Session, since: date, until: date) -> list[tuple[date, str, int]]:
    """Applications filed through the bot per China day of filing and current status."""
    start, end = _naive_window(since, until)
    day = _day_of(session, Case.submitted_at).label("day")
    query = (
        sa.select(day, Case.status, sa.func.count())
        .where(Case.source == BOT_SOURCE, Case.submitted_at >= start, Case.submitted_at < end)
        .group_by(day, Case.status)
        .order_by(day, Case.status)
    )
    return [(_as_date(d), str(s), int(n)) for d, s, n in session.execute(query)]


def recent_misses(session: Session, since: date, until: date, limit: int) -> Sequence[NluMiss]:
    """The latest ``limit`` missed messages recorded in the range, oldest first."""
    start, end = _naive_window(since, until)
    query = (
        sa.select(NluMiss)
        .where(NluMiss.recorded_at >= start, NluMiss.recorded_at < end)
        .order_by(NluMiss.id.desc())
        .limit(limit)
    )
    return list(reversed(list(session.execute(query).scalars())))


def count_misses(session: Session, since: date, until: date) -> int:
    """How many missed messages were recorded in the range."""
    start, end = _naive_window(since, until)
    query = sa.select(sa.func.count()).where(
        NluMiss.recorded_at >= start, NluMiss.recorded_at < end
    )
    return int(session.execute(query).scalar_one())


def notifications_by_day(session: Session, since: date, until: date) -> list[tuple[date, str, int]]:
    """Status notifications per China day they were planned and their current status."""
    start, end = _naive_window(since, until)
    day = _day_of(session, Notification.created_at).label("day")
    query = (
        sa.select(day, Notification.status, sa.func.count())
        .where(Notification.created_at >= start, Notification.created_at < end)
        .group_by(day, Notification.status)
        .order_by(day, Notification.status)
    )
    return [(_as_date(d), str(s), int(n)) for d, s, n in session.execute(query)]


def feedback_by_answer(
    session: Session, since: date, until: date, limit: int
) -> list[tuple[str, str, int, int]]:
    """(intent, response, helpful, not helpful) per answer, most "not helpful" first."""
    start, end = _naive_window(since, until)
    helpful = sa.func.sum(sa.case((AnswerFeedback.verdict == "helpful", 1), else_=0))
    unhelpful = sa.func.sum(sa.case((AnswerFeedback.verdict == "not_helpful", 1), else_=0))
    query = (
        sa.select(AnswerFeedback.intent, AnswerFeedback.response, helpful, unhelpful)
        .where(AnswerFeedback.created_at >= start, AnswerFeedback.created_at < end)
        .group_by(AnswerFeedback.intent, AnswerFeedback.response)
        .order_by(unhelpful.desc(), helpful.desc(), AnswerFeedback.intent, AnswerFeedback.response)
        .limit(limit)
    )
    return [(str(i), str(r), int(h or 0), int(u or 0)) for i, r, h, u in session.execute(query)]


def ratings_by_day(session: Session, since: date, until: date) -> list[tuple[date, int, int]]:
    """Per China day: (day, score, ratings with that score)."""
    start, end = _naive_window(since, until)
    day = _day_of(session, SatisfactionRating.created_at).label("day")
    query = (
        sa.select(day, SatisfactionRating.score, sa.func.count())
        .where(SatisfactionRating.created_at >= start, SatisfactionRating.created_at < end)
        .group_by(day, SatisfactionRating.score)
        .order_by(day, SatisfactionRating.score)
    )
    return [(_as_date(d), int(score), int(n)) for d, score, n in session.execute(query)]
