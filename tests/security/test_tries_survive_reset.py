"""Issue 11, item 6 (first half): resetting the conversation does not bring back the tries.

The three tries are counted in the case store by the conversation's sender id, not only in the
``verify_failures`` slot that ``/restart``, ``/session_start`` and ``/back`` reset. Action level
with a real SQLite store, then end to end over REST.
"""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.case_lookup import ActionCaseStatus
from actions.verification import ValidateVerifyForm
from bot.store.models import Ticket
from tests.actions.helpers import make_tracker, said, slot_events
from tests.conftest import NOW
from tests.e2e.conftest import running_bot  # noqa: F401  (the servers of the e2e suite)

ZHANG = "898310058121234"  # last four 5678


async def _wrong_try(form, domain, sender: str, failures_in_slot: int) -> tuple[list[str], dict]:
    slots = {"merchant_id": ZHANG, "phone_last4": "0000", "verify_failures": failures_in_slot}
    tracker = make_tracker("inform", slots=slots, active_loop="verify_form", sender_id=sender)
    tracker.events.append({"event": "slot", "name": "phone_last4", "value": "0000"})
    dispatcher = CollectingDispatcher()
    events = await form.run(dispatcher, tracker, domain)
    return said(dispatcher), slot_events(events)


async def test_two_tries_a_reset_and_one_try_lock_the_conversation(seeded_store, calendar, domain):
    form = ValidateVerifyForm(store=seeded_store, calendar=calendar, clock=lambda: NOW)
    assert (await _wrong_try(form, domain, "resetter", 0))[1]["verify_failures"] == 1
    assert (await _wrong_try(form, domain, "resetter", 1))[1]["verify_failures"] == 2

    # /restart: every slot is back to its initial value.
    answer, slots = await _wrong_try(form, domain, "resetter", 0)

    assert answer == []
    assert (slots["verify_failures"], slots["requested_slot"]) == (3, None)
    # The form ends; the follow-up offers a human.
    status = ActionCaseStatus(store=seeded_store, calendar=calendar, clock=lambda: NOW)
    dispatcher = CollectingDispatcher()
    locked = {"merchant_id": ZHANG, "verify_failures": slots["verify_failures"]}
    await status.run(dispatcher, make_tracker(slots=locked, sender_id="resetter"), domain)
    assert said(dispatcher)[0] == "utter_verification_locked"
    with seeded_store.session() as session:
        ticket = session.execute(select(Ticket).where(Ticket.sender_id == "resetter")).scalar_one()
    assert ticket.kind == "handoff"


async def test_the_right_answer_after_a_reset_does_not_help_a_locked_conversation(
    seeded_store, calendar, domain
):
    form = ValidateVerifyForm(store=seeded_store, calendar=calendar, clock=lambda: NOW)
    for failures in range(3):
        await _wrong_try(form, domain, "resetter", failures)
    slots = {"merchant_id": ZHANG, "phone_last4": "5678", "verify_failures": 0}
    tracker = make_tracker("inform", slots=slots, active_loop="verify_form", sender_id="resetter")
    tracker.events.append({"event": "slot", "name": "phone_last4", "value": "5678"})
    dispatcher = CollectingDispatcher()
    events = await form.run(dispatcher, tracker, domain)
    assert "utter_verified" not in said(dispatcher)
    assert slot_events(events)["verify_failures"] == 3


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


@pytest.mark.e2e
@pytest.mark.model
@pytest.mark.parametrize("reset", ["/restart", "/session_start", "/back"])
def test_over_rest_a_reset_between_tries_still_ends_in_a_handoff(running_bot, reset):  # noqa: F811
    bot, _ = running_bot
    sender = f"e2e-reset-{reset.strip('/')}"
    bot.say(sender, f"商户号{ZHANG} 查下进度")
    assert "不匹配" in texts(bot.say(sender, "0000"))
    assert "不匹配" in texts(bot.say(sender, "1111"))
    bot.say(sender, reset)
    reply = texts(bot.say(sender, f"商户号{ZHANG} 查下进度"))
    if "后四位" in reply or "不匹配" in reply:  # asked again: the third try
        reply = texts(bot.say(sender, "2222"))
    assert "验证失败次数过多" in reply and "已为您转人工客服，工单号 TK" in reply, reply
