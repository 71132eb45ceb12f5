"""Outside the agents' hours: a call-back booked on a slot, or a message left for them.

The slot comes from a button of ``action_handoff`` (``/book_callback{"callback_slot": …}``);
it is honoured only when it is one of the slots offered at this moment (bot.service_hours),
so a forged or stale payload books nothing. The number called is the verified merchant's
registered phone, or an 11-digit mobile number the merchant types (asked for when not
verified); replies show it masked. Both land on an ``after_hours`` ticket the agent desk lists.
"""

from __future__ import annotations

from typing import Any, Final

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreBacked, StoreUnavailable, latest_entity, latest_intent
from actions.case_change import phone_in_message
from actions.constants import UTTER_STORE_UNAVAILABLE, VERIFIED, VERIFIED_MERCHANT_ID
from actions.handoff import (
    BOOK_CALLBACK,
    CALLBACK_SLOT,
    UTTER_CALLBACK_SLOTS,
    callback_buttons,
    conversation_summary,
)
from bot.domain_values import mask_phone
from bot.service_hours import format_slot, parse_slot, slot_label
from bot.services.handoff_hours import CALLBACK, MESSAGE, TooMany

CALLBACK_PENDING: Final = "callback_pending"
CALLBACK_PENDING_SLOT: Final = "callback_pending_slot"
HANDOFF_NOTE: Final = "handoff_note"
DENY: Final = "deny"

Events = list[dict[str, Any]]


def _done() -> Events:
    return [SlotSet(CALLBACK_PENDING, False), SlotSet(CALLBACK_PENDING_SLOT, None)]


def _verified_merchant(tracker: Tracker) -> str | None:
    return tracker.get_slot(VERIFIED_MERCHANT_ID) if tracker.get_slot(VERIFIED) else None


class ActionBookCallback(StoreBacked, Action):
    """book_callback (a slot button) and the phone number or 不用了 that may follow."""

    def name(self) -> str:
        return "action_book_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        pending = tracker.get_slot(CALLBACK_PENDING_SLOT)
        if latest_intent(tracker) == BOOK_CALLBACK:
            wanted = latest_entity(tracker, CALLBACK_SLOT)
        elif latest_intent(tracker) == DENY and pending:
            dispatcher.utter_message(response="utter_callback_cancelled")
            return _done()
        else:
            wanted = pending
        offered = {format_slot(slot) for slot in self._slots()}
        slot = parse_slot(wanted)
        if slot is None or format_slot(slot) not in offered:
            buttons = callback_buttons(self)
            if not buttons:
                dispatcher.utter_message(response="utter_callback_not_needed")
                return _done()
            if wanted is not None:
                dispatcher.utter_message(response="utter_callback_slot_invalid")
            dispatcher.utter_message(response=UTTER_CALLBACK_SLOTS, buttons=buttons)
            return _done()
        merchant_id = _verified_merchant(tracker)
        try:
            phone = await self.handoff_hours.registered_phone(merchant_id) if merchant_id else None
            if phone is None:
                phone = phone_in_message(tracker)
            if phone is None:
                response = "utter_callback_phone_invalid" if pending else "utter_ask_callback_phone"
                dispatcher.utter_message(response=response, slot=slot_label(slot))
                return [
                    SlotSet(CALLBACK_PENDING, True),
                    SlotSet(CALLBACK_PENDING_SLOT, format_slot(slot)),
                ]
            ticket_id = await self.handoff_hours.record(
                kind=CALLBACK,
                sender_id=tracker.sender_id,
                summary=conversation_summary(tracker, "预约回电"),
                now=self.clock(),
                merchant_id=merchant_id,
                callback_at=slot,
                phone=phone,
            )
        except TooMany:
            dispatcher.utter_message(response="utter_after_hours_too_many")
            return _done()
        except StoreUnavailable:
            dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
            dispatcher.utter_message(response="utter_contact")
            return _done()
        dispatcher.utter_message(
            response="utter_callback_booked",
            slot=slot_label(slot),
            phone=mask_phone(phone),
            ticket_id=ticket_id,
        )
        return _done()

    def _slots(self) -> list[Any]:
        return self.service_hours.callback_slots(self.clock(), self.calendar)


class ActionLeaveMessage(StoreBacked, Action):
    """The message the merchant left (handoff_note_form) goes on an after-hours ticket."""

    def name(self) -> str:
        return "action_leave_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        note = str(tracker.get_slot(HANDOFF_NOTE) or "").strip()
        cleared = [SlotSet(HANDOFF_NOTE, None)]
        if not note:
            dispatcher.utter_message(response="utter_message_empty")
            return cleared
        now = self.clock()
        try:
            ticket_id = await self.handoff_hours.record(
                kind=MESSAGE,
                sender_id=tracker.sender_id,
                summary=conversation_summary(tracker, "留言"),
                now=now,
                merchant_id=_verified_merchant(tracker),
                message=note,
            )
        except TooMany:
            dispatcher.utter_message(response="utter_after_hours_too_many")
            return cleared
        except StoreUnavailable:
            dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
            dispatcher.utter_message(response="utter_contact")
            return cleared
        opening = self.service_hours.next_opening(now, self.calendar)
        dispatcher.utter_message(
            response="utter_message_left",
            ticket_id=ticket_id,
            next_opening=slot_label(opening) if opening else "",
        )
        return cleared
