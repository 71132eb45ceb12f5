"""The identity form: proof, failures, lock-out, interruptions."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.verification import ValidateVerifyForm
from tests.actions.helpers import make_tracker, message, said, slot_events
from tests.conftest import NOW

ZHANG = "898310058121234"


@pytest.fixture
def validator(seeded_store, calendar):
    return ValidateVerifyForm(store=seeded_store, calendar=calendar, clock=lambda: NOW)


def entity(name: str, value: str) -> dict:
    return {"entity": name, "value": value, "start": 0, "end": len(value)}


def form_tracker(slots: dict, intent: str = "inform", entities: list | None = None, **kwargs):
    # Slots filled this turn are SlotSet events after the user message, as Rasa sends them.
    tracker = make_tracker(
        intent, slots={**slots}, entities=entities, active_loop="verify_form", **kwargs
    )
    for name in slots:
        if name in ("merchant_id", "case_id", "phone_last4"):
            tracker.events.append({"event": "slot", "name": name, "value": slots[name]})
    return tracker


async def validate(validator, tracker, domain):
    dispatcher = CollectingDispatcher()
    events = await validator.run(dispatcher, tracker, domain)
    return dispatcher, events


async def test_merchant_id_and_last4_in_one_message_verify(validator, domain):
    tracker = form_tracker({"merchant_id": ZHANG, "phone_last4": "5678"})
    dispatcher, events = await validate(validator, tracker, domain)
    assert said(dispatcher) == ["utter_verified"]
    assert message(dispatcher, "utter_verified")["merchant_name"] == "张***店"
    slots = slot_events(events)
    assert slots["verified"] is True
    assert slots["verified_merchant_id"] == ZHANG
    assert slots["requested_slot"] is None
    assert events[-1] == {
        "event": "slot",
        "timestamp": None,
        "name": "requested_slot",
        "value": None,
    }


async def test_case_id_proves_identity_with_last4(validator, domain):
    tracker = form_tracker({"case_id": "JC202611250001", "phone_last4": "5678"})
    dispatcher, events = await validate(validator, tracker, domain)
    assert slot_events(events)["verified_merchant_id"] == ZHANG
    assert said(dispatcher) == ["utter_verified"]


async def test_a_case_id_prefilled_as_typed_is_checked_in_the_stored_form(validator, domain):
    # Rasa does not validate the case id given with the question when the form activates.
    tracker = form_tracker({"case_id": "jc202611250001", "phone_last4": "5678"})
    dispatcher, events = await validate(validator, tracker, domain)
    assert said(dispatcher) == ["utter_verified"]
    assert slot_events(events)["case_id"] == "JC202611250001"
    assert slot_events(events)["verified_merchant_id"] == ZHANG


async def test_case_id_alone_is_not_proof(validator, domain):
    tracker = form_tracker({"case_id": "JC202611250001", "requested_slot": "case_id"})
    dispatcher, events = await validate(validator, tracker, domain)
    slots = slot_events(events)
    assert said(dispatcher) == []
    assert "verified" not in slots
    assert slots["requested_slot"] == "phone_last4"


async def test_wrong_digits_count_down_then_lock(validator, domain):
    slots = {"merchant_id": ZHANG, "phone_last4": "0000", "requested_slot": "phone_last4"}
    dispatcher, events = await validate(validator, form_tracker(slots), domain)
    assert said(dispatcher) == ["utter_verification_mismatch"]
    assert message(dispatcher, "utter_verification_mismatch")["remaining"] == 2
    result = slot_events(events)
    assert (result["phone_last4"], result["verify_failures"], result["requested_slot"]) == (
        None,
        1,
        "phone_last4",
    )
    slots["verify_failures"] = 2
    dispatcher, events = await validate(validator, form_tracker(slots), domain)
    assert said(dispatcher) == []
    result = slot_events(events)
    assert (result["verify_failures"], result["requested_slot"]) == (3, None)
    assert "verified" not in result


async def test_unknown_merchant_gets_the_same_answer_as_a_wrong_phone(validator, domain):
    slots = {"merchant_id": "898300000000000", "phone_last4": "5678"}
    dispatcher, events = await validate(validator, form_tracker(slots), domain)
    assert said(dispatcher) == ["utter_verification_mismatch"]
    assert slot_events(events)["verify_failures"] == 1


async def test_locked_form_asks_nothing(validator, domain):
    slots = {"merchant_id": ZHANG, "phone_last4": "5678", "verify_failures": 3}
    dispatcher, events = await validate(validator, form_tracker(slots), domain)
    assert said(dispatcher) == []
    assert slot_events(events)["requested_slot"] is None
    assert "verified" not in slot_events(events)


async def test_faq_in_the_middle_is_answered_and_the_form_continues(validator, domain):
    tracker = make_tracker(
        "ask_review_time", slots={"requested_slot": "merchant_id"}, active_loop="verify_form"
    )
    dispatcher, events = await validate(validator, tracker, domain)
    assert said(dispatcher) == ["utter_review_time"]
    assert {"event": "slot", "timestamp": None, "name": "merchant_id", "value": None} in events


async def test_unparseable_answer_gets_a_format_hint(validator, domain):
    tracker = make_tracker(
        "nlu_fallback",
        slots={"requested_slot": "phone_last4", "merchant_id": ZHANG},
        active_loop="verify_form",
    )
    dispatcher, events = await validate(validator, tracker, domain)
    assert said(dispatcher) == ["utter_invalid_phone_last4"]
    assert slot_events(events) == {"phone_last4": None}


@pytest.mark.parametrize("intent", ["deny", "goodbye", "request_human"])
async def test_exit_intents_leave_the_form_to_the_rules(validator, domain, intent):
    tracker = make_tracker(
        intent, slots={"requested_slot": "merchant_id"}, active_loop="verify_form"
    )
    dispatcher, events = await validate(validator, tracker, domain)
    assert (said(dispatcher), events) == ([], [])


async def test_guessing_across_conversations_locks_the_merchant(validator, domain, seeded_store):
    from sqlalchemy import func, select

    from bot.store.models import VerificationAttempt

    for attempt in range(10):
        tracker = form_tracker(
            {"merchant_id": ZHANG, "phone_last4": f"{attempt:04d}"}, sender_id=f"attacker-{attempt}"
        )
        dispatcher, _ = await validate(validator, tracker, domain)
        assert said(dispatcher) == ["utter_verification_mismatch"]
    tracker = form_tracker({"merchant_id": ZHANG, "phone_last4": "0000"}, sender_id="next")
    dispatcher, events = await validate(validator, tracker, domain)
    assert said(dispatcher) == ["utter_merchant_locked"]
    slots = slot_events(events)
    assert (slots["verify_failures"], slots["requested_slot"]) == (3, None)
    assert "verified" not in slots
    # The right answer from a client that is not locked gets through the merchant's lock.
    tracker = form_tracker({"merchant_id": ZHANG, "phone_last4": "5678"}, sender_id="owner")
    dispatcher, events = await validate(validator, tracker, domain)
    assert said(dispatcher) == ["utter_verified"]
    with seeded_store.session() as session:
        rows = session.execute(
            select(VerificationAttempt.outcome, func.count()).group_by(VerificationAttempt.outcome)
        ).all()
    assert dict(rows) == {"mismatch": 10, "merchant_locked": 1, "verified": 1}
