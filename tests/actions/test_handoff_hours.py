"""Handoffs with the clock: queue position and wait inside the hours; a message or a call-back
outside them (the bot stays active), forged or stale slot payloads refused."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.after_hours import ActionBookCallback, ActionLeaveMessage
from actions.handoff import ActionHandoff
from bot.service_hours import ServiceHours
from bot.services.handoff_hours import note_agent_reply
from bot.store.models import AfterHoursRequest, HandoffTiming, Ticket
from tests.actions.helpers import make_tracker, message, said, slot_events, verified_as

NINE_TO_SIX = ServiceHours((9 * 60, 18 * 60))
MONDAY_TEN = datetime(2026, 11, 30, 10, 0)
FRIDAY_EVENING = datetime(2026, 11, 27, 19, 30)
MONDAY_SLOTS = ["2026-11-30T09:00", "2026-11-30T09:30", "2026-11-30T10:00", "2026-11-30T10:30"]


def slot_entity(value: str) -> list[dict]:
    return [{"entity": "callback_slot", "value": value}]


async def run(action, tracker, domain):
    dispatcher = CollectingDispatcher()
    return dispatcher, await action.run(dispatcher, tracker, domain)


def handoff(store, calendar, now):
    return ActionHandoff(
        store=store, calendar=calendar, clock=lambda: now, service_hours=NINE_TO_SIX
    )


def requests(store) -> list[AfterHoursRequest]:
    with store.session() as session:
        return list(session.execute(select(AfterHoursRequest)).scalars())


async def test_inside_the_hours_the_merchant_learns_the_queue_and_the_wait(
    seeded_store, calendar, domain
):
    for index, sender in enumerate(["first", "second", "third"]):
        action = handoff(seeded_store, calendar, MONDAY_TEN + timedelta(minutes=index))
        dispatcher, events = await run(
            action, make_tracker("request_human", text="转人工", sender_id=sender), domain
        )
        assert events == [{"event": "pause", "timestamp": None}]
    # Two waiting before "third", no history: 2 x the default 5 minutes.
    reply = message(dispatcher, "utter_handoff")
    assert (reply["ticket_id"], reply["queue_ahead"], reply["wait_minutes"]) == (
        "TK202611300003",
        2,
        10,
    )
    # An agent answers "first": it is no longer waiting ahead of anyone.
    with seeded_store.session() as session:
        note_agent_reply(session, sender_id="first", now=MONDAY_TEN + timedelta(minutes=5))
    dispatcher, _ = await run(
        handoff(seeded_store, calendar, MONDAY_TEN + timedelta(minutes=6)),
        make_tracker("request_human", sender_id="fourth"),
        domain,
    )
    assert message(dispatcher, "utter_handoff")["queue_ahead"] == 2  # second and third


async def test_the_wait_comes_from_recent_handling_times_when_there_are_enough(
    seeded_store, calendar, domain
):
    with seeded_store.session() as session:
        for number, minutes in enumerate([4, 12, 6], start=1):
            ticket_id = f"TK20261129000{number}"
            opened = datetime(2026, 11, 29, 9, 0)
            session.add(
                Ticket(
                    ticket_id=ticket_id,
                    kind="handoff",
                    sender_id=f"old{number}",
                    summary="",
                    status="closed",
                    created_at=opened,
                )
            )
            session.flush()
            session.add(
                HandoffTiming(
                    ticket_id=ticket_id,
                    picked_up_at=opened,
                    closed_at=opened + timedelta(minutes=minutes),
                    closed_by="alice",
                )
            )
    for sender in ["a", "b", "c"]:
        dispatcher, _ = await run(
            handoff(seeded_store, calendar, MONDAY_TEN),
            make_tracker("request_human", sender_id=sender),
            domain,
        )
    reply = message(dispatcher, "utter_handoff")
    assert (reply["queue_ahead"], reply["wait_minutes"]) == (2, 12)  # median 6 min x 2


async def test_outside_the_hours_nothing_is_paused_and_slots_are_offered(
    seeded_store, calendar, domain
):
    dispatcher, events = await run(
        handoff(seeded_store, calendar, FRIDAY_EVENING),
        make_tracker("request_human", text="转人工"),
        domain,
    )
    assert events == []
    assert said(dispatcher) == ["utter_handoff_closed", "utter_callback_slots"]
    closed = message(dispatcher, "utter_handoff_closed")
    assert (closed["hours"], closed["next_opening"]) == ("09:00-18:00", "11月30日 09:00")
    buttons = message(dispatcher, "utter_callback_slots")["buttons"]
    assert [b["title"] for b in buttons] == [
        "11月30日 09:00",
        "11月30日 09:30",
        "11月30日 10:00",
        "11月30日 10:30",
    ]
    assert [b["payload"] for b in buttons] == [
        f'/book_callback{{"callback_slot":"{slot}"}}' for slot in MONDAY_SLOTS
    ]
    with seeded_store.session() as session:
        assert session.execute(select(Ticket)).first() is None


async def test_on_a_holiday_the_slots_are_on_the_first_working_day_after_it(
    seeded_store, calendar, domain
):
    dispatcher, _ = await run(
        handoff(seeded_store, calendar, datetime(2026, 10, 2, 11, 0)),
        make_tracker("request_human"),
        domain,
    )
    buttons = message(dispatcher, "utter_callback_slots")["buttons"]
    assert buttons[0]["title"] == "10月8日 09:00"


def booking(store, calendar, now=FRIDAY_EVENING):
    return ActionBookCallback(
        store=store, calendar=calendar, clock=lambda: now, service_hours=NINE_TO_SIX
    )


async def test_a_verified_merchant_is_called_back_on_the_registered_phone(
    seeded_store, calendar, domain
):
    tracker = make_tracker(
        "book_callback",
        entities=slot_entity("2026-11-30T09:30"),
        slots=verified_as("898310058121234"),
        sender_id="shop",
    )
    dispatcher, events = await run(booking(seeded_store, calendar), tracker, domain)
    reply = message(dispatcher, "utter_callback_booked")
    assert (reply["slot"], reply["phone"], reply["ticket_id"]) == (
        "11月30日 09:30",
        "138****5678",
        "TK202611270001",
    )
    assert slot_events(events) == {"callback_pending": False, "callback_pending_slot": None}
    (request,) = requests(seeded_store)
    assert (request.kind, request.sender_id, request.merchant_id, request.phone) == (
        "callback",
        "shop",
        "898310058121234",
        "13812345678",
    )
    assert request.callback_at == datetime(2026, 11, 30, 9, 30)


async def test_an_unverified_merchant_types_the_number(seeded_store, calendar, domain):
    action = booking(seeded_store, calendar)
    first = make_tracker("book_callback", entities=slot_entity("2026-11-30T10:00"))
    dispatcher, events = await run(action, first, domain)
    assert said(dispatcher) == ["utter_ask_callback_phone"]
    pending = slot_events(events)
    assert pending == {"callback_pending": True, "callback_pending_slot": "2026-11-30T10:00"}
    # Not a mobile number: asked again, nothing stored.
    dispatcher, events = await run(
        action, make_tracker("inform", text="12345678901", slots=pending), domain
    )
    assert said(dispatcher) == ["utter_callback_phone_invalid"]
    assert slot_events(events)["callback_pending"] is True
    assert requests(seeded_store) == []
    entities = [{"entity": "phone_number", "value": "13911112222"}]
    dispatcher, events = await run(
        action,
        make_tracker("inform", text="13911112222", entities=entities, slots=pending),
        domain,
    )
    assert message(dispatcher, "utter_callback_booked")["phone"] == "139****2222"
    assert slot_events(events)["callback_pending"] is False
    (request,) = requests(seeded_store)
    assert (request.phone, request.merchant_id) == ("13911112222", None)


async def test_no_callback_after_all(seeded_store, calendar, domain):
    pending = {"callback_pending": True, "callback_pending_slot": "2026-11-30T10:00"}
    dispatcher, events = await run(
        booking(seeded_store, calendar), make_tracker("deny", text="不用了", slots=pending), domain
    )
    assert said(dispatcher) == ["utter_callback_cancelled"]
    assert slot_events(events)["callback_pending"] is False
    assert requests(seeded_store) == []


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-30T03:00",  # not a slot of the hours
        "2026-11-30T11:00",  # inside the hours but not offered
        "2026-11-27T09:00",  # in the past
        "2026-12-25T09:00",  # far ahead
        "2026-11-30 09:00",
        "not a slot",
        '"; DROP TABLE tickets; --',
        "9" * 5000,
    ],
)
async def test_a_forged_or_stale_slot_books_nothing(seeded_store, calendar, domain, value):
    tracker = make_tracker(
        "book_callback", entities=slot_entity(value), slots=verified_as("898310058121234")
    )
    dispatcher, events = await run(booking(seeded_store, calendar), tracker, domain)
    assert said(dispatcher) == ["utter_callback_slot_invalid", "utter_callback_slots"]
    assert slot_events(events)["callback_pending"] is False
    assert requests(seeded_store) == []


async def test_a_pending_slot_that_went_stale_is_refused(seeded_store, calendar, domain):
    # The number arrives on Monday at 10:15: 09:30 is gone.
    pending = {"callback_pending": True, "callback_pending_slot": "2026-11-30T09:30"}
    entities = [{"entity": "phone_number", "value": "13911112222"}]
    action = booking(seeded_store, calendar, now=datetime(2026, 11, 30, 18, 15))
    dispatcher, _ = await run(
        action, make_tracker("inform", entities=entities, slots=pending), domain
    )
    assert said(dispatcher) == ["utter_callback_slot_invalid", "utter_callback_slots"]
    assert requests(seeded_store) == []


async def test_a_typed_booking_request_inside_the_hours_points_to_the_queue(
    seeded_store, calendar, domain
):
    action = ActionBookCallback(
        store=seeded_store,
        calendar=calendar,
        clock=lambda: MONDAY_TEN,
        service_hours=ServiceHours(),
    )
    dispatcher, _ = await run(action, make_tracker("book_callback", text="预约回电"), domain)
    assert said(dispatcher) == ["utter_callback_not_needed"]


async def test_a_typed_booking_request_outside_the_hours_gets_the_slots(
    seeded_store, calendar, domain
):
    dispatcher, _ = await run(
        booking(seeded_store, calendar), make_tracker("book_callback", text="预约回电"), domain
    )
    assert said(dispatcher) == ["utter_callback_slots"]


async def test_a_left_message_is_stored_masked(seeded_store, calendar, domain):
    action = ActionLeaveMessage(
        store=seeded_store,
        calendar=calendar,
        clock=lambda: FRIDAY_EVENING,
        service_hours=NINE_TO_SIX,
    )
    note = "打印机坏了，明天上午打我13812345678，密码是654321"
    dispatcher, events = await run(
        action, make_tracker("inform", text=note, slots={"handoff_note": note}), domain
    )
    reply = message(dispatcher, "utter_message_left")
    assert (reply["ticket_id"], reply["next_opening"]) == ("TK202611270001", "11月30日 09:00")
    assert slot_events(events) == {"handoff_note": None}
    (request,) = requests(seeded_store)
    assert request.kind == "message" and request.phone is None
    assert "13812345678" not in request.message and "654321" not in request.message
    assert request.message.startswith("打印机坏了，明天上午打我138****5678")


async def test_at_most_three_open_requests_per_conversation(seeded_store, calendar, domain):
    action = ActionLeaveMessage(
        store=seeded_store,
        calendar=calendar,
        clock=lambda: FRIDAY_EVENING,
        service_hours=NINE_TO_SIX,
    )
    for _ in range(3):
        await run(action, make_tracker("inform", slots={"handoff_note": "你好"}), domain)
    fourth = make_tracker("inform", slots={"handoff_note": "再来"})
    dispatcher, _ = await run(action, fourth, domain)
    assert said(dispatcher) == ["utter_after_hours_too_many"]
    assert len(requests(seeded_store)) == 3


async def test_a_long_message_is_cut_to_500_characters(seeded_store, calendar, domain):
    action = ActionLeaveMessage(
        store=seeded_store,
        calendar=calendar,
        clock=lambda: FRIDAY_EVENING,
        service_hours=NINE_TO_SIX,
    )
    dispatcher, _ = await run(
        action, make_tracker("inform", slots={"handoff_note": "很" * 600}), domain
    )
    assert said(dispatcher) == ["utter_message_left"]
    (request,) = requests(seeded_store)
    assert request.message == "很" * 500
