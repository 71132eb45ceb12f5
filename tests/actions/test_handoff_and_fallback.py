"""Handoff tickets and the clarification fallback."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.documents import ActionRequiredDocuments
from actions.fallback import ActionClarify
from actions.handoff import ActionHandoff
from bot.store.models import Ticket
from tests.actions.helpers import make_tracker, message, said, user_event, verified_as
from tests.conftest import NOW


async def run(action, tracker, domain):
    dispatcher = CollectingDispatcher()
    return dispatcher, await action.run(dispatcher, tracker, domain)


async def test_handoff_ticket_has_a_masked_summary(seeded_store, calendar, domain):
    action = ActionHandoff(store=seeded_store, calendar=calendar, clock=lambda: NOW)
    tracker = make_tracker(
        "request_human",
        text="转人工",
        slots=verified_as("898310058121234"),
        events=[
            user_event("inform", "我手机13812345678 身份证110101199003071234"),
            user_event("share_secret", "密码是654321"),
        ],
    )
    dispatcher, events = await run(action, tracker, domain)
    assert said(dispatcher) == ["utter_handoff"]
    assert message(dispatcher, "utter_handoff")["ticket_id"] == "TK202611260001"
    assert events == [{"event": "pause", "timestamp": None}]
    with seeded_store.session() as session:
        ticket = session.execute(select(Ticket)).scalar_one()
    assert (ticket.kind, ticket.merchant_id, ticket.sender_id) == (
        "handoff",
        "898310058121234",
        "tester",
    )
    assert ticket.summary.splitlines() == [
        "已验证商户：898310058121234",
        "[inform] 我手机138****5678 身份证110***********1234",
        "[share_secret] 密码是******",
        "[request_human] 转人工",
    ]
    assert "654321" not in ticket.summary and "13812345678" not in ticket.summary


async def test_first_miss_offers_the_two_likeliest_questions(domain):
    ranking = [
        {"name": "nlu_fallback", "confidence": 1.0},
        {"name": "ask_review_time", "confidence": 0.41},
        {"name": "greet", "confidence": 0.3},
        {"name": "check_case_status", "confidence": 0.2},
    ]
    dispatcher, _ = await run(
        ActionClarify(), make_tracker("nlu_fallback", ranking=ranking), domain
    )
    reply = message(dispatcher, "utter_clarify")
    assert (reply["first"], reply["second"]) == ("审核要多久", "查询申请进度")
    assert [b["payload"] for b in reply["buttons"]] == [
        "/ask_review_time",
        "/check_case_status",
        "/deny",
    ]


async def test_second_miss_in_a_row_hands_off(seeded_store, calendar, domain):
    action = ActionClarify(store=seeded_store, calendar=calendar, clock=lambda: NOW)
    tracker = make_tracker("nlu_fallback", events=[user_event("nlu_fallback", "啊啊啊")])
    dispatcher, events = await run(action, tracker, domain)
    assert said(dispatcher) == ["utter_handoff"]
    assert events == [{"event": "pause", "timestamp": None}]


async def test_handoff_with_the_store_down_gives_the_hotline_and_keeps_the_bot(calendar, domain):
    from bot.store.database import CaseStore

    dead = CaseStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    action = ActionHandoff(store=dead, calendar=calendar, clock=lambda: NOW)
    dispatcher, events = await run(action, make_tracker("request_human"), domain)
    assert said(dispatcher) == ["utter_store_unavailable", "utter_contact"]
    assert events == []


async def test_documents_for_the_named_reason(domain):
    entities = [{"entity": "suspension_reason", "value": "license_expired"}]
    dispatcher, _ = await run(
        ActionRequiredDocuments(), make_tracker("ask_required_documents", entities=entities), domain
    )
    assert said(dispatcher) == ["utter_documents_license_expired"]
    dispatcher, _ = await run(
        ActionRequiredDocuments(), make_tracker("ask_required_documents"), domain
    )
    assert said(dispatcher) == ["utter_required_documents"]
