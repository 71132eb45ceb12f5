"""Documents merchants send: their rows (``documents``) and their files (content-addressed)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.store.models import Document

SHA256_RE: Final = re.compile(r"^[0-9a-f]{64}$")
FILE_MODE: Final = 0o600
DIR_MODE: Final = 0o700


class DocumentRepository:
    """Rows of the ``documents`` table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        *,
        case_id: str,
        sha256: str,
        mime: str,
        size: int,
        missing_item: str | None,
        uploader: str,
        now: datetime,
    ) -> Document:
        """Records one document (flushed: its id is known)."""
        document = Document(
            case_id=case_id,
            sha256=sha256,
            mime=mime,
            size=size,
            missing_item=missing_item,
            uploader=uploader,
            uploaded_at=now,
        )
        self.session.add(document)
        self.session.flush()
        return document

    def get(self, document_id: int) -> Document | None:
        """The document with this id, if any."""
        return self.session.get(Document, document_id)

    def for_case(self, case_id: str) -> Sequence[Document]:
        """The case's documents, oldest first."""
        query = select(Document).where(Document.case_id == case_id).order_by(Document.id)
        return self.session.execute(query).scalars().all()

    def for_cases(self, case_ids: Sequence[str]) -> Sequence[Document]:
        """The documents of several cases, oldest first."""
        query = select(Document).where(Document.case_id.in_(case_ids)).order_by(Document.id)
        return self.session.execute(query).scalars().all()

    def recent(self, limit: int) -> Sequence[Document]:
        """The newest documents of every case, newest first."""
        query = select(Document).order_by(Document.id.desc()).limit(limit)
        return self.session.execute(query).scalars().all()

    def count_by_uploader(self, uploader: str) -> int:
        """How many documents one conversation has sent."""
        query = select(func.count()).select_from(Document).where(Document.uploader == uploader)
        return self.session.execute(query).scalar_one()

    def latest_unassigned(self, uploader: str) -> Document | None:
        """The conversation's newest document still waiting for its missing item."""
        query = (
            select(Document)
            .where(Document.uploader == uploader, Document.missing_item.is_(None))
            .order_by(Document.id.desc())
            .limit(1)
        )
        return self.session.execute(query).scalars().first()

    def assign(self, document_id: int, missing_item: str) -> bool:
        """Sets the missing item of a document that has none yet; ``False`` if it had one."""
        result = self.session.execute(
            update(Document)
            .where(Document.id == document_id, Document.missing_item.is_(None))
            .values(missing_item=missing_item)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)


class DocumentFiles:
    """The files, one per sha256 under ``root`` (``ab/abcdef…``), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        """Where the file of ``sha256`` lives (the hash is checked: no path can be built)."""
        if not SHA256_RE.match(sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def put(self, sha256: str, data: bytes) -> Path:
        """Stores ``data`` under its hash: a temporary file in the same folder, fsynced, then
        renamed, so a reader never sees half a file. The same content twice is kept once."""
        path = self.path_of(sha256)
        if path.is_file():
            return path
        path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, FILE_MODE)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path

    def read(self, sha256: str) -> bytes | None:
        """The stored file, or ``None`` when it is missing."""
        path = self.path_of(sha256)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
