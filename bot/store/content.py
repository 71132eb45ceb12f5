"""Repository of the content store: operators' live texts (replies, operator facts) and the
audit of every change. Takes a caller-owned ``Session``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.store.models import ContentEdit, ContentOverride

RESPONSE: Final = "response"
FACT: Final = "fact"
KINDS: Final = (RESPONSE, FACT)
EDIT: Final = "edit"
REVERT: Final = "revert"
RESET: Final = "reset"


@dataclass(frozen=True)
class Override:
    """One live text."""

    kind: str
    name: str
    text: str
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True)
class Edit:
    """One audited change (``None`` text: the default applied)."""

    id: int
    kind: str
    name: str
    action: str
    old_text: str | None
    new_text: str | None
    operator_id: str
    edited_at: datetime
    reverts_edit_id: int | None


def _edit(row: ContentEdit) -> Edit:
    return Edit(
        id=row.id,
        kind=row.kind,
        name=row.name,
        action=row.action,
        old_text=row.old_text,
        new_text=row.new_text,
        operator_id=row.operator_id,
        edited_at=row.edited_at,
        reverts_edit_id=row.reverts_edit_id,
    )


class ContentRepository:
    """Queries of the content tables."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def version(self) -> int:
        """The content's version: the id of the latest edit (0 before any edit)."""
        return int(self.session.execute(select(func.max(ContentEdit.id))).scalar() or 0)

    def overrides(self) -> list[Override]:
        """Every live text."""
        rows = self.session.execute(select(ContentOverride)).scalars()
        return [
            Override(row.kind, row.name, row.text, row.updated_by, row.updated_at) for row in rows
        ]

    def override(self, kind: str, name: str) -> str | None:
        """The live text of one item, or ``None`` when its default applies."""
        row = self.session.get(ContentOverride, (kind, name), with_for_update=True)
        return None if row is None else str(row.text)

    def change(
        self,
        kind: str,
        name: str,
        new_text: str | None,
        operator_id: str,
        at: datetime,
        action: str = EDIT,
        reverts_edit_id: int | None = None,
    ) -> Edit:
        """Sets (``new_text``) or removes (``None``) an item's live text and audits it."""
        old_text = self.override(kind, name)
        if new_text is None:
            self.session.execute(
                delete(ContentOverride).where(
                    ContentOverride.kind == kind, ContentOverride.name == name
                )
            )
        else:
            row = self.session.get(ContentOverride, (kind, name))
            if row is None:
                row = ContentOverride(kind=kind, name=name)
                self.session.add(row)
            row.text = new_text
            row.updated_by = operator_id
            row.updated_at = at
        edit = ContentEdit(
            kind=kind,
            name=name,
            action=action,
            old_text=old_text,
            new_text=new_text,
            operator_id=operator_id,
            edited_at=at,
            reverts_edit_id=reverts_edit_id,
        )
        self.session.add(edit)
        self.session.flush()
        return _edit(edit)

    def edit(self, edit_id: int) -> Edit | None:
        """One audited change by id."""
        row = self.session.get(ContentEdit, edit_id)
        return None if row is None else _edit(row)

    def history(
        self, kind: str | None = None, name: str | None = None, limit: int = 50
    ) -> Sequence[Edit]:
        """The latest changes, newest first (of one item when ``kind``/``name`` are given)."""
        query = select(ContentEdit).order_by(ContentEdit.id.desc()).limit(limit)
        if kind is not None:
            query = query.where(ContentEdit.kind == kind)
        if name is not None:
            query = query.where(ContentEdit.name == name)
        return [_edit(row) for row in self.session.execute(query).scalars()]
