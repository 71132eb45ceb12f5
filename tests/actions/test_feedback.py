"""Verdicts on answers and ratings of human conversations: exact replies and stored rows."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.feedback import ActionAnswerFeedback, ActionRateService, asked_before
from bot.services.feedback import FeedbackService, sender_hash
from bot.store.database import CaseStore
from bot.store.models import AnswerFeedback, SatisfactionRating
from tests.actions.helpers import make_tracker, said, user_event
from tests.conftest import NOW

ANSWER = {
    "event": "bot",
    "text": "审核一般需要3到7个工作日",
    "metadata": {"utter_action": "utter_review_time"},
}
OFFER = {
    "event": "bot",
    "text": "这个回答对您有帮助吗？",
    "data": {"buttons": []},
    "metadata": {"posbot_feedback": {"intent": "ask_review_time", "response": "utter_review_time"}},
}
RATING = {
    "event": "bot",
    "text": "本次人工服务已结束。",
    "metadata": {"utter_action": "utter_rating_ask", "posbot_rating": {"agent_id": "wang"}},
}
QUESTION = user_event("ask_review_time", "我手机13812345678，审核要多久")


def verdict(value: object) -> list[dict]:
    return [{"entity": "verdict", "value": value}]


def score(value: object) -> list[dict]:
    return [{"entity": "score", "value": value}]


async def run(action, tracker, domain):
    dispatcher = CollectingDispatcher()
    return dispatcher, await action.run(dispatcher, tracker, domain)


def feedback_rows(store: CaseStore) -> list[tuple]:
    with store.session() as session:
        rows = session.scalars(select(AnswerFeedback).order_by(AnswerFeedback.id)).all()
        return [
            (r.intent, r.response, r.verdict, r.masked_text, r.sender_hash, r.created_at)
            for r in rows
        ]


def rating_rows(store: CaseStore) -> list[tuple]:
    with store.session() as session:
        rows = session.scalars(select(SatisfactionRating)).all()
        return [(r.sender_hash, r.agent_id, r.score, r.created_at) for r in rows]


def feedback_action(store: CaseStore) -> ActionAnswerFeedback:
    return ActionAnswerFeedback(FeedbackService(store), clock=lambda: NOW)


def rating_action(store: CaseStore) -> ActionRateService:
    return ActionRateService(FeedbackService(store), clock=lambda: NOW)


async def test_helpful_is_stored_masked_and_thanked(store, domain):
    tracker = make_tracker(
        "answer_feedback", entities=verdict("helpful"), events=[QUESTION, ANSWER, OFFER]
    )
    dispatcher, events = await run(feedback_action(store), tracker, domain)
    assert (said(dispatcher), events) == (["utter_feedback_thanks"], [])
    assert feedback_rows(store) == [
        (
            "ask_review_time",
            "utter_review_time",
            "helpful",
            "我手机138****5678，审核要多久",
            sender_hash("tester"),
            NOW,
        )
    ]
    assert sender_hash("tester") != "tester" and len(sender_hash("tester")) == 64


async def test_not_helpful_apologises_and_offers_a_human(store, domain):
    tracker = make_tracker(
        "answer_feedback", entities=verdict("not_helpful"), events=[QUESTION, ANSWER, OFFER]
    )
    dispatcher, events = await run(feedback_action(store), tracker, domain)
    assert (said(dispatcher), events) == (["utter_feedback_sorry"], [])
    buttons = domain["responses"]["utter_feedback_sorry"][0]["buttons"]
    assert {"title": "转人工客服", "payload": "/request_human"} in buttons
    assert [row[2] for row in feedback_rows(store)] == ["not_helpful"]


@pytest.mark.parametrize(
    "value",
    [
        "HELPFUL",
        " helpful",
        "great",
        "",
        None,
        1,
        True,
        ["helpful"],
        {"v": "helpful"},
        "helpful" * 50,
    ],
)
async def test_a_forged_verdict_stores_nothing(store, domain, value):
    tracker = make_tracker(
        "answer_feedback", entities=verdict(value), events=[QUESTION, ANSWER, OFFER]
    )
    dispatcher, events = await run(feedback_action(store), tracker, domain)
    assert (said(dispatcher), events) == (["utter_feedback_invalid"], [])
    assert feedback_rows(store) == []


async def test_a_verdict_without_an_answer_just_before_is_refused(store, domain):
    # The offer was two messages ago: the merchant asked something else in between.
    later = user_event("greet", "你好")
    tracker = make_tracker(
        "answer_feedback", entities=verdict("helpful"), events=[QUESTION, ANSWER, OFFER, later]
    )
    dispatcher, _ = await run(feedback_action(store), tracker, domain)
    assert said(dispatcher) == ["utter_feedback_no_answer"]
    fresh = make_tracker("answer_feedback", entities=verdict("helpful"))
    dispatcher, _ = await run(feedback_action(store), fresh, domain)
    assert said(dispatcher) == ["utter_feedback_no_answer"]
    assert feedback_rows(store) == []


async def test_forged_offer_metadata_stores_nothing(store, domain):
    forged = {
        "event": "bot",
        "metadata": {"posbot_feedback": {"intent": "'; DROP TABLE x; --", "response": ""}},
    }
    tracker = make_tracker(
        "answer_feedback", entities=verdict("helpful"), events=[QUESTION, forged]
    )
    dispatcher, _ = await run(feedback_action(store), tracker, domain)
    assert said(dispatcher) == ["utter_feedback_no_answer"]
    assert feedback_rows(store) == []


async def test_store_down_is_said_and_nothing_half_written(tmp_path, domain):
    broken = CaseStore(f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    tracker = make_tracker(
        "answer_feedback", entities=verdict("helpful"), events=[QUESTION, ANSWER, OFFER]
    )
    dispatcher, events = await run(feedback_action(broken), tracker, domain)
    assert (said(dispatcher), events) == (["utter_store_unavailable"], [])


async def test_a_rating_after_the_hand_back_is_stored(store, domain):
    tracker = make_tracker(
        "rate_service", entities=score(4), events=[user_event("request_human", "转人工"), RATING]
    )
    dispatcher, events = await run(rating_action(store), tracker, domain)
    assert said(dispatcher) == ["utter_rating_thanks"]
    assert dispatcher.messages[0]["score"] == 4 and events == []
    assert rating_rows(store) == [(sender_hash("tester"), "wang", 4, NOW)]


@pytest.mark.parametrize(
    "value", [0, 6, -1, 4.5, "5.0", "五", "", None, True, "99999999999999999999"]
)
async def test_a_rating_outside_one_to_five_is_refused(store, domain, value):
    tracker = make_tracker(
        "rate_service",
        entities=score(value),
        events=[user_event("request_human", "转人工"), RATING],
    )
    dispatcher, _ = await run(rating_action(store), tracker, domain)
    assert said(dispatcher) == ["utter_rating_invalid"]
    assert rating_rows(store) == []


async def test_a_rating_without_a_handoff_is_refused(store, domain):
    tracker = make_tracker("rate_service", entities=score(5), events=[QUESTION, ANSWER])
    dispatcher, _ = await run(rating_action(store), tracker, domain)
    assert said(dispatcher) == ["utter_rating_no_handoff"]
    assert rating_rows(store) == []


def test_asked_before_reads_only_the_previous_bot_turn():
    events = [QUESTION, ANSWER, OFFER, user_event("answer_feedback", "/x")]
    assert asked_before(events, "posbot_feedback") == (
        OFFER["metadata"]["posbot_feedback"],
        QUESTION["text"],
    )
    assert asked_before(events, "posbot_rating") is None
    assert asked_before([*events, user_event("greet")], "posbot_feedback") is None


def test_service_refuses_bad_values_before_the_database(store):
    service = FeedbackService(store)
    for bad in ({"verdict": "meh"}, {"intent": ""}, {"response": "!!!"}):
        values = {
            "sender_id": "s",
            "intent": "ask_fees",
            "response": "utter_fees",
            "verdict": "helpful",
            "text": "t",
            "now": NOW,
            **bad,
        }
        with pytest.raises(ValueError):
            asyncio.run(service.record_verdict(**values))
    with pytest.raises(ValueError):
        asyncio.run(service.record_rating(sender_id="s", agent_id=" ", score=3, now=NOW))
    assert feedback_rows(store) == [] and rating_rows(store) == []
