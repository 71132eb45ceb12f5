"""Which missing document a file the merchant sent is (the button or their words)."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Final

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import DomainDict, StoreBacked, StoreUnavailable, latest_entity
from actions.constants import UTTER_STORE_UNAVAILABLE, VERIFIED, VERIFIED_MERCHANT_ID
from bot.services.documents import DocumentService, Receipt

DOCUMENT_ITEM: Final = "document_item"
CHOOSE_INTENT: Final = "choose_document_item"
MAX_SAID_CHARS: Final = 200


def _buttons(choices: tuple[str, ...]) -> list[dict[str, str]]:
    return [
        {
            "title": item,
            "payload": f"/{CHOOSE_INTENT}" + json.dumps({DOCUMENT_ITEM: item}, ensure_ascii=False),
        }
        for item in choices
    ]


class ActionChooseDocumentItem(StoreBacked, Action):
    """Takes the conversation's waiting file for the missing item the merchant named."""

    def name(self) -> str:
        return "action_choose_document_item"

    @cached_property
    def documents(self) -> DocumentService:
        """Documents sent in the chat."""
        return DocumentService(self._store)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list:
        merchant_id = tracker.get_slot(VERIFIED_MERCHANT_ID)
        if tracker.get_slot(VERIFIED) is not True or not merchant_id:
            dispatcher.utter_message(response="utter_document_verify_first")
            return []
        said = latest_entity(tracker, DOCUMENT_ITEM) or str(
            tracker.latest_message.get("text") or ""
        )
        try:
            receipt = await self.documents.choose(
                sender_id=tracker.sender_id,
                merchant_id=str(merchant_id),
                said=said.strip()[:MAX_SAID_CHARS],
                now=self.clock(),
            )
        except StoreUnavailable:
            dispatcher.utter_message(response=UTTER_STORE_UNAVAILABLE)
            return []
        if receipt is None:
            dispatcher.utter_message(response="utter_document_nothing_waiting")
            return []
        self._tell(dispatcher, receipt, said)
        return []

    @staticmethod
    def _tell(dispatcher: CollectingDispatcher, receipt: Receipt, said: str) -> None:
        if receipt.missing_item is None:
            dispatcher.utter_message(
                response="utter_document_not_missing",
                buttons=_buttons(receipt.choices),
                item=said[:40],
                case_id=receipt.case_id,
            )
            return
        dispatcher.utter_message(
            response="utter_document_received_for",
            item=receipt.missing_item,
            case_id=receipt.case_id,
        )
        if receipt.still_missing:
            dispatcher.utter_message(
                response="utter_document_still_missing", missing="；".join(receipt.still_missing)
            )
        else:
            dispatcher.utter_message(response="utter_document_all_received")
