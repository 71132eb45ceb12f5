"""Documents a verified merchant sends for their case: checked, kept, attached, listed.

The file is checked by content (:mod:`bot.services.document_check`), written atomically under
its sha256 and only then recorded (a ``documents`` row and a ``document_received`` case event
in one transaction), so there is never a row without its file. Which missing document it is:
the one the file name or caption names, else the only one still missing; with several and no
hint the row waits (``missing_item`` ``NULL``) until the merchant picks one.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from bot.domain_values import OPEN_CASE_STATUSES
from bot.services.base import CaseStore, StoreService
from bot.services.document_check import (
    EXTENSIONS,
    CheckedDocument,
    DocumentRejected,
    Problem,
    check_document,
)
from bot.settings import (
    DOCUMENTS_DIR,
    DOCUMENTS_MAX_BYTES,
    DOCUMENTS_MAX_PIXELS,
    DOCUMENTS_PER_CONVERSATION,
)
from bot.store.documents import DocumentFiles, DocumentRepository
from bot.store.models import Case, Document
from bot.store.repositories import CaseRepository, VerificationLockRepository

__all__ = [
    "DocumentLimitReached",
    "DocumentRejected",
    "DocumentService",
    "NoOpenCase",
    "Problem",
    "Receipt",
    "uploader_of",
]

NEEDS_DOCUMENTS: Final = "needs_documents"
RECEIVED: Final = "document_received"
ASSIGNED: Final = "document_assigned"
# The case listed nothing missing: the file is kept as a supplement.
SUPPLEMENT: Final = ""
RECENT_LIMIT: Final = 100
# Words of an item that say how it is sent, not what it is ("法人身份证正反面照片" → "法人身份证").
_FORM_WORDS: Final = re.compile(r"照片|复印件|扫描件|正反面|原件|副本|图片|材料|证明文件")
_HINT_NOISE: Final = re.compile(r"\.[A-Za-z0-9]{1,5}$|[\s_\-—.()（）\[\]【】0-9]+")
MIN_SHARED_CHARS: Final = 3


class NoOpenCase(LookupError):
    """The verified merchant has no open case to attach a document to."""


class DocumentLimitReached(RuntimeError):
    """The conversation has sent as many documents as it may."""


#: Key prefix of the row lock that serialises one conversation's uploads (``verification_locks``).
UPLOAD_LOCK_PREFIX: Final = "uploads:"


def uploader_of(sender_id: str) -> str:
    """The hash recorded for the conversation that sent a document (not its sender id)."""
    return hashlib.sha256(sender_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Receipt:
    """What became of a document: its case, the item it was taken for, what is still missing.

    ``missing_item`` is ``None`` when the merchant must pick one of ``choices``, ``""`` when
    the case listed nothing missing.
    """

    document_id: int
    case_id: str
    missing_item: str | None
    still_missing: tuple[str, ...]
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentFile:
    """A stored document for an agent: its bytes and how to serve them."""

    document_id: int
    case_id: str
    mime: str
    data: bytes

    @property
    def filename(self) -> str:
        """A safe download name (no user text in it)."""
        return f"{self.case_id}-{self.document_id}.{EXTENSIONS[self.mime]}"


def _core(item: str) -> str:
    return _FORM_WORDS.sub("", item) or item


def _shared(a: str, b: str) -> int:
    """Length of the longest run of characters ``a`` and ``b`` share."""
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


def match_item(hint: str, items: Sequence[str]) -> str | None:
    """The item a file name or caption names best ("身份证正面.jpg" → "法人身份证正反面照片"),
    or ``None`` when none shares a word of three characters or two share as much."""
    cleaned = _HINT_NOISE.sub("", hint)
    scores = sorted(((_shared(cleaned, _core(item)), item) for item in items), reverse=True)
    if not scores or scores[0][0] < MIN_SHARED_CHARS:
        return None
    if len(scores) > 1 and scores[1][0] == scores[0][0]:
        return None
    return scores[0][1]


def still_missing(case: Case, documents: Sequence[Document]) -> tuple[str, ...]:
    """The case's missing items that no document was taken for yet."""
    covered = {document.missing_item for document in documents}
    return tuple(item for item in case.missing_document_list if item not in covered)


def case_for_upload(session: Session, merchant_id: str) -> Case | None:
    """The merchant's open case a document is for: one needing documents first, newest first."""
    cases = [c for c in CaseRepository(session).for_merchant(merchant_id) if _is_open(c)]
    cases.sort(key=lambda case: case.status != NEEDS_DOCUMENTS)
    return cases[0] if cases else None


def _is_open(case: Case) -> bool:
    return case.status in OPEN_CASE_STATUSES


def document_dict(document: Document) -> dict[str, Any]:
    """A document as agents see it (no uploader, no file path)."""
    return {
        "document_id": document.id,
        "case_id": document.case_id,
        "mime": document.mime,
        "size": document.size,
        "sha256": document.sha256,
        "missing_item": document.missing_item,
        "uploaded_at": document.uploaded_at.isoformat(),
    }


class DocumentService(StoreService):
    """Receiving documents (channels), choosing their item (actions), listing them (agents)."""

    def __init__(
        self,
        store: CaseStore | None = None,
        files: DocumentFiles | None = None,
        *,
        max_bytes: int | None = None,
        max_pixels: int | None = None,
        per_conversation: int | None = None,
    ) -> None:
        super().__init__(store)
        self._files = files
        self.max_bytes = max_bytes or DOCUMENTS_MAX_BYTES.read()
        self.max_pixels = max_pixels or DOCUMENTS_MAX_PIXELS.read()
        self.per_conversation = per_conversation or DOCUMENTS_PER_CONVERSATION.read()

    @property
    def files(self) -> DocumentFiles:
        """Where the files are kept (``POSBOT_DOCUMENTS_DIR`` unless one was injected)."""
        if self._files is None:
            self._files = DocumentFiles(Path(DOCUMENTS_DIR.read()))
        return self._files

    async def check(self, data: bytes) -> CheckedDocument:
        """Checks a file by content on a worker thread (decoding is CPU work).

        Raises:
            DocumentRejected: see :func:`check_document`.
        """
        return await asyncio.to_thread(
            check_document, data, max_bytes=self.max_bytes, max_pixels=self.max_pixels
        )

    async def has_open_case(self, merchant_id: str) -> bool:
        """Whether the merchant has a case a document could be attached to."""
        return await self.transaction(lambda s: case_for_upload(s, merchant_id) is not None)

    async def receive(
        self, *, sender_id: str, merchant_id: str, data: bytes, hint: str, now: datetime
    ) -> Receipt:
        """Checks, keeps and attaches one file to the verified merchant's open case.

        Raises:
            DocumentRejected: the file is not an acceptable document (nothing kept).
            NoOpenCase: the merchant has no open case (nothing kept).
            DocumentLimitReached: the conversation's cap is reached (nothing kept).
            StoreUnavailable: the database failed (no row; the file may stay, complete).
        """
        checked = await self.check(data)
        uploader = uploader_of(sender_id)

        def work(session: Session) -> Receipt:
            # Uploads of one conversation are counted one after another (a row lock held until
            # commit): counted in parallel, they all saw room under the cap and all got in.
            VerificationLockRepository(session).lock([f"{UPLOAD_LOCK_PREFIX}{uploader}"], now=now)
            documents = DocumentRepository(session)
            if documents.count_by_uploader(uploader) >= self.per_conversation:
                raise DocumentLimitReached(uploader)
            case = case_for_upload(session, merchant_id)
            if case is None:
                raise NoOpenCase(merchant_id)
            missing = still_missing(case, documents.for_case(case.case_id))
            item: str | None
            if not case.missing_document_list:
                item = SUPPLEMENT
            else:
                item = match_item(hint, missing) if hint else None
                if item is None and len(missing) == 1:
                    item = missing[0]
                if item is None and not missing:
                    item = SUPPLEMENT
            # The file first: a row never points to a file that is not there.
            self.files.put(checked.sha256, checked.data)
            row = documents.add(
                case_id=case.case_id,
                sha256=checked.sha256,
                mime=checked.mime,
                size=checked.size,
                missing_item=item,
                uploader=uploader,
                now=now,
            )
            CaseRepository(session).add_event(case.case_id, RECEIVED, _event_detail(row, item), now)
            left = tuple(m for m in missing if m != item)
            return Receipt(row.id, case.case_id, item, left, () if item is not None else missing)

        return await self.transaction(work)

    async def choose(
        self, *, sender_id: str, merchant_id: str, said: str, now: datetime
    ) -> Receipt | None:
        """Takes the conversation's waiting document for the item the merchant named.

        Returns:
            The receipt (``missing_item`` ``None`` again when ``said`` names no missing item),
            or ``None`` when no document of this conversation waits.
        """
        uploader = uploader_of(sender_id)

        def work(session: Session) -> Receipt | None:
            documents = DocumentRepository(session)
            waiting = documents.latest_unassigned(uploader)
            if waiting is None:
                return None
            case = CaseRepository(session).get(waiting.case_id)
            if case is None or case.merchant_id != merchant_id:
                return None
            missing = still_missing(case, documents.for_case(case.case_id))
            item = said if said in missing else match_item(said, missing)
            if item is None or not documents.assign(waiting.id, item):
                return Receipt(waiting.id, case.case_id, None, missing, missing)
            CaseRepository(session).add_event(case.case_id, ASSIGNED, f"#{waiting.id} {item}", now)
            left = tuple(m for m in missing if m != item)
            return Receipt(waiting.id, case.case_id, item, left)

        return await self.transaction(work)

    async def listed(self, case_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Documents of the given cases (oldest first), or the newest of all (newest first)."""

        def work(session: Session) -> list[dict[str, Any]]:
            documents = DocumentRepository(session)
            rows = documents.for_cases(case_ids) if case_ids else documents.recent(RECENT_LIMIT)
            return [document_dict(row) for row in rows]

        if case_ids is not None and not case_ids:
            return []
        return await self.transaction(work)

    async def file(self, document_id: int) -> DocumentFile | None:
        """The document's bytes for an agent, or ``None`` (no such row, or its file is gone)."""

        def work(session: Session) -> tuple[str, str, str] | None:
            row = DocumentRepository(session).get(document_id)
            return (row.case_id, row.mime, row.sha256) if row is not None else None

        found = await self.transaction(work)
        if found is None:
            return None
        data = await asyncio.to_thread(self.files.read, found[2])
        return DocumentFile(document_id, found[0], found[1], data) if data is not None else None


def _event_detail(row: Document, item: str | None) -> str:
    shown = "待确认" if item is None else (item or "补充材料")
    return f"#{row.id} {row.mime} {row.size} bytes: {shown}"
