"""An operator sets a case's status (``posbot case set-status``): checked, stored, recorded as a
``status_changed`` event (which the notification worker announces to the merchant)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from bot.domain_values import CASE_ID_RE, CASE_STATUSES, OPEN_CASE_STATUSES, normalize_identifier
from bot.redaction import mask_pii
from bot.services.base import StoreService
from bot.store.notifications import CaseStatusRepository

NEEDS_DOCUMENTS: Final = "needs_documents"
REJECTED: Final = "rejected"
MAX_TEXT_CHARS: Final = 500


class StatusChangeError(ValueError):
    """The change cannot be made (the message says why, for the operator)."""


class CaseNotFound(StatusChangeError):
    """No case has this id."""


@dataclass(frozen=True)
class StatusChange:
    """What happened: the case, its status before and after, and whether anything changed."""

    case_id: str
    old_status: str
    new_status: str
    changed: bool


def _clean_documents(missing: list[str]) -> str:
    items = [item.strip() for entry in missing for item in entry.replace("；", ";").split(";")]
    return ";".join(item for item in items if item)


def _operator_note(operator: str) -> str:
    """（操作员） or （操作员 ops1）: who made the change, in the case history."""
    return f"（操作员 {operator[:64]}）" if operator else "（操作员）"


def check_request(
    case_id: str, status: str, missing: list[str], reason: str | None
) -> tuple[str, str, str, str]:
    """The normalised case id, status, missing documents and rejection reason.

    Raises:
        StatusChangeError: a malformed id, an unknown status, details that do not fit it.
    """
    normalized = normalize_identifier(case_id)
    if not CASE_ID_RE.match(normalized):
        raise StatusChangeError(f"case id {case_id!r}: expected JC + 12 digits")
    status = (status or "").strip().lower()
    if status not in CASE_STATUSES:
        raise StatusChangeError(f"status {status!r}: expected one of {', '.join(CASE_STATUSES)}")
    documents = _clean_documents(missing)
    if documents and status != NEEDS_DOCUMENTS:
        raise StatusChangeError(f"--missing only goes with {NEEDS_DOCUMENTS}")
    if status == NEEDS_DOCUMENTS and not documents:
        raise StatusChangeError(f"{NEEDS_DOCUMENTS} needs --missing (what to send)")
    reason_text = (reason or "").strip()
    if reason_text and status != REJECTED:
        raise StatusChangeError(f"--reason only goes with {REJECTED}")
    for label, text in (("--missing", documents), ("--reason", reason_text)):
        if len(text) > MAX_TEXT_CHARS:
            raise StatusChangeError(f"{label}: at most {MAX_TEXT_CHARS} characters")
        if any(ord(char) < 32 for char in text):
            raise StatusChangeError(f"{label}: control characters are not allowed")
    # Free text from an operator may still hold a phone or card number: stored masked.
    return normalized, status, mask_pii(documents), mask_pii(reason_text)


def set_case_status(
    session: Session,
    *,
    case_id: str,
    status: str,
    missing: list[str],
    reason: str | None,
    now: datetime,
    operator: str = "",
) -> StatusChange:
    """Sets the status in the caller's transaction; no event when nothing changes.

    ``operator`` (an operator id from the API) is named in the event.

    Raises:
        StatusChangeError: a bad request, an unknown case, or a second open case for the
            terminal.
    """
    case_id, status, documents, reason_text = check_request(case_id, status, missing, reason)
    repository = CaseStatusRepository(session)
    case = repository.lock(case_id)
    if case is None:
        raise CaseNotFound(f"case {case_id} does not exist")
    old = case.status
    if (old, case.missing_documents or "", case.rejection_reason or "") == (
        status,
        documents,
        reason_text,
    ):
        return StatusChange(case_id, old, status, False)
    if status in OPEN_CASE_STATUSES and old not in OPEN_CASE_STATUSES:
        other = repository.other_open_case(case, OPEN_CASE_STATUSES)
        if other is not None:
            raise StatusChangeError(
                f"terminal {case.terminal_id} already has an open case ({other}); close it first"
            )
    repository.set_status(
        case,
        status=status,
        missing_documents=documents,
        rejection_reason=reason_text,
        detail=f"{old} -> {status}{_operator_note(operator)}",
        now=now,
    )
    return StatusChange(case_id, old, status, True)


class CaseStatusService(StoreService):
    """The operator API's status changes (async, one transaction each)."""

    async def set_status(
        self,
        *,
        case_id: str,
        status: str,
        missing: list[str],
        reason: str | None,
        now: datetime,
        operator: str,
    ) -> StatusChange:
        """See :func:`set_case_status`."""
        return await self.transaction(
            lambda session: set_case_status(
                session,
                case_id=case_id,
                status=status,
                missing=missing,
                reason=reason,
                now=now,
                operator=operator,
            )
        )
