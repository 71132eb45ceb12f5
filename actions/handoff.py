"""Handing the conversation to a human agent: a ticket with a masked summary, bot paused."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreBacked, StoreUnavailable
from actions.constants import UTTER_STORE_UNAVAILABLE, VERIFIED, VERIFIED_MERCHANT_ID
from bot.redaction import mask_pii

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


async def hand_off(
    action: StoreBacked, dispatcher: CollectingDispatcher, tracker: Tracker, reason: str = ""
) -> list[dict[str, Any]]:
    """Opens a handoff ticket, tells the merchant, and pauses the bot for this conversation.

    When the store is down the merchant gets the hotline instead and the bot is not paused
    (nobody would know to pick the conversation up).
    """
    summary = conversation_summary(tracker, reason)
    merchant_id = tracker.get_slot(VERIFIED_MERCHANT_ID) if tracker.get_slot(VERIFIED) else None
    try:
        ticket_id = await action.handoffs.open(
            sender_id=tracker.sender_id,
            summary=summary,
            now=action.clock(),
            merchant_id=merchant_id,
        )
    except StoreUnavailable:
        dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
        dispatcher.utter_message(response="utter_contact")
        return []
    dispatcher.utter_message(response="utter_handoff", ticket_id=ticket_id)
    return [ConversationPaused()]


class ActionHandoff(StoreBacked, Action):
    """request_human: hand the conversation to an agent."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        return await hand_off(self, dispatcher, tracker)
