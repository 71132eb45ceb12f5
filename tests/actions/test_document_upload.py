"""action_choose_document_item: the merchant names the missing document a sent file is."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from rasa_sdk.executor import CollectingDispatcher

from actions.document_upload import ActionChooseDocumentItem
from bot.services.documents import DocumentService
from bot.store.database import CaseStore
from bot.store.documents import DocumentFiles
from tests.actions.helpers import make_tracker, message, said, verified_as
from tests.documents_samples import png

MERCHANT = "898310058127777"
ID_CARD = "法人身份证正反面照片"
SETTLEMENT = "结算账户变更证明"
SENDER = "rest:web-0123456789abcdef01234567"


async def _waiting_document(store: CaseStore, tmp_path: Path, now: datetime) -> None:
    service = DocumentService(store, DocumentFiles(tmp_path / "documents"))
    receipt = await service.receive(
        sender_id=SENDER, merchant_id=MERCHANT, data=png(), hint="", now=now
    )
    assert receipt.missing_item is None


def _action(store: CaseStore, now: datetime) -> ActionChooseDocumentItem:
    return ActionChooseDocumentItem(store, clock=lambda: now)


async def test_the_button_assigns_the_item_and_names_what_is_still_missing(
    seeded_store: CaseStore, tmp_path: Path, now: datetime, domain: dict
) -> None:
    await _waiting_document(seeded_store, tmp_path, now)
    tracker = make_tracker(
        "choose_document_item",
        slots=verified_as(MERCHANT),
        entities=[{"entity": "document_item", "value": ID_CARD}],
        text="/choose_document_item" + json.dumps({"document_item": ID_CARD}),
        sender_id=SENDER,
    )
    dispatcher = CollectingDispatcher()
    assert await _action(seeded_store, now).run(dispatcher, tracker, domain) == []
    assert said(dispatcher) == ["utter_document_received_for", "utter_document_still_missing"]
    assert message(dispatcher, "utter_document_received_for")["item"] == ID_CARD
    assert message(dispatcher, "utter_document_still_missing")["missing"] == SETTLEMENT


async def test_typed_words_that_name_no_missing_item_get_the_buttons_again(
    seeded_store: CaseStore, tmp_path: Path, now: datetime, domain: dict
) -> None:
    await _waiting_document(seeded_store, tmp_path, now)
    tracker = make_tracker(
        "choose_document_item", slots=verified_as(MERCHANT), text="这张是营业执照", sender_id=SENDER
    )
    dispatcher = CollectingDispatcher()
    await _action(seeded_store, now).run(dispatcher, tracker, domain)
    reply = message(dispatcher, "utter_document_not_missing")
    assert [b["title"] for b in reply["buttons"]] == [SETTLEMENT, ID_CARD]
    assert reply["buttons"][0]["payload"] == (
        '/choose_document_item{"document_item": "结算账户变更证明"}'
    )


async def test_unverified_or_another_conversation_changes_nothing(
    seeded_store: CaseStore, tmp_path: Path, now: datetime, domain: dict
) -> None:
    await _waiting_document(seeded_store, tmp_path, now)
    dispatcher = CollectingDispatcher()
    unverified = make_tracker("choose_document_item", text=ID_CARD, sender_id=SENDER)
    await _action(seeded_store, now).run(dispatcher, unverified, domain)
    assert said(dispatcher) == ["utter_document_verify_first"]
    dispatcher = CollectingDispatcher()
    elsewhere = make_tracker(
        "choose_document_item", slots=verified_as(MERCHANT), text=ID_CARD, sender_id="rest:other"
    )
    await _action(seeded_store, now).run(dispatcher, elsewhere, domain)
    assert said(dispatcher) == ["utter_document_nothing_waiting"]


async def test_store_down_is_a_polite_answer(tmp_path: Path, now: datetime, domain: dict) -> None:
    broken = CaseStore(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("choose_document_item", slots=verified_as(MERCHANT), text=ID_CARD)
    await _action(broken, now).run(dispatcher, tracker, domain)
    assert said(dispatcher) == ["utter_store_unavailable"]
