"""Guessing the last four phone digits: per client (3) and per merchant (10, 50 an hour).

Driven through ``validate_verify_form`` with many sender ids against a real SQLite store; the
lock-out is checked in the ``verification_attempts`` table and in the log.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.verification import ValidateVerifyForm
from bot.services.identity import (
    HARD_FAILURES_PER_MERCHANT,
    LOCKOUT_WINDOW,
    MAX_FAILURES_PER_MERCHANT,
    MAX_VERIFY_FAILURES,
)
from bot.store.database import CaseStore
from bot.store.models import VerificationAttempt
from tests.actions.helpers import make_tracker, said, slot_events
from tests.conftest import NOW

ZHANG = "898310058121234"  # last four 5678, case JC202611250001
ZHANG_CASE = "JC202611250001"
LI = "898310058125555"  # last four 1111


class Clock:
    """A clock the test moves forward."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def form(seeded_store, calendar, clock) -> ValidateVerifyForm:
    return ValidateVerifyForm(store=seeded_store, calendar=calendar, clock=clock)


async def attempt(
    form: ValidateVerifyForm, domain, sender: str, last4: str, failures: int = 0, **claim: str
) -> tuple[list[str], dict]:
    """One answer in the identity form of conversation ``sender``."""
    slots = {**claim, "phone_last4": last4, "verify_failures": failures}
    tracker = make_tracker("inform", slots=slots, active_loop="verify_form", sender_id=sender)
    for name in (*claim, "phone_last4"):
        tracker.events.append({"event": "slot", "name": name, "value": slots[name]})
    dispatcher = CollectingDispatcher()
    events = await form.run(dispatcher, tracker, domain)
    return said(dispatcher), slot_events(events)


def attempts(store: CaseStore) -> list[tuple[str, str, bool, datetime]]:
    with store.session() as session:
        rows = session.execute(select(VerificationAttempt).order_by(VerificationAttempt.id))
        return [(a.merchant_key, a.sender_id, a.succeeded, a.attempted_at) for a in rows.scalars()]


async def test_three_wrong_answers_end_the_conversations_attempt_whatever_is_claimed(
    form, domain, seeded_store
) -> None:
    # One conversation tries three different merchants: the per-conversation count is shared.
    first = await attempt(form, domain, "c1", "0000", 0, merchant_id=ZHANG)
    second = await attempt(form, domain, "c1", "0000", 1, merchant_id=LI)
    third = await attempt(form, domain, "c1", "0000", 2, case_id=ZHANG_CASE)

    assert first[0] == second[0] == ["utter_verification_mismatch"]
    assert (first[1]["verify_failures"], second[1]["verify_failures"]) == (1, 2)
    assert third == (
        [],
        {
            "case_id": ZHANG_CASE,
            "phone_last4": None,
            "verify_failures": 3,
            "requested_slot": None,
        },
    )
    # Locked: even the right digits are not checked any more in this conversation.
    assert await attempt(form, domain, "c1", "5678", 3, merchant_id=ZHANG) == (
        [],
        {"requested_slot": None},
    )
    assert [(key, sender, ok) for key, sender, ok, _ in attempts(seeded_store)] == [
        (ZHANG, "c1", False),
        (LI, "c1", False),
        (ZHANG, "c1", False),
    ]


async def test_ten_failures_across_conversations_lock_the_merchant_for_an_hour(
    form, domain, seeded_store, clock, caplog: pytest.LogCaptureFixture
) -> None:
    for number in range(MAX_FAILURES_PER_MERCHANT):
        # A new conversation for each guess; half of them claim the case id instead.
        claim = {"merchant_id": ZHANG} if number % 2 else {"case_id": ZHANG_CASE}
        clock.now = NOW + timedelta(minutes=5 * number)
        answer, _ = await attempt(form, domain, f"attacker-{number}", f"{number:04d}", **claim)
        assert answer == ["utter_verification_mismatch"]

    with caplog.at_level(logging.WARNING, logger="bot.services.identity"):
        wrong, wrong_slots = await attempt(form, domain, "attacker-x", "1234", case_id=ZHANG_CASE)
        right, right_slots = await attempt(form, domain, "owner", "5678", merchant_id=ZHANG)

    # A wrong answer is refused and ends that conversation's attempt ...
    assert wrong == ["utter_merchant_locked"]
    locked = {"phone_last4": None, "verify_failures": MAX_VERIFY_FAILURES, "requested_slot": None}
    assert wrong_slots == {"case_id": ZHANG_CASE, **locked}
    assert any(f"merchant {ZHANG} is locked" in r.getMessage() for r in caplog.records)
    # ... but strangers guessing do not lock the merchant out: the right answer of a client
    # that is not locked itself gets through.
    assert right == ["utter_verified"]
    assert right_slots["verified_merchant_id"] == ZHANG
    recorded = attempts(seeded_store)
    assert len(recorded) == MAX_FAILURES_PER_MERCHANT + 2
    assert {key for key, *_ in recorded} == {ZHANG}
    assert [ok for *_, ok, _ in recorded] == [False] * (MAX_FAILURES_PER_MERCHANT + 1) + [True]
    assert [sender for _, sender, *_ in recorded][-2:] == ["attacker-x", "owner"]
    # Another merchant is not affected.
    assert (await attempt(form, domain, "li", "1111", merchant_id=LI))[0] == ["utter_verified"]
    # The refused conversation stays refused, even with the right digits and a reset slot.
    assert (await attempt(form, domain, "attacker-x", "5678", merchant_id=ZHANG)) == (
        [],
        {"merchant_id": ZHANG, **locked},
    )
    # An hour after the last counted failure the merchant is unlocked for wrong answers too.
    clock.now = NOW + timedelta(minutes=5 * MAX_FAILURES_PER_MERCHANT) + LOCKOUT_WINDOW
    answer, _ = await attempt(form, domain, "later", "0000", merchant_id=ZHANG)
    assert answer == ["utter_verification_mismatch"]


async def test_past_the_hard_limit_even_the_right_answer_waits_for_a_human(
    form, domain, seeded_store, clock
) -> None:
    for number in range(HARD_FAILURES_PER_MERCHANT):
        await attempt(form, domain, f"bot-{number}", f"{number:04d}", merchant_id=ZHANG)

    answer, slots = await attempt(form, domain, "owner", "5678", merchant_id=ZHANG)

    assert answer == ["utter_merchant_locked"]
    assert slots["verify_failures"] == MAX_VERIFY_FAILURES and "verified" not in slots
    # Refusals are not counted: an hour after the last wrong answer it is open again.
    clock.now = NOW + LOCKOUT_WINDOW + timedelta(seconds=1)
    assert (await attempt(form, domain, "owner-2", "5678", merchant_id=ZHANG))[0] == [
        "utter_verified"
    ]


async def test_nine_failures_do_not_lock(form, domain, seeded_store) -> None:
    for number in range(MAX_FAILURES_PER_MERCHANT - 1):
        await attempt(form, domain, f"s{number}", "0000", merchant_id=ZHANG)

    answer, slots = await attempt(form, domain, "owner", "5678", merchant_id=ZHANG)

    assert answer == ["utter_verified"]
    assert slots["verified"] is True
    assert attempts(seeded_store)[-1][1:3] == ("owner", True)


async def test_failures_older_than_the_window_do_not_count(
    form, domain, seeded_store, clock
) -> None:
    for number in range(MAX_FAILURES_PER_MERCHANT):
        await attempt(form, domain, f"old-{number}", "0000", merchant_id=ZHANG)
    clock.now = NOW + LOCKOUT_WINDOW + timedelta(seconds=1)
    for number in range(MAX_FAILURES_PER_MERCHANT - 1):
        answer, _ = await attempt(form, domain, f"new-{number}", "0000", merchant_id=ZHANG)
        assert answer == ["utter_verification_mismatch"]

    assert (await attempt(form, domain, "owner", "5678", merchant_id=ZHANG))[0] == [
        "utter_verified"
    ]


async def test_guessing_unknown_merchant_ids_is_recorded_and_limited_too(
    form, domain, seeded_store
) -> None:
    unknown = "898300000000001"
    for number in range(MAX_FAILURES_PER_MERCHANT):
        answer, _ = await attempt(form, domain, f"probe-{number}", "0000", merchant_id=unknown)
        assert answer == ["utter_verification_mismatch"]

    answer, _ = await attempt(form, domain, "probe-x", "0000", merchant_id=unknown)

    assert answer == ["utter_merchant_locked"]
    assert {key for key, *_ in attempts(seeded_store)} == {unknown}
