"""Handing the conversation to a human agent: a ticket with a masked summary, bot paused.

Inside the agents' hours (``POSBOT_HANDOFF_HOURS``, bot.service_hours) the merchant learns the
queue position and the expected wait. Outside them the bot is not paused: it offers to leave a
message or book a call-back slot (actions/after_hours.py) and keeps answering questions.
"""

from __future__ import annotations

from typing import Any, Final

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreBacked, StoreUnavailable
from actions.constants import UTTER_STORE_UNAVAILABLE, VERIFIED, VERIFIED_MERCHANT_ID
from bot.redaction import mask_pii
from bot.service_hours import format_slot, slot_label
from bot.settings import HANDOFF_MINUTES_PER_CONVERSATION

UTTER_HANDOFF: Final = "utter_handoff"
UTTER_HANDOFF_CLOSED: Final = "utter_handoff_closed"
UTTER_CALLBACK_SLOTS: Final = "utter_callback_slots"
BOOK_CALLBACK: Final = "book_callback"
CALLBACK_SLOT: Final = "callback_slot"

# The action call carries the events of the last 10 user turns (bot.action_payload,
# ACTION_HISTORY_USER_TURNS): the summary must not ask for more.
MAX_SUMMARY_TURNS = 10
MAX_TURN_CHARS = 200


def conversation_summary(tracker: Tracker, reason: str = "") -> str:
    """The last user turns with their intents, personal data masked."""
    lines = []
    for event in tracker.events:
        if event.get("event") != "user":
            continue
        parse = event.get("parse_data") or {}
        intent = (parse.get("intent") or {}).get("name") or "?"
        text = mask_pii(str(event.get("text") or ""))[:MAX_TURN_CHARS]
        lines.append(f"[{intent}] {text}")
    verified = tracker.get_slot(VERIFIED_MERCHANT_ID) if tracker.get_slot(VERIFIED) else None
    header = f"已验证商户：{verified}" if verified else "身份未验证"
    if reason:
        header += f"；转人工原因：{reason}"
    return "\n".join([header, *lines[-MAX_SUMMARY_TURNS:]])


def callback_buttons(action: StoreBacked) -> list[dict[str, str]]:
    """One button per call-back slot of the next opening day (none when always open)."""
    slots = action.service_hours.callback_slots(action.clock(), action.calendar)
    return [
        {
            "title": slot_label(slot),
            "payload": f'/{BOOK_CALLBACK}{{"{CALLBACK_SLOT}":"{format_slot(slot)}"}}',
        }
        for slot in slots
    ]


def offer_after_hours(action: StoreBacked, dispatcher: CollectingDispatcher) -> None:
    """Outside the agents' hours: the hours, the next opening, a message or a call-back slot."""
    hours = action.service_hours
    opening = hours.next_opening(action.clock(), action.calendar)
    dispatcher.utter_message(
        response=UTTER_HANDOFF_CLOSED,
        hours=hours.label(),
        next_opening=slot_label(opening) if opening else "",
    )
    buttons = callback_buttons(action)
    if buttons:
        dispatcher.utter_message(response=UTTER_CALLBACK_SLOTS, buttons=buttons)


async def hand_off(
    action: StoreBacked, dispatcher: CollectingDispatcher, tracker: Tracker, reason: str = ""
) -> list[dict[str, Any]]:
    """Opens a handoff ticket, tells the merchant the queue position and expected wait, and
    pauses the bot for this conversation.

    Outside the agents' hours nothing is paused: the merchant may leave a message or book a
    call-back, and the bot keeps answering. When the store is down the merchant gets the
    hotline instead and the bot is not paused (nobody would know to pick the conversation up).
    """
    now = action.clock()
    if not action.service_hours.is_open(now, action.calendar):
        offer_after_hours(action, dispatcher)
        return []
    summary = conversation_summary(tracker, reason)
    merchant_id = tracker.get_slot(VERIFIED_MERCHANT_ID) if tracker.get_slot(VERIFIED) else None
    try:
        queued = await action.handoff_hours.open_queued(
            sender_id=tracker.sender_id,
            summary=summary,
            now=now,
            merchant_id=merchant_id,
            default_minutes=HANDOFF_MINUTES_PER_CONVERSATION.read(),
        )
    except StoreUnavailable:
        dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
        dispatcher.utter_message(response="utter_contact")
        return []
    dispatcher.utter_message(
        response=UTTER_HANDOFF,
        ticket_id=queued.ticket_id,
        queue_ahead=queued.queue.ahead,
        wait_minutes=queued.queue.expected_wait_minutes,
    )
    return [ConversationPaused()]


class ActionHandoff(StoreBacked, Action):
    """request_human: hand the conversation to an agent."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        return await hand_off(self, dispatcher, tracker)
