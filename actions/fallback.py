"""Low-confidence messages: ask which of the two likeliest questions was meant."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreBacked, StoreUnavailable, response_text
from actions.constants import NLU_FALLBACK
from actions.handoff import hand_off

logger = logging.getLogger(__name__)

CLARIFY_ACTION = "action_clarify"
TOPIC_RESPONSE = "utter_topic_{}"


def previous_user_intent(tracker: Tracker) -> str | None:
    """The intent of the user message before the latest one."""
    users = [event for event in tracker.events if event.get("event") == "user"]
    if len(users) < 2:
        return None
    return ((users[-2].get("parse_data") or {}).get("intent") or {}).get("name")


class ActionClarify(StoreBacked, Action):
    """First miss: "您是想问…吗？" with two buttons; a second miss in a row: a human takes over."""

    def name(self) -> str:
        return CLARIFY_ACTION

    async def _record_miss(self, tracker: Tracker) -> None:
        """Keeps the missed message (masked) for `posbot review`; never fails the reply."""
        ranking = [
            item
            for item in tracker.latest_message.get("intent_ranking") or []
            if item.get("name") != NLU_FALLBACK
        ]
        guess = ranking[0] if ranking else {}
        try:
            await self.misses.record(
                sender_id=tracker.sender_id,
                text=str(tracker.latest_message.get("text") or ""),
                guess=guess.get("name"),
                confidence=guess.get("confidence"),
                now=self.clock(),
            )
        except StoreUnavailable:
            logger.warning("could not record a missed message: case store unavailable")

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        await self._record_miss(tracker)
        if previous_user_intent(tracker) == NLU_FALLBACK:
            return await hand_off(self, dispatcher, tracker, reason="连续两次未能理解")
        ranking = tracker.latest_message.get("intent_ranking") or []
        topics = []
        for candidate in ranking:
            intent = candidate.get("name")
            title = response_text(domain, TOPIC_RESPONSE.format(intent))
            if intent != NLU_FALLBACK and title:
                topics.append((intent, title))
            if len(topics) == 2:
                break
        if not topics:
            dispatcher.utter_message(response="utter_default")
            return []
        buttons = [{"title": title, "payload": f"/{intent}"} for intent, title in topics]
        buttons.append({"title": response_text(domain, "utter_topic_other"), "payload": "/deny"})
        if len(topics) == 2:
            dispatcher.utter_message(
                response="utter_clarify", first=topics[0][1], second=topics[1][1], buttons=buttons
            )
        else:
            dispatcher.utter_message(
                response="utter_clarify_single", first=topics[0][1], buttons=buttons
            )
        return []
