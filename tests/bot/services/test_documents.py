"""Documents attached to the verified merchant's case: rows, files, events, items, limits."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.services.copilot import CaseCardService
from bot.services.documents import (
    DocumentLimitReached,
    DocumentRejected,
    DocumentService,
    NoOpenCase,
    match_item,
    uploader_of,
)
from bot.store.database import CaseStore
from bot.store.documents import DocumentFiles
from bot.store.models import Case, CaseEvent, Document
from bot.store.seed import seed_demo_data
from tests.bot.store.conftest import pg_store  # noqa: F401  (fixture)
from tests.conftest import NOW
from tests.documents_samples import pdf, png

NEEDS_DOCS = "898310058127777"
UNDER_REVIEW = "898310058121234"
NO_CASE = "898310058120000"
APPROVED = "898310058128888"
SETTLEMENT = "结算账户变更证明"
ID_CARD = "法人身份证正反面照片"


@pytest.fixture
def files(tmp_path: Path) -> DocumentFiles:
    return DocumentFiles(tmp_path / "documents")


@pytest.fixture
def service(seeded_store: CaseStore, files: DocumentFiles) -> DocumentService:
    return DocumentService(seeded_store, files, per_conversation=3)


def _rows(store: CaseStore) -> list[Document]:
    with store.session() as session:
        return list(session.execute(select(Document).order_by(Document.id)).scalars())


def _events(store: CaseStore, kind: str) -> list[str]:
    with store.session() as session:
        query = select(CaseEvent.detail).where(CaseEvent.kind == kind).order_by(CaseEvent.id)
        return list(session.execute(query).scalars())


def _stored_files(files: DocumentFiles) -> list[Path]:
    return sorted(p for p in files.root.rglob("*") if p.is_file()) if files.root.exists() else []


async def test_two_missing_items_and_no_hint_ask_which_one_then_the_choice_assigns_it(
    service: DocumentService, seeded_store: CaseStore, files: DocumentFiles, now: datetime
) -> None:
    receipt = await service.receive(
        sender_id="rest:a", merchant_id=NEEDS_DOCS, data=png(), hint="IMG_0001.png", now=now
    )
    assert receipt.missing_item is None
    assert receipt.choices == (SETTLEMENT, ID_CARD)
    [row] = _rows(seeded_store)
    assert (row.missing_item, row.mime, row.uploader) == (None, "image/png", uploader_of("rest:a"))
    assert files.read(row.sha256) is not None
    assert _stored_files(files) == [files.path_of(row.sha256)]  # no temporary file left
    assert _events(seeded_store, "document_received") == [
        f"#{row.id} image/png {row.size} bytes: 待确认"
    ]

    chosen = await service.choose(sender_id="rest:a", merchant_id=NEEDS_DOCS, said=ID_CARD, now=now)
    assert chosen is not None
    assert (chosen.missing_item, chosen.still_missing) == (ID_CARD, (SETTLEMENT,))
    assert _rows(seeded_store)[0].missing_item == ID_CARD
    assert _events(seeded_store, "document_assigned") == [f"#{row.id} {ID_CARD}"]

    # The last missing item: a second file is taken for it without asking.
    last = await service.receive(
        sender_id="rest:a", merchant_id=NEEDS_DOCS, data=pdf(), hint="", now=now
    )
    assert (last.missing_item, last.still_missing) == (SETTLEMENT, ())


async def test_a_file_name_naming_an_item_decides(service: DocumentService, now: datetime) -> None:
    receipt = await service.receive(
        sender_id="rest:b", merchant_id=NEEDS_DOCS, data=png(), hint="身份证正面.png", now=now
    )
    assert (receipt.missing_item, receipt.still_missing) == (ID_CARD, (SETTLEMENT,))


async def test_a_case_without_missing_items_gets_a_supplement(
    service: DocumentService, seeded_store: CaseStore, now: datetime
) -> None:
    receipt = await service.receive(
        sender_id="rest:c", merchant_id=UNDER_REVIEW, data=pdf(), hint="", now=now
    )
    assert (receipt.missing_item, receipt.still_missing) == ("", ())
    with seeded_store.session() as session:
        case = session.get(Case, receipt.case_id)
        assert case is not None and case.merchant_id == UNDER_REVIEW


@pytest.mark.parametrize("merchant_id", [NO_CASE, APPROVED])
async def test_no_open_case_keeps_nothing(
    service: DocumentService,
    seeded_store: CaseStore,
    files: DocumentFiles,
    now: datetime,
    merchant_id: str,
) -> None:
    with pytest.raises(NoOpenCase):
        await service.receive(
            sender_id="rest:d", merchant_id=merchant_id, data=png(), hint="", now=now
        )
    assert _rows(seeded_store) == [] and _stored_files(files) == []


async def test_a_refused_file_keeps_nothing(
    service: DocumentService, seeded_store: CaseStore, files: DocumentFiles, now: datetime
) -> None:
    with pytest.raises(DocumentRejected):
        await service.receive(
            sender_id="rest:e", merchant_id=NEEDS_DOCS, data=png()[:50], hint="", now=now
        )
    assert _rows(seeded_store) == [] and _stored_files(files) == []
    assert _events(seeded_store, "document_received") == []


async def test_the_conversation_cap_refuses_more(
    service: DocumentService, seeded_store: CaseStore, now: datetime
) -> None:
    for _ in range(3):
        await service.receive(
            sender_id="rest:f", merchant_id=UNDER_REVIEW, data=png(), hint="", now=now
        )
    with pytest.raises(DocumentLimitReached):
        await service.receive(
            sender_id="rest:f", merchant_id=UNDER_REVIEW, data=png(), hint="", now=now
        )
    assert len(_rows(seeded_store)) == 3
    # The same content is kept once.
    assert len({row.sha256 for row in _rows(seeded_store)}) == 1


async def test_another_merchant_cannot_take_a_waiting_document(
    service: DocumentService, seeded_store: CaseStore, now: datetime
) -> None:
    await service.receive(sender_id="rest:g", merchant_id=NEEDS_DOCS, data=png(), hint="", now=now)
    assert (
        await service.choose(sender_id="rest:g", merchant_id=UNDER_REVIEW, said=ID_CARD, now=now)
        is None
    )
    assert (
        await service.choose(sender_id="rest:other", merchant_id=NEEDS_DOCS, said=ID_CARD, now=now)
        is None
    )
    assert _rows(seeded_store)[0].missing_item is None


async def test_words_naming_no_missing_item_ask_again(
    service: DocumentService, now: datetime
) -> None:
    await service.receive(sender_id="rest:h", merchant_id=NEEDS_DOCS, data=png(), hint="", now=now)
    again = await service.choose(
        sender_id="rest:h", merchant_id=NEEDS_DOCS, said="营业执照", now=now
    )
    assert again is not None and again.missing_item is None
    assert again.choices == (SETTLEMENT, ID_CARD)


async def test_agents_list_and_read_documents_and_the_copilot_card_shows_them(
    service: DocumentService, seeded_store: CaseStore, now: datetime
) -> None:
    receipt = await service.receive(
        sender_id="rest:i", merchant_id=NEEDS_DOCS, data=pdf(), hint="结算账户变更证明.pdf", now=now
    )
    listed = await service.listed([receipt.case_id])
    assert [(d["document_id"], d["missing_item"], d["mime"]) for d in listed] == [
        (receipt.document_id, SETTLEMENT, "application/pdf")
    ]
    assert "uploader" not in listed[0]
    found = await service.file(receipt.document_id)
    assert found is not None and found.data == pdf()
    assert found.filename == f"{receipt.case_id}-{receipt.document_id}.pdf"
    assert await service.file(receipt.document_id + 1) is None
    card = await CaseCardService(seeded_store).card(
        ids={"merchant_id": NEEDS_DOCS}, agent_id="alice", call_id="c1", now=now
    )
    assert card is not None
    assert [d["document_id"] for d in card["documents"]] == [receipt.document_id]


def test_hints_match_one_item_or_none() -> None:
    items = (SETTLEMENT, ID_CARD)
    assert match_item("身份证.jpg", items) == ID_CARD
    assert match_item("结算账户变更证明扫描件.pdf", items) == SETTLEMENT
    assert match_item("IMG_2026.jpg", items) is None
    assert match_item("证明", items) is None
    assert match_item("../../etc/passwd", items) is None


def test_file_store_refuses_paths_that_are_not_hashes(files: DocumentFiles) -> None:
    for bad in ("../../etc/passwd", "A" * 64, "0" * 63):
        with pytest.raises(ValueError):
            files.path_of(bad)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest) -> CaseStore:
    if request.param == "sqlite":
        return request.getfixturevalue("seeded_store")
    store = request.getfixturevalue("pg_store")
    store.create_schema()
    seed_demo_data(store, now=NOW)
    return store


async def test_the_cap_holds_for_uploads_at_the_same_time(
    any_store: CaseStore, files: DocumentFiles, now: datetime
) -> None:
    service = DocumentService(any_store, files, per_conversation=3)

    async def upload(number: int) -> str:
        try:
            await service.receive(
                sender_id="rest:burst", merchant_id=UNDER_REVIEW, data=png(), hint="", now=now
            )
        except DocumentLimitReached:
            return "refused"
        return "kept"

    outcomes = await asyncio.gather(*(upload(number) for number in range(8)))

    assert sorted(outcomes) == ["kept"] * 3 + ["refused"] * 5
    assert len(_rows(any_store)) == 3
    assert len(_events(any_store, "document_received")) == 3
