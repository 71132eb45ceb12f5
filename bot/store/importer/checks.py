"""Row checks: the header, each row's cells, and the rows of one file against each other.

Nothing here touches the database; :mod:`bot.store.importer.upsert` checks the rows against it.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from bot.clock import CHINA_TZ
from bot.domain_values import (
    CASE_ID_RE,
    CASE_STATUSES,
    MERCHANT_ID_RE,
    PHONE_RE,
    POS_TYPES,
    SUSPENSION_REASONS,
    TERMINAL_ID_RE,
    normalize_identifier,
    to_half_width,
)
from bot.store.importer.contract import CASE_ONLY_COLUMNS, COLUMNS, CaseRow, RowError
from bot.store.importer.decode import CsvRecords

MAX_NAME_LENGTH: Final = 200
_ISO_RE: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?P<zone>Z|[+-]\d{2}:?\d{2})?)?$"
)
_DOCUMENT_SEPARATOR_RE: Final = re.compile(r"[;；]")


def parse_datetime(value: str) -> datetime:
    """Parses an ISO 8601 date or date-time into a naive China-time datetime.

    Args:
        value: ``2026-11-18``, ``2026-11-18T09:30:00`` (China time) or a value with a zone
            (``Z``, ``+00:00``), which is converted to China time. A date means midnight.

    Returns:
        The naive datetime in China time.

    Raises:
        ValueError: when the value is not such a date.
    """
    text = to_half_width(value).strip()
    match = _ISO_RE.match(text)
    if match is None:
        raise ValueError(value)
    zone = match.group("zone")
    if zone:
        offset = "+00:00" if zone == "Z" else f"{zone[:3]}:{zone[-2:]}"
        text = text[: match.start("zone")] + offset
    return to_china_time(datetime.fromisoformat(text))


def to_china_time(moment: datetime) -> datetime:
    """A naive China-time datetime: naive values are kept, aware ones converted."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(CHINA_TZ).replace(tzinfo=None)


def _missing_documents(value: str) -> str:
    """Strips the `;`-separated items and drops empty ones."""
    return ";".join(item.strip() for item in _DOCUMENT_SEPARATOR_RE.split(value) if item.strip())


@dataclass
class _RowCheck:
    """Validation of one row: collects the errors and the normalised values."""

    line: int
    cells: dict[str, str]
    errors: list[RowError] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.errors.append(RowError(self.line, message))

    def identifier(self, column: str, pattern: re.Pattern[str], rule: str) -> str:
        raw = self.cells[column]
        value = normalize_identifier(raw)
        if not raw:
            self.fail(f"{column} is empty")
        elif not pattern.match(value):
            self.fail(f"{column} '{raw}' must be {rule}")
        return value

    def choice(self, column: str, allowed: Sequence[str]) -> str | None:
        raw = self.cells[column]
        value = raw.lower()
        if not raw:
            return None
        if value not in allowed:
            self.fail(f"{column} '{raw}' is not one of: {', '.join(allowed)}")
        return value

    def date(self, column: str) -> datetime | None:
        raw = self.cells[column]
        if not raw:
            return None
        try:
            return parse_datetime(raw)
        except ValueError:
            self.fail(
                f"{column} '{raw}' is not an ISO 8601 date "
                "(2026-11-18, 2026-11-18T09:30:00 or with a zone such as +08:00)"
            )
            return None


def _check_row(line: int, cells: dict[str, str]) -> tuple[CaseRow | None, list[RowError]]:
    """Validates and normalises one row's cells (already trimmed)."""
    check = _RowCheck(line, cells)
    raw_case_id = cells["case_id"]
    case_id = normalize_identifier(raw_case_id) or None
    if raw_case_id and not CASE_ID_RE.match(case_id or ""):
        check.fail(f"case_id '{raw_case_id}' must be JC followed by 12 digits (or empty)")
    merchant_id = check.identifier("merchant_id", MERCHANT_ID_RE, "15 digits")
    name = cells["merchant_name"]
    if not name:
        check.fail("merchant_name is empty")
    elif len(name) > MAX_NAME_LENGTH:
        check.fail(f"merchant_name is longer than {MAX_NAME_LENGTH} characters")
    phone = check.identifier(
        "registered_phone", PHONE_RE, "an 11-digit mainland mobile number (1[3-9] + 9 digits)"
    )
    terminal_id = check.identifier("terminal_id", TERMINAL_ID_RE, "8 digits")
    pos_type = check.choice("pos_type", POS_TYPES)
    reason = check.choice("suspension_reason", SUSPENSION_REASONS)
    suspended_at = check.date("suspended_at")
    status: str | None = None
    submitted_at = updated_at = None
    rejection_reason = cells["rejection_reason"]
    documents = _missing_documents(cells["missing_documents"])
    if not raw_case_id:
        for column in CASE_ONLY_COLUMNS:
            if cells[column]:
                check.fail(
                    f"{column} '{cells[column]}' must be empty when case_id is empty "
                    "(a terminal without an application)"
                )
    else:
        if not cells["status"]:
            check.fail("status is empty (required when case_id is set)")
        else:
            status = check.choice("status", CASE_STATUSES)
        submitted_at = check.date("submitted_at")
        updated_at = check.date("updated_at")
        if submitted_at and updated_at and updated_at < submitted_at:
            check.fail(
                f"updated_at '{cells['updated_at']}' is before "
                f"submitted_at '{cells['submitted_at']}'"
            )
        if rejection_reason and status in CASE_STATUSES and status != "rejected":
            check.fail(
                f"rejection_reason must be empty unless status is 'rejected' (status is '{status}')"
            )
    if check.errors:
        return None, check.errors
    row = CaseRow(
        line=line,
        case_id=case_id,
        merchant_id=merchant_id,
        merchant_name=name,
        registered_phone=phone,
        terminal_id=terminal_id,
        pos_type=pos_type,
        suspension_reason=reason,
        suspended_at=suspended_at,
        status=status,
        submitted_at=submitted_at,
        updated_at=updated_at,
        rejection_reason=rejection_reason,
        missing_documents=documents,
    )
    return row, []


def _check_header(header: Sequence[str]) -> list[RowError]:
    """Checks the header names: every contract column once, nothing else."""
    names = [name.strip().lower() for name in header]
    errors: list[RowError] = []
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        errors.append(RowError(1, f"missing required column(s): {', '.join(missing)}"))
    extra = [name or "(empty name)" for name in names if name not in COLUMNS]
    if extra:
        errors.append(RowError(1, f"unexpected column(s): {', '.join(extra)}"))
    duplicated = sorted({name for name in names if name in COLUMNS and names.count(name) > 1})
    if duplicated:
        errors.append(RowError(1, f"duplicated column(s): {', '.join(duplicated)}"))
    return errors


def _conflicts(
    rows: Sequence[CaseRow],
    key: str,
    attributes: Sequence[str],
    label: str,
) -> list[RowError]:
    """Rows sharing ``key`` that disagree: the first differing attribute, on every line."""
    groups: dict[str, list[CaseRow]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, key)].append(row)
    errors: list[RowError] = []
    for value, group in groups.items():
        first = group[0]
        for attribute in attributes:
            if all(getattr(row, attribute) == getattr(first, attribute) for row in group):
                continue
            for row in group:
                others = ", ".join(
                    f"'{_show(getattr(other, attribute))}' on line {other.line}"
                    for other in group
                    if getattr(other, attribute) != getattr(row, attribute)
                )
                errors.append(
                    RowError(
                        row.line,
                        f"{label} '{value}' has {attribute} '{_show(getattr(row, attribute))}' "
                        f"here but {others}",
                    )
                )
            break  # the first difference (merchant_id for terminals) is the one to fix
    return errors


def _show(value: object) -> str:
    """A cell value as operators wrote it (ISO for dates, empty for None)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _duplicate_cases(rows: Sequence[CaseRow]) -> list[RowError]:
    """The same case_id on several lines: reported on each of them."""
    lines: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.case_id:
            lines[row.case_id].append(row.line)
    errors: list[RowError] = []
    for case_id, where in lines.items():
        if len(where) < 2:
            continue
        for line in where:
            others = ", ".join(str(other) for other in where if other != line)
            errors.append(RowError(line, f"duplicate case_id '{case_id}' (also on line {others})"))
    return errors


def parse_cases_csv(text_stream: Iterable[str]) -> tuple[list[CaseRow], list[RowError]]:
    """Parses and validates the export without touching the database.

    Args:
        text_stream: the decoded CSV text (a file opened with ``newline=""`` or a
            ``StringIO``); a leading BOM is ignored.

    Returns:
        The valid rows and the errors, sorted by line. The file is acceptable only when the
        error list is empty.
    """
    records = CsvRecords(text_stream)
    try:
        first = next(records, None)
    except csv.Error as error:
        return [], [RowError(records.line_num, f"unreadable CSV: {error}")]
    if first is None:
        return [], [RowError(1, "the file is empty: no header row and no data rows")]
    _, header = first
    if header:
        header = [header[0].removeprefix("\ufeff"), *header[1:]]
    errors = _check_header(header)
    if errors:
        return [], errors
    names = [name.strip().lower() for name in header]
    rows: list[CaseRow] = []
    try:
        for line, cells in records:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(names):
                errors.append(
                    RowError(line, f"has {len(cells)} cells, the header has {len(names)}")
                )
                continue
            row, row_errors = _check_row(
                line, {n: c.strip() for n, c in zip(names, cells, strict=True)}
            )
            errors.extend(row_errors)
            if row is not None:
                rows.append(row)
    except csv.Error as error:
        errors.append(RowError(records.line_num, f"unreadable CSV: {error}"))
    errors.extend(_duplicate_cases(rows))
    errors.extend(
        _conflicts(rows, "merchant_id", ("merchant_name", "registered_phone"), "merchant_id")
    )
    errors.extend(
        _conflicts(
            rows,
            "terminal_id",
            ("merchant_id", "pos_type", "suspension_reason", "suspended_at"),
            "terminal_id",
        )
    )
    errors.sort(key=lambda error: error.line)
    return rows, errors
