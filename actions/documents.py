"""Which documents to prepare, for the reason the merchant named if any."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, latest_entity
from actions.constants import SUSPENSION_REASON
from bot.domain_values import SUSPENSION_REASONS


class ActionRequiredDocuments(Action):
    """The checklist for the reason in the message, or the general list."""

    def name(self) -> str:
        return "action_required_documents"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        reason = latest_entity(tracker, SUSPENSION_REASON)
        if reason in SUSPENSION_REASONS:
            dispatcher.utter_message(response=f"utter_documents_{reason}")
        else:
            dispatcher.utter_message(response="utter_required_documents")
        return []
