"""Opting out of (and back into) status notifications: "不要再通知我", "恢复通知"."""

from __future__ import annotations

from functools import cached_property
from typing import Final

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreBacked, StoreUnavailable, latest_intent
from actions.constants import VERIFIED, VERIFIED_MERCHANT_ID
from bot.services.notifications import NotificationService

OPT_OUT_INTENT: Final = "opt_out_notifications"
OPT_IN_INTENT: Final = "opt_in_notifications"


class ActionNotificationPreference(StoreBacked, Action):
    """Records the choice for this conversation and, once verified, for the merchant.

    Without verification the choice still covers this conversation (its WeChat account or
    widget), so nobody has to prove who they are to stop messages.
    """

    def name(self) -> str:
        return "action_notification_preference"

    @cached_property
    def notifications(self) -> NotificationService:
        """Preferences and the widget's inbox."""
        return NotificationService(self._store)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        opted_out = latest_intent(tracker) != OPT_IN_INTENT
        merchant_id = tracker.get_slot(VERIFIED_MERCHANT_ID) if tracker.get_slot(VERIFIED) else None
        try:
            await self.notifications.set_preference(
                merchant_id=merchant_id,
                sender_id=tracker.sender_id,
                opted_out=opted_out,
                now=self.clock(),
            )
        except StoreUnavailable:
            dispatcher.utter_message(response="utter_store_unavailable")
            return []
        dispatcher.utter_message(
            response="utter_notifications_off" if opted_out else "utter_notifications_on"
        )
        return []
