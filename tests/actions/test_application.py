"""Filing an application: terminal checks, summary, submission, duplicates."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.application import (
    ActionAskTerminalId,
    ActionConfirmApplication,
    ActionDiscardApplicationDraft,
    ActionSubmitApplication,
    ValidateApplicationForm,
)
from bot.store.models import ApplicationDraft, Case, CaseEvent
from bot.store.repositories import ApplicationDraftRepository
from tests.actions.helpers import make_tracker, message, said, slot_events, verified_as
from tests.conftest import NOW

ZHANG = "898310058121234"
WU = "898310058120000"
ZHOU = "898310058129999"


@pytest.fixture
def deps(seeded_store, calendar):
    return {"store": seeded_store, "calendar": calendar, "clock": lambda: NOW}


def terminal_turn(merchant_id: str, terminal_id: str):
    tracker = make_tracker(
        "inform",
        slots=verified_as(merchant_id, terminal_id=terminal_id, requested_slot="terminal_id"),
        active_loop="application_form",
    )
    tracker.events.append({"event": "slot", "name": "terminal_id", "value": terminal_id})
    return tracker


async def run(action, tracker, domain):
    dispatcher = CollectingDispatcher()
    return dispatcher, await action.run(dispatcher, tracker, domain)


async def test_terminal_with_open_case_stops_the_form(deps, domain):
    dispatcher, events = await run(
        ValidateApplicationForm(**deps), terminal_turn(ZHANG, "60013452"), domain
    )
    slots = slot_events(events)
    assert slots["open_case_id"] == "JC202611250001"
    assert slots["requested_slot"] is None
    assert said(dispatcher) == []


async def test_terminal_of_another_merchant_is_refused(deps, domain):
    dispatcher, events = await run(
        ValidateApplicationForm(**deps), terminal_turn(ZHANG, "60070001"), domain
    )
    assert said(dispatcher) == ["utter_terminal_not_yours"]
    assert slot_events(events)["terminal_id"] is None


async def test_recorded_reason_is_prefilled(deps, domain):
    dispatcher, events = await run(
        ValidateApplicationForm(**deps), terminal_turn(WU, "60070001"), domain
    )
    slots = slot_events(events)
    assert said(dispatcher) == []
    assert slots["suspension_reason"] == "other"
    assert slots["requested_slot"] == "phone_number"


async def test_unverified_form_asks_identity_first(deps, domain):
    tracker = make_tracker("submit_application", active_loop=None)
    validator = ValidateApplicationForm(**deps)
    assert validator.slots_required(dict(tracker.slots)) == [
        "merchant_id",
        "phone_last4",
        "terminal_id",
        "suspension_reason",
        "phone_number",
    ]
    assert validator.slots_required(verified_as(ZHANG)) == [
        "terminal_id",
        "suspension_reason",
        "phone_number",
    ]


async def test_invalid_phone_is_explained(deps, domain):
    tracker = make_tracker(
        "inform",
        slots=verified_as(
            WU,
            terminal_id="60070001",
            suspension_reason="other",
            phone_number="12345",
            requested_slot="phone_number",
        ),
        active_loop="application_form",
    )
    tracker.events.append({"event": "slot", "name": "phone_number", "value": "12345"})
    dispatcher, events = await run(ValidateApplicationForm(**deps), tracker, domain)
    assert "utter_invalid_phone_number" in said(dispatcher)
    assert slot_events(events)["phone_number"] is None


async def test_ask_terminal_offers_the_merchants_terminals(deps, domain):
    dispatcher, _ = await run(
        ActionAskTerminalId(**deps), make_tracker(slots=verified_as(ZHOU)), domain
    )
    buttons = message(dispatcher, "utter_ask_terminal_id")["buttons"]
    assert [b["title"] for b in buttons] == ["60060001（传统大POS）", "60060002（电签POS）"]


async def test_summary_masks_the_phone_and_waits_for_confirmation(deps, domain):
    slots = verified_as(
        WU, terminal_id="60070001", suspension_reason="license_expired", phone_number="13912345678"
    )
    dispatcher, events = await run(
        ActionConfirmApplication(**deps), make_tracker(slots=slots), domain
    )
    summary = message(dispatcher, "utter_confirm_application")
    assert summary["phone"] == "139****5678"
    assert summary["reason_label"] == "营业执照过期"
    assert slot_events(events) == {"confirm_pending": True}


async def test_summary_for_existing_open_case_shows_it(deps, domain):
    slots = verified_as(ZHANG, terminal_id="60013452", open_case_id="JC202611250001")
    dispatcher, events = await run(
        ActionConfirmApplication(**deps), make_tracker(slots=slots), domain
    )
    assert said(dispatcher) == ["utter_open_case_exists", "utter_case_window", "utter_case_on_time"]
    assert message(dispatcher, "utter_open_case_exists")["status_label"] == "审核中"
    assert slot_events(events) == {"open_case_id": None, "confirm_pending": False}


async def test_submission_creates_a_case_with_window_and_checklist(deps, domain, seeded_store):
    slots = verified_as(
        WU,
        terminal_id="60070001",
        suspension_reason="other",
        phone_number="13912345678",
        confirm_pending=True,
    )
    dispatcher, events = await run(
        ActionSubmitApplication(**deps), make_tracker("affirm", slots=slots), domain
    )
    assert said(dispatcher) == ["utter_application_submitted", "utter_documents_other"]
    reply = message(dispatcher, "utter_application_submitted")
    # Submitted Thu 26 Nov: 3rd working day Tue 1 Dec, 7th Mon 7 Dec.
    assert reply == {
        **reply,
        "case_id": "JC202611260007",
        "window_start": "2026年12月1日",
        "window_end": "2026年12月7日",
    }
    assert slot_events(events) == {"confirm_pending": False, "case_id": "JC202611260007"}
    with seeded_store.session() as session:
        case = session.get(Case, "JC202611260007")
        assert (
            case.merchant_id,
            case.terminal_id,
            case.status,
            case.suspension_reason,
            case.contact_phone,
            case.source,
            case.submitted_at,
        ) == (WU, "60070001", "submitted", "other", "13912345678", "bot", NOW)
        kinds = (
            session.execute(select(CaseEvent.kind).where(CaseEvent.case_id == "JC202611260007"))
            .scalars()
            .all()
        )
        assert kinds == ["submitted"]


async def test_second_submission_returns_the_open_case(deps, domain, seeded_store):
    slots = verified_as(
        ZHANG,
        terminal_id="60013452",
        suspension_reason="license_expired",
        phone_number="13812345678",
        confirm_pending=True,
    )
    dispatcher, _ = await run(
        ActionSubmitApplication(**deps), make_tracker("affirm", slots=slots), domain
    )
    assert said(dispatcher)[0] == "utter_open_case_exists"
    with seeded_store.session() as session:
        count = len(session.execute(select(Case).where(Case.terminal_id == "60013452")).all())
    assert count == 1


async def test_submission_for_someone_elses_terminal_is_refused(deps, domain, seeded_store):
    slots = verified_as(
        ZHANG,
        terminal_id="60070001",
        suspension_reason="other",
        phone_number="13812345678",
        confirm_pending=True,
    )
    dispatcher, _ = await run(
        ActionSubmitApplication(**deps), make_tracker("affirm", slots=slots), domain
    )
    assert said(dispatcher) == ["utter_terminal_not_yours"]
    with seeded_store.session() as session:
        assert session.execute(select(Case).where(Case.terminal_id == "60070001")).first() is None


async def test_cancel_files_nothing_and_forgets_the_phone(deps, domain, seeded_store):
    with seeded_store.session() as session:
        ApplicationDraftRepository(session).save_phone("tester", "13912345678", NOW)
    dispatcher, events = await run(
        ActionDiscardApplicationDraft(**deps), make_tracker("deny"), domain
    )
    assert said(dispatcher) == ["utter_application_cancelled"]
    assert slot_events(events) == {"confirm_pending": False, "phone_number": None}
    assert _drafts(seeded_store) == []


def _drafts(store) -> list[tuple[str, str]]:
    with store.session() as session:
        rows = session.execute(select(ApplicationDraft.sender_id, ApplicationDraft.contact_phone))
        return [tuple(row) for row in rows]


def phone_turn(phone: str, sender_id: str = "tester"):
    tracker = make_tracker(
        "inform",
        slots=verified_as(
            WU,
            terminal_id="60070001",
            suspension_reason="other",
            phone_number=phone,
            requested_slot="phone_number",
        ),
        active_loop="application_form",
        sender_id=sender_id,
    )
    tracker.events.append({"event": "slot", "name": "phone_number", "value": phone})
    return tracker


async def test_valid_phone_is_kept_in_the_draft_and_only_masked_in_the_slot(
    deps, domain, seeded_store
):
    dispatcher, events = await run(
        ValidateApplicationForm(**deps), phone_turn("139 1234 5678", "web-7"), domain
    )
    assert slot_events(events)["phone_number"] == "139****5678"
    assert "utter_invalid_phone_number" not in said(dispatcher)
    assert _drafts(seeded_store) == [("web-7", "13912345678")]
    # A corrected number replaces the first one.
    await run(ValidateApplicationForm(**deps), phone_turn("13700001111", "web-7"), domain)
    assert _drafts(seeded_store) == [("web-7", "13700001111")]


async def test_submission_files_the_full_phone_from_the_draft_and_forgets_it(
    deps, domain, seeded_store
):
    with seeded_store.session() as session:
        ApplicationDraftRepository(session).save_phone("web-8", "13912345678", NOW)
        ApplicationDraftRepository(session).save_phone("web-9", "13600000000", NOW)
    slots = verified_as(
        WU,
        terminal_id="60070001",
        suspension_reason="other",
        phone_number="139****5678",
        confirm_pending=True,
    )
    dispatcher, _ = await run(
        ActionSubmitApplication(**deps),
        make_tracker("affirm", slots=slots, sender_id="web-8"),
        domain,
    )
    assert said(dispatcher) == ["utter_application_submitted", "utter_documents_other"]
    with seeded_store.session() as session:
        case = session.get(Case, message(dispatcher, "utter_application_submitted")["case_id"])
        assert case.contact_phone == "13912345678"
    # The phone is gone from the draft; only the filed case id stays (for a repeated "yes").
    assert _drafts(seeded_store) == [("web-8", ""), ("web-9", "13600000000")]


async def test_submission_without_draft_and_masked_phone_asks_again(deps, domain, seeded_store):
    slots = verified_as(
        WU,
        terminal_id="60070001",
        suspension_reason="other",
        phone_number="139****5678",
        confirm_pending=True,
    )
    dispatcher, events = await run(
        ActionSubmitApplication(**deps), make_tracker("affirm", slots=slots), domain
    )
    assert said(dispatcher) == ["utter_application_incomplete"]
    assert slot_events(events) == {"confirm_pending": False, "phone_number": None}
    with seeded_store.session() as session:
        assert session.execute(select(Case).where(Case.terminal_id == "60070001")).first() is None
