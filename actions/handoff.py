"""Handing the conversation to a human agent with a masked summary."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreBacked, StoreUnavailable
from actions.constants import UTTER_STORE_UNAVAILABLE, VERIFIED, VERIFIED_MERCHANT_ID
from bot.redaction import mask_pii
from bot.services.cases import open_handoff

MAX_SUMMARY_TURNS = 10
MAX_TURN_CHARS = 200


def conversation_summary(tracker: Tracker) -> str:
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
    return "\n".join([header, *lines[-MAX_SUMMARY_TURNS:]])


class ActionHandoff(StoreBacked, Action):
    """Opens a handoff ticket and tells the merchant its number and the service hours."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list:
        summary = conversation_summary(tracker)
        merchant_id = tracker.get_slot(VERIFIED_MERCHANT_ID) if tracker.get_slot(VERIFIED) else None
        now = self.clock()
        try:
            ticket_id = await self.in_session(
                lambda session: open_handoff(
                    session,
                    sender_id=tracker.sender_id,
                    summary=summary,
                    now=now,
                    merchant_id=merchant_id,
                )
            )
        except StoreUnavailable:
            dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
            dispatcher.utter_message(response="utter_contact")
            return []
        dispatcher.utter_message(response="utter_handoff", ticket_id=ticket_id)
        return []
