"""A tracker ``events`` table and a case store with known conversations for the console.

China days 2026-11-20 .. 2026-11-22 hold (figures in :data:`EXPECTED`):
- 11-20: A (greet at 00:00:00 sharp, ask_review_time, nlu_fallback), B (request_human,
  affirm; handoff asked), C (report_error_code "03", report_error_code "03" + "97");
- 11-21: A (ask_fees), D (nlu_fallback x2, handoff after two misses), E (check_case_status x2,
  handoff after failed verification);
- 11-22: nothing.
Outside: F on 11-19 23:59:59, G on 11-23 00:00:00, an escalation ticket, an imported case.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.store.database import CaseStore
from bot.store.models import (
    AnswerFeedback,
    Case,
    Merchant,
    NluMiss,
    Notification,
    SatisfactionRating,
    Terminal,
    Ticket,
)

CHINA = timezone(timedelta(hours=8))
SINCE = date(2026, 11, 20)
UNTIL = date(2026, 11, 22)


def china_ts(day: int, hour: int = 10, minute: int = 0, second: int = 0, month: int = 11) -> float:
    """Unix seconds of a China time in 2026."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=CHINA).timestamp()


def user_event(sender: str, ts: float, intent: str, codes: tuple[str, ...] = ()) -> dict[str, Any]:
    """An ``events`` row of a user message."""
    entities = [{"entity": "response_code", "value": code, "start": 0, "end": 2} for code in codes]
    data = {
        "event": "user",
        "timestamp": ts,
        "text": "…",
        "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": entities},
    }
    return {
        "sender_id": sender,
        "type_name": "user",
        "timestamp": ts,
        "intent_name": intent,
        "action_name": None,
        "data": json.dumps(data),
    }


def bot_event(sender: str, ts: float) -> dict[str, Any]:
    """An ``events`` row of a bot reply (never counted as a message)."""
    data = {"event": "bot", "timestamp": ts, "text": "您好"}
    return {
        "sender_id": sender,
        "type_name": "bot",
        "timestamp": ts,
        "intent_name": None,
        "action_name": None,
        "data": json.dumps(data),
    }


def create_events_table(engine: Engine) -> None:
    """Rasa's ``events`` table as its SQL tracker store creates it."""
    SQLTrackerStore.SQLEvent.__table__.create(engine, checkfirst=True)


def fill_events(engine: Engine) -> None:
    """The known conversations' events."""
    create_events_table(engine)
    rows = [
        user_event("A", china_ts(20, 0, 0, 0), "greet"),
        bot_event("A", china_ts(20, 0, 0, 1)),
        user_event("A", china_ts(20, 9), "ask_review_time"),
        user_event("A", china_ts(20, 9, 5), "nlu_fallback"),
        user_event("B", china_ts(20, 11), "request_human"),
        user_event("B", china_ts(20, 11, 1), "affirm"),
        user_event("C", china_ts(20, 23, 59, 59), "report_error_code", ("03",)),
        user_event("C", china_ts(20, 23, 59, 59) + 0.5, "report_error_code", ("03", "97")),
        user_event("A", china_ts(21, 8), "ask_fees"),
        user_event("D", china_ts(21, 12), "nlu_fallback"),
        user_event("D", china_ts(21, 12, 1), "nlu_fallback"),
        bot_event("D", china_ts(21, 12, 2)),
        user_event("D", china_ts(21, 12, 3), "request_human"),
        user_event("E", china_ts(21, 15), "check_case_status"),
        user_event("E", china_ts(21, 15, 1), "check_case_status"),
        user_event("F", china_ts(19, 23, 59, 59), "greet"),
        user_event("G", china_ts(23, 0, 0, 0), "greet"),
    ]
    with engine.begin() as connection:
        connection.execute(SQLTrackerStore.SQLEvent.__table__.insert(), rows)


def _ticket(number: int, kind: str, sender: str, at: datetime, reason: str = "") -> Ticket:
    header = "身份未验证" + (f"；转人工原因：{reason}" if reason else "")
    return Ticket(
        ticket_id=f"TK{number:012d}",
        kind=kind,
        sender_id=sender,
        summary=f"{header}\n[request_human] 转人工",
        status="open",
        created_at=at,
    )


def fill_cases(store: CaseStore) -> None:
    """Handoff tickets, bot-filed applications and missed messages of the known days."""
    with store.session() as session:
        session.add(
            Merchant(merchant_id="898310058121234", name="测试商户", registered_phone="13812345678")
        )
        for number in range(1, 5):
            session.add(Terminal(terminal_id=f"6001345{number}", merchant_id="898310058121234"))
        session.flush()
        cases = [
            ("JC202611200001", "60013451", "approved", datetime(2026, 11, 20, 9), "bot"),
            ("JC202611200002", "60013452", "under_review", datetime(2026, 11, 20, 18), "bot"),
            ("JC202611210001", "60013453", "rejected", datetime(2026, 11, 21, 10), "bot"),
            ("JC202611210002", "60013454", "approved", datetime(2026, 11, 21, 11), "import"),
        ]
        for case_id, terminal, status, submitted, source in cases:
            session.add(
                Case(
                    case_id=case_id,
                    merchant_id="898310058121234",
                    terminal_id=terminal,
                    status=status,
                    submitted_at=submitted,
                    updated_at=submitted,
                    source=source,
                )
            )
        session.add_all(
            [
                _ticket(1, "handoff", "B", datetime(2026, 11, 20, 11, 2)),
                _ticket(2, "handoff", "D", datetime(2026, 11, 21, 12, 4), "连续两次未能理解"),
                _ticket(3, "handoff", "E", datetime(2026, 11, 21, 15, 2), "身份验证失败3次"),
                _ticket(4, "escalation", "E", datetime(2026, 11, 21, 16)),
                _ticket(5, "handoff", "G", datetime(2026, 11, 23, 0, 0)),
            ]
        )
        _add_notifications_feedback_and_ratings(session)
        misses = [
            ("D", "打印机卡纸了", datetime(2026, 11, 21, 12)),
            ("D", "打印机卡纸了", datetime(2026, 11, 21, 12, 1)),
            ("A", "=今天天气怎么样", datetime(2026, 11, 20, 9, 5)),
            ("F", "在不在", datetime(2026, 11, 19, 23, 59)),
        ]
        for sender, text, at in misses:
            session.add(
                NluMiss(
                    sender_id=sender,
                    text=text,
                    guess="report_hardware_fault",
                    confidence=0.2,
                    recorded_at=at,
                )
            )


def _add_notifications_feedback_and_ratings(session: Session) -> None:
    """Notifications of two known days (and one after the range), answer verdicts and
    satisfaction ratings (and one of each outside the range)."""
    notifications = [
        ("widget", "sent", datetime(2026, 11, 20, 10)),
        ("sms", "failed", datetime(2026, 11, 20, 11)),
        ("wechat", "sent", datetime(2026, 11, 21, 9)),
        ("widget", "pending", datetime(2026, 11, 21, 23, 59)),
        ("widget", "sent", datetime(2026, 11, 23, 0, 0)),
    ]
    for number, (channel, status, at) in enumerate(notifications, 1):
        session.add(
            Notification(
                idempotency_key=f"test:{number}",
                case_id="JC202611200001",
                merchant_id="898310058121234",
                channel=channel,
                status=status,
                next_attempt_at=at,
                created_at=at,
                sent_at=at if status == "sent" else None,
            )
        )
    verdicts = [
        ("ask_review_time", "utter_review_time", "helpful", datetime(2026, 11, 20, 10)),
        ("ask_review_time", "utter_review_time", "helpful", datetime(2026, 11, 20, 12)),
        ("ask_review_time", "utter_review_time", "not_helpful", datetime(2026, 11, 21, 9)),
        ("ask_documents", "utter_documents", "not_helpful", datetime(2026, 11, 21, 10)),
        ("ask_documents", "utter_documents", "not_helpful", datetime(2026, 11, 22, 23, 59)),
        ("ask_documents", "utter_documents", "helpful", datetime(2026, 11, 19, 23, 59)),
    ]
    for intent, response, verdict, at in verdicts:
        session.add(
            AnswerFeedback(
                intent=intent,
                response=response,
                verdict=verdict,
                masked_text="审核要多久",
                sender_hash="0" * 64,
                created_at=at,
            )
        )
    ratings = [
        (5, datetime(2026, 11, 20, 10)),
        (4, datetime(2026, 11, 20, 15)),
        (1, datetime(2026, 11, 21, 9)),
        (3, datetime(2026, 11, 23, 0, 0)),
    ]
    for score, at in ratings:
        session.add(
            SatisfactionRating(sender_hash="1" * 64, agent_id="alice", score=score, created_at=at)
        )


def events_engine(url: str) -> Engine:
    """An engine on the events database (a SQLite file in tests)."""
    return sa.create_engine(url, future=True)
