"""Which documents to prepare: for the reason named now, or the one known from earlier."""

from __future__ import annotations

import re
from typing import Final

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, latest_entity
from actions.constants import SUSPENSION_REASON
from bot.domain_values import SUSPENSION_REASONS

# "申请要填密码吗": the application never needs a password, PIN or code.
_PASSWORD_QUESTION: Final = re.compile(r"密码|验证码|PIN|pin|口令")


class ActionRequiredDocuments(Action):
    """The checklist for the reason in the message or remembered, or the general list."""

    def name(self) -> str:
        return "action_required_documents"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        if _PASSWORD_QUESTION.search(str(tracker.latest_message.get("text") or "")):
            dispatcher.utter_message(response="utter_no_password")
            return []
        reason = latest_entity(tracker, SUSPENSION_REASON)
        if reason not in SUSPENSION_REASONS:
            # Stated earlier by the merchant ("我是欠款被停的") or told after verification.
            reason = tracker.get_slot(SUSPENSION_REASON)
        if reason in SUSPENSION_REASONS:
            dispatcher.utter_message(response=f"utter_documents_{reason}")
        else:
            dispatcher.utter_message(response="utter_required_documents")
        return []
