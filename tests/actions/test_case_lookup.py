"""Case-specific answers against a real SQLite store with the demo data."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.case_lookup import (
    ActionCaseFollowup,
    ActionCaseStatus,
    ActionRejectionAdvice,
    ActionSuspendReason,
    ActionUrgeProgress,
)
from bot.store.database import CaseStore
from bot.store.models import CaseEvent, Ticket
from tests.actions.helpers import make_tracker, message, said, slot_events, user_event, verified_as
from tests.conftest import NOW

ZHANG = "898310058121234"  # under review, on time
LI = "898310058125555"  # under review, overdue
WANG = "898310058126666"  # rejected
ZHAO = "898310058127777"  # needs documents
SUN = "898310058128888"  # approved
ZHOU = "898310058129999"  # two terminals
WU = "898310058120000"  # suspended, no application


@pytest.fixture
def deps(seeded_store, calendar):
    return {"store": seeded_store, "calendar": calendar, "clock": lambda: NOW}


async def run(action, tracker, domain):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return dispatcher, events


async def test_status_on_time_names_case_dates_and_window(deps, domain):
    dispatcher, events = await run(
        ActionCaseStatus(**deps), make_tracker(slots=verified_as(ZHANG)), domain
    )
    assert said(dispatcher) == [
        "utter_case_status_under_review",
        "utter_case_window",
        "utter_case_on_time",
    ]
    status = message(dispatcher, "utter_case_status_under_review")
    assert status["case_id"] == "JC202611250001"
    assert status["terminal_id"] == "60013452"
    assert status["submitted_on"] == "2026年11月25日"
    window = message(dispatcher, "utter_case_window")
    # Submitted Wed 25 Nov: 3rd working day Mon 30 Nov, 7th Fri 4 Dec.
    assert (window["window_start"], window["window_end"]) == ("2026年11月30日", "2026年12月4日")
    assert slot_events(events) == {"case_id": "JC202611250001"}


async def test_status_overdue_is_flagged(deps, domain):
    dispatcher, _ = await run(ActionCaseStatus(**deps), make_tracker(slots=verified_as(LI)), domain)
    assert said(dispatcher) == [
        "utter_case_status_under_review",
        "utter_case_window",
        "utter_case_overdue",
    ]


async def test_status_needs_documents_lists_what_is_missing(deps, domain):
    dispatcher, _ = await run(
        ActionCaseStatus(**deps), make_tracker(slots=verified_as(ZHAO)), domain
    )
    status = message(dispatcher, "utter_case_status_needs_documents")
    assert status["missing_documents"] == "结算账户变更证明；法人身份证正反面照片"


async def test_rejected_gives_reason_and_next_steps(deps, domain):
    dispatcher, _ = await run(
        ActionRejectionAdvice(**deps),
        make_tracker("report_rejected", slots=verified_as(WANG)),
        domain,
    )
    assert said(dispatcher) == ["utter_case_status_rejected", "utter_rejection_next_documents"]
    status = message(dispatcher, "utter_case_status_rejected")
    assert status["rejection_reason"] == "交易情况说明材料不全，缺少相关交易的进货单据"


async def test_approved_says_what_to_do_after_reactivation(deps, domain):
    dispatcher, _ = await run(
        ActionCaseStatus(**deps), make_tracker(slots=verified_as(SUN)), domain
    )
    assert said(dispatcher) == ["utter_case_status_approved", "utter_after_reactivation"]


async def test_two_terminals_ask_which_one_then_answer(deps, domain):
    dispatcher, events = await run(
        ActionCaseStatus(**deps), make_tracker(slots=verified_as(ZHOU)), domain
    )
    ask = message(dispatcher, "utter_ask_which_terminal")
    assert [b["payload"] for b in ask["buttons"]] == [
        '/inform{"terminal_id": "60060001"}',
        '/inform{"terminal_id": "60060002"}',
    ]
    assert events == []
    dispatcher, _ = await run(
        ActionCaseFollowup(**deps),
        make_tracker(
            "inform",
            slots=verified_as(ZHOU, terminal_id="60060001"),
            events=[user_event("check_case_status")],
        ),
        domain,
    )
    assert said(dispatcher) == ["utter_terminal_suspended", "utter_no_case"]
    assert message(dispatcher, "utter_terminal_suspended")["reason_label"] == "交易纠纷"
    assert message(dispatcher, "utter_no_case")["terminal_id"] == "60060001"


async def test_verified_merchant_cannot_read_another_merchants_case(deps, domain):
    for slots in (
        verified_as(ZHANG, terminal_id="60020001"),
        verified_as(ZHANG, case_id="JC202610270002"),
    ):
        dispatcher, events = await run(ActionCaseStatus(**deps), make_tracker(slots=slots), domain)
        assert said(dispatcher) == ["utter_not_your_terminal"]
        assert slot_events(events) == {"terminal_id": None, "case_id": None}
        assert "JC202610270002" not in str(dispatcher.messages)


async def test_typing_another_merchant_id_requires_new_verification(deps, domain):
    slots = {**verified_as(ZHANG), "merchant_id": LI}
    dispatcher, events = await run(ActionCaseStatus(**deps), make_tracker(slots=slots), domain)
    assert said(dispatcher) == ["utter_switch_merchant"]
    assert slot_events(events) == {
        "verified": False,
        "verified_merchant_id": None,
        "phone_last4": None,
        "case_id": None,
    }


async def test_unverified_gets_no_case_data(deps, domain):
    dispatcher, events = await run(
        ActionCaseStatus(**deps), make_tracker(slots={"merchant_id": ZHANG}), domain
    )
    assert said(dispatcher) == ["utter_offer_verify"]
    assert events == []


async def test_locked_after_three_failures_hands_off(deps, domain, seeded_store):
    dispatcher, events = await run(
        ActionCaseFollowup(**deps), make_tracker(slots={"verify_failures": 3}), domain
    )
    assert said(dispatcher) == ["utter_verification_locked", "utter_handoff"]
    assert events == [{"event": "pause", "timestamp": None}]
    with seeded_store.session() as session:
        ticket = session.execute(select(Ticket)).scalar_one()
    assert (ticket.kind, ticket.merchant_id) == ("handoff", None)
    assert ticket.summary.startswith("身份未验证；转人工原因：身份验证失败3次")


async def test_urging_an_overdue_case_opens_one_escalation(deps, domain, seeded_store: CaseStore):
    tracker = make_tracker("urge_progress", slots=verified_as(LI))
    dispatcher, _ = await run(ActionUrgeProgress(**deps), tracker, domain)
    # The merchant urges: an apology first, then the escalation.
    assert said(dispatcher) == ["utter_urge_apology", "utter_escalated"]
    assert message(dispatcher, "utter_escalated")["ticket_id"] == "TK202611260001"
    dispatcher, _ = await run(ActionUrgeProgress(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_urge_apology", "utter_escalation_exists"]
    assert message(dispatcher, "utter_escalation_exists")["ticket_id"] == "TK202611260001"
    with seeded_store.session() as session:
        tickets = session.execute(select(Ticket)).scalars().all()
        assert [(t.ticket_id, t.kind, t.case_id, t.merchant_id, t.sender_id) for t in tickets] == [
            ("TK202611260001", "escalation", "JC202610270002", LI, "tester")
        ]
        escalations = (
            session.execute(select(CaseEvent.detail).where(CaseEvent.kind == "escalated"))
            .scalars()
            .all()
        )
        assert escalations == ["TK202611260001"]


async def test_urging_on_time_explains_remaining_window(deps, domain, seeded_store):
    dispatcher, _ = await run(
        ActionUrgeProgress(**deps), make_tracker("urge_progress", slots=verified_as(ZHANG)), domain
    )
    assert said(dispatcher) == ["utter_urge_apology", "utter_not_overdue"]
    reply = message(dispatcher, "utter_not_overdue")
    assert (reply["elapsed"], reply["window_end"]) == (1, "2026年12月4日")
    with seeded_store.session() as session:
        assert session.execute(select(Ticket)).scalars().all() == []


async def test_urging_a_decided_case_shows_the_decision(deps, domain):
    dispatcher, _ = await run(
        ActionUrgeProgress(**deps), make_tracker("urge_progress", slots=verified_as(SUN)), domain
    )
    assert said(dispatcher) == [
        "utter_urge_apology",
        "utter_urge_closed",
        "utter_case_status_approved",
        "utter_after_reactivation",
    ]


async def test_reason_general_when_unverified(deps, domain):
    dispatcher, _ = await run(
        ActionSuspendReason(**deps), make_tracker("ask_suspend_reason"), domain
    )
    assert said(dispatcher) == ["utter_suspend_reason_general", "utter_offer_verify"]


async def test_reason_recorded_for_verified_terminal(deps, domain):
    dispatcher, _ = await run(
        ActionSuspendReason(**deps),
        make_tracker("ask_suspend_reason", slots=verified_as(WU)),
        domain,
    )
    assert said(dispatcher) == ["utter_terminal_suspended", "utter_documents_other"]
    reply = message(dispatcher, "utter_terminal_suspended")
    assert reply["terminal_id"] == "60070001"
    assert reply["reason_label"] == "其他（如长期未使用）"
    assert reply["pos_type_label"] == "电签POS"
    assert reply["suspended_on"] == "2026年11月18日"


async def test_followup_answers_the_latest_case_question(deps, domain):
    tracker = make_tracker(
        "inform",
        slots=verified_as(LI),
        events=[user_event("check_case_status"), user_event("urge_progress")],
    )
    dispatcher, _ = await run(ActionCaseFollowup(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_escalated"]


async def test_store_down_gives_a_polite_answer_and_no_status(calendar, domain):
    dead = CaseStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    action = ActionCaseStatus(store=dead, calendar=calendar, clock=lambda: NOW)
    dispatcher, events = await run(action, make_tracker(slots=verified_as(ZHANG)), domain)
    assert said(dispatcher) == ["utter_store_unavailable"]
    assert events == []
