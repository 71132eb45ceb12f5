"""Follow-ups that use what the conversation knows: the case shown, the reason stated."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.case_lookup import ActionSuspendReason
from actions.documents import ActionRequiredDocuments
from actions.review_time import ActionReviewTime
from tests.actions.helpers import make_tracker, message, said, slot_events, verified_as
from tests.conftest import NOW

ZHANG = "898310058121234"  # under review since 25 Nov 2026
ZHANG_CASE = "JC202611250001"
LI = "898310058125555"  # overdue
LI_CASE = "JC202610270002"
ARREARS = [{"entity": "suspension_reason", "value": "account_arrears"}]


@pytest.fixture
def deps(seeded_store, calendar):
    return {"store": seeded_store, "calendar": calendar, "clock": lambda: NOW}


async def run(action, tracker, domain):
    dispatcher = CollectingDispatcher()
    return dispatcher, await action.run(dispatcher, tracker, domain)


async def test_how_long_after_a_status_reply_answers_for_that_case(deps, domain):
    tracker = make_tracker(
        "ask_review_time", slots=verified_as(ZHANG, case_id=ZHANG_CASE), text="还要多久"
    )
    dispatcher, _ = await run(ActionReviewTime(**deps), tracker, domain)
    reply = message(dispatcher, "utter_case_time_left")
    # Thursday 26 Nov: window Mon 30 Nov - Fri 4 Dec; Fri 27 and Mon 30 are working days.
    assert {k: reply[k] for k in ("case_id", "elapsed", "soonest", "latest", "window_end")} == {
        "case_id": ZHANG_CASE,
        "elapsed": 1,
        "soonest": 2,
        "latest": 6,
        "window_end": "2026年12月4日",
    }
    assert "调休" in domain["responses"]["utter_case_time_left"][0]["text"]


async def test_how_long_for_an_overdue_case_shows_the_status_and_the_overdue_note(deps, domain):
    tracker = make_tracker("ask_review_time", slots=verified_as(LI, case_id=LI_CASE))
    dispatcher, _ = await run(ActionReviewTime(**deps), tracker, domain)
    assert "utter_case_overdue" in said(dispatcher)


async def test_how_long_without_a_known_case_is_the_general_answer(deps, domain):
    for slots in ({}, verified_as(ZHANG)):
        dispatcher, _ = await run(
            ActionReviewTime(**deps), make_tracker("ask_review_time", slots=slots), domain
        )
        assert said(dispatcher) == ["utter_review_time"]


async def test_a_case_of_another_merchant_gets_only_the_general_answer(deps, domain):
    tracker = make_tracker("ask_review_time", slots=verified_as(ZHANG, case_id=LI_CASE))
    dispatcher, _ = await run(ActionReviewTime(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_review_time"]


async def test_a_stated_reason_is_used_without_verification(deps, domain):
    tracker = make_tracker("inform", text="我是欠款被停的", entities=ARREARS)
    dispatcher, events = await run(ActionSuspendReason(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_reason_noted", "utter_documents_account_arrears"]
    assert message(dispatcher, "utter_reason_noted")["reason_label"] == "欠款未缴"
    assert slot_events(events) == {"suspension_reason": "account_arrears"}


async def test_a_question_naming_a_reason_is_not_a_statement(deps, domain):
    tracker = make_tracker(
        "ask_suspend_reason", text="我的POS机为什么被停用 是不是欠款", entities=ARREARS
    )
    dispatcher, _ = await run(ActionSuspendReason(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_suspend_reason_general", "utter_offer_verify"]


async def test_documents_follow_the_reason_known_from_earlier(domain):
    tracker = make_tracker(
        "ask_required_documents",
        slots={"suspension_reason": "license_expired"},
        text="那要什么材料",
    )
    dispatcher, _ = await run(ActionRequiredDocuments(), tracker, domain)
    assert said(dispatcher) == ["utter_documents_license_expired"]


async def test_documents_without_a_reason_are_the_general_list(domain):
    tracker = make_tracker("ask_required_documents", text="要准备什么资料")
    dispatcher, _ = await run(ActionRequiredDocuments(), tracker, domain)
    assert said(dispatcher) == ["utter_required_documents"]


async def test_the_application_never_needs_a_password(domain):
    tracker = make_tracker("ask_required_documents", text="申请要填密码吗")
    dispatcher, _ = await run(ActionRequiredDocuments(), tracker, domain)
    assert said(dispatcher) == ["utter_no_password"]
    for name in ("utter_no_password", "utter_unsuspend_process", "utter_required_documents"):
        assert "密码" in domain["responses"][name][0]["text"]


async def test_the_recorded_reason_is_remembered_after_verification(deps, domain):
    tracker = make_tracker("ask_suspend_reason", slots=verified_as(ZHANG), text="为什么停用")
    dispatcher, events = await run(ActionSuspendReason(**deps), tracker, domain)
    assert said(dispatcher)[0] == "utter_terminal_suspended"
    assert slot_events(events)["suspension_reason"] in said(dispatcher)[1]
