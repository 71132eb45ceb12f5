"""Withdrawing a filed application and changing its contact phone, against a real store."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.case_change import ActionChangeApplication, change_kind
from actions.case_lookup import ActionCaseFollowup
from bot.store.models import ApplicationDraft, Case, CaseEvent
from bot.store.repositories import CaseRepository
from tests.actions.helpers import make_tracker, message, said, slot_events, user_event, verified_as
from tests.conftest import NOW

ZHANG = "898310058121234"  # one open case, under review
ZHANG_CASE = "JC202611250001"
ZHOU = "898310058129999"  # 60060002 just submitted; 60060001 without application
ZHOU_CASE = "JC202611260006"
WANG = "898310058128888"  # approved: no open case
NEW_PHONE = "13912345678"


@pytest.fixture
def deps(seeded_store, calendar):
    return {"store": seeded_store, "calendar": calendar, "clock": lambda: NOW}


async def run(action, tracker, domain):
    dispatcher = CollectingDispatcher()
    return dispatcher, await action.run(dispatcher, tracker, domain)


def case_row(store, case_id):
    with store.session() as session:
        case = session.get(Case, case_id)
        events = [
            (e.kind, e.detail)
            for e in session.execute(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            ).scalars()
        ]
        return case.status, case.contact_phone, events


def pending(step: str, case_id: str | None = None, **slots):
    return verified_as(
        slots.pop("merchant", ZHANG),
        case_change_pending=True,
        case_change_step=step,
        case_change_case_id=case_id,
        **slots,
    )


async def test_withdrawal_asks_for_confirmation_and_changes_nothing_yet(deps, domain, seeded_store):
    tracker = make_tracker("cancel_application", slots=verified_as(ZHANG), text="我想撤销申请")
    dispatcher, events = await run(ActionChangeApplication(**deps), tracker, domain)
    confirm = message(dispatcher, "utter_confirm_withdraw")
    assert (confirm["case_id"], confirm["terminal_id"], confirm["status_label"]) == (
        ZHANG_CASE,
        "60013452",
        "审核中",
    )
    assert slot_events(events) == {
        "case_change_pending": True,
        "case_change_step": "confirm:withdraw",
        "case_change_case_id": ZHANG_CASE,
    }
    assert case_row(seeded_store, ZHANG_CASE)[0] == "under_review"


async def test_confirmed_withdrawal_closes_the_case_with_an_event(deps, domain, seeded_store):
    tracker = make_tracker("affirm", slots=pending("confirm:withdraw", ZHANG_CASE), text="是")
    dispatcher, events = await run(ActionChangeApplication(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_application_withdrawn"]
    assert message(dispatcher, "utter_application_withdrawn")["case_id"] == ZHANG_CASE
    status, _, history = case_row(seeded_store, ZHANG_CASE)
    assert status == "withdrawn"
    assert history[-1] == ("withdrawn", "under_review -> withdrawn（商户撤销）")
    assert slot_events(events) == {
        "case_change_pending": False,
        "case_change_step": None,
        "case_change_case_id": None,
        "case_id": ZHANG_CASE,
    }
    with seeded_store.session() as session:
        assert CaseRepository(session).open_for_terminal("60013452") is None
        assert CaseRepository(session).open_for_merchant(ZHANG) == []


async def test_declined_withdrawal_keeps_the_case(deps, domain, seeded_store):
    tracker = make_tracker("deny", slots=pending("confirm:withdraw", ZHANG_CASE), text="否")
    dispatcher, events = await run(ActionChangeApplication(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_case_change_dropped"]
    assert slot_events(events)["case_change_pending"] is False
    status, _, history = case_row(seeded_store, ZHANG_CASE)
    assert status == "under_review" and all(kind != "withdrawn" for kind, _ in history)


async def test_no_open_case_is_said_plainly(deps, domain):
    tracker = make_tracker("cancel_application", slots=verified_as(WANG), text="撤销申请")
    dispatcher, events = await run(ActionChangeApplication(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_no_open_case"]
    assert slot_events(events)["case_change_pending"] is False


async def test_several_open_cases_ask_which_one(deps, domain, seeded_store):
    with seeded_store.session() as session:
        other = (
            CaseRepository(session)
            .create(
                merchant_id=ZHOU,
                terminal_id="60060001",
                suspension_reason="account_dispute",
                contact_phone="13400005555",
                now=NOW,
            )
            .case_id
        )
    tracker = make_tracker("cancel_application", slots=verified_as(ZHOU), text="取消申请")
    dispatcher, events = await run(ActionChangeApplication(**deps), tracker, domain)
    buttons = message(dispatcher, "utter_which_open_case")["buttons"]
    assert [b["payload"] for b in buttons] == [
        f'/inform{{"case_id": "{ZHOU_CASE}"}}',
        f'/inform{{"case_id": "{other}"}}',
    ]
    assert slot_events(events)["case_change_step"] == "choose:withdraw"
    # The merchant clicks the second one: confirmation for that case.
    choice = make_tracker(
        "inform",
        slots=pending("choose:withdraw", merchant=ZHOU),
        entities=[{"entity": "case_id", "value": other}],
    )
    dispatcher, events = await run(ActionChangeApplication(**deps), choice, domain)
    assert message(dispatcher, "utter_confirm_withdraw")["case_id"] == other
    assert slot_events(events)["case_change_case_id"] == other


async def test_a_case_of_another_merchant_is_never_withdrawn(deps, domain, seeded_store):
    tracker = make_tracker("affirm", slots=pending("confirm:withdraw", ZHOU_CASE), text="是")
    dispatcher, _ = await run(ActionChangeApplication(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_not_your_terminal"]
    assert case_row(seeded_store, ZHOU_CASE)[0] == "submitted"


async def test_a_case_decided_meanwhile_is_not_withdrawn(deps, domain, seeded_store):
    with seeded_store.session() as session:
        session.get(Case, ZHANG_CASE).status = "approved"
    tracker = make_tracker("affirm", slots=pending("confirm:withdraw", ZHANG_CASE), text="是")
    dispatcher, _ = await run(ActionChangeApplication(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_case_not_open"]
    assert message(dispatcher, "utter_case_not_open")["status_label"] == "已通过"
    assert case_row(seeded_store, ZHANG_CASE)[0] == "approved"


async def test_phone_change_asks_validates_confirms_and_stores(deps, domain, seeded_store):
    action = ActionChangeApplication(**deps)
    ask = make_tracker("cancel_application", slots=verified_as(ZHANG), text="申请的联系电话换一下")
    dispatcher, events = await run(action, ask, domain)
    assert said(dispatcher) == ["utter_ask_new_contact_phone"]
    assert slot_events(events)["case_change_step"] == "ask_phone:phone"

    bad = make_tracker("inform", slots=pending("ask_phone:phone", ZHANG_CASE), text="12345")
    dispatcher, events = await run(action, bad, domain)
    assert said(dispatcher) == ["utter_invalid_phone_number"]
    assert slot_events(events)["case_change_step"] == "ask_phone:phone"

    number = make_tracker(
        "inform",
        slots=pending("ask_phone:phone", ZHANG_CASE, phone_number=NEW_PHONE),
        text=NEW_PHONE,
        entities=[{"entity": "phone_number", "value": NEW_PHONE}],
    )
    dispatcher, events = await run(action, number, domain)
    assert message(dispatcher, "utter_confirm_contact_phone")["phone"] == "139****5678"
    slots = slot_events(events)
    assert slots["phone_number"] is None  # the number is kept in the draft table only
    assert slots["case_change_step"] == "confirm:phone"
    assert NEW_PHONE not in str(events) and NEW_PHONE not in str(dispatcher.messages)
    assert case_row(seeded_store, ZHANG_CASE)[1] != NEW_PHONE

    yes = make_tracker("affirm", slots=pending("confirm:phone", ZHANG_CASE), text="是")
    dispatcher, events = await run(action, yes, domain)
    assert message(dispatcher, "utter_contact_phone_changed")["phone"] == "139****5678"
    status, phone, history = case_row(seeded_store, ZHANG_CASE)
    assert (status, phone) == ("under_review", NEW_PHONE)
    assert history[-1] == ("contact_phone_changed", "139****5678")
    with seeded_store.session() as session:
        assert session.get(ApplicationDraft, "tester") is None


async def test_a_number_in_the_request_skips_the_question(deps, domain):
    tracker = make_tracker(
        "cancel_application",
        slots=verified_as(ZHANG),
        text=f"申请的联系号码改成{NEW_PHONE}",
        entities=[{"entity": "phone_number", "value": NEW_PHONE}],
    )
    dispatcher, events = await run(ActionChangeApplication(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_confirm_contact_phone"]
    assert slot_events(events)["case_change_step"] == "confirm:phone"


async def test_unverified_merchant_is_asked_to_verify(deps, domain, seeded_store):
    tracker = make_tracker("cancel_application", text="撤销申请")
    dispatcher, _ = await run(ActionChangeApplication(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_offer_verify"]
    assert case_row(seeded_store, ZHANG_CASE)[0] == "under_review"


async def test_after_verification_the_followup_continues_the_withdrawal(deps, domain):
    tracker = make_tracker(
        "inform",
        slots=verified_as(ZHANG, phone_last4="5678"),
        text="5678",
        events=[user_event("cancel_application", "不申请了 取消掉")],
    )
    dispatcher, events = await run(ActionCaseFollowup(**deps), tracker, domain)
    assert said(dispatcher) == ["utter_confirm_withdraw"]
    assert slot_events(events)["case_change_step"] == "confirm:withdraw"


def test_what_the_merchant_wants():
    assert change_kind("我想撤销申请") == "withdraw"
    assert change_kind("不申请了 取消掉") == "withdraw"
    assert change_kind("申请的联系电话换一下") == "phone"
    assert change_kind("换号了", phone_given=True) == "phone"
    assert change_kind("取消申请 电话别打了") == "withdraw"
