"""The export's contract in code: its columns, a validated row, a located problem, the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

COLUMNS: Final = (
    "case_id",
    "merchant_id",
    "merchant_name",
    "registered_phone",
    "terminal_id",
    "pos_type",
    "suspension_reason",
    "suspended_at",
    "status",
    "submitted_at",
    "updated_at",
    "rejection_reason",
    "missing_documents",
)
CASE_ONLY_COLUMNS: Final = (
    "status",
    "submitted_at",
    "updated_at",
    "rejection_reason",
    "missing_documents",
)


@dataclass(frozen=True)
class RowError:
    """One problem of the file, located by its physical line (header = line 1)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportResult:
    """What an import did; merchants and terminals are counted once each, not per row."""

    rows: int
    merchants_created: int = 0
    merchants_updated: int = 0
    terminals_created: int = 0
    terminals_updated: int = 0
    cases_created: int = 0
    cases_updated: int = 0
    cases_unchanged: int = 0


class CsvImportError(Exception):
    """The file was rejected; nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = list(errors)
        shown = "\n".join(str(error) for error in self.errors[:20])
        more = len(self.errors) - 20
        if more > 0:
            shown += f"\n... and {more} more"
        super().__init__(f"{len(self.errors)} problem(s), nothing imported:\n{shown}")


@dataclass(frozen=True)
class CaseRow:
    """One valid, normalised data row. ``case_id`` is ``None`` for a terminal without a case."""

    line: int
    case_id: str | None
    merchant_id: str
    merchant_name: str
    registered_phone: str
    terminal_id: str
    pos_type: str | None
    suspension_reason: str | None
    suspended_at: datetime | None
    status: str | None
    submitted_at: datetime | None
    updated_at: datetime | None
    rejection_reason: str
    missing_documents: str
