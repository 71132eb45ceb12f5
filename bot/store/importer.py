"""Import of the acquirer's case export (CSV contract in shared/domain.md).

The back office exports one row per case, or per suspended terminal without an application yet
(empty ``case_id``). The whole file is validated first; a file with any bad row imports nothing
and every problem is reported as ``line N: reason`` (physical line in the file, header = line 1).
A good file is upserted in one transaction: merchants by merchant_id, terminals by terminal_id,
cases by case_id, so importing the same file twice changes nothing.

Decisions beyond the contract:

* When ``case_id`` is empty, the case columns (status, submitted_at, updated_at,
  rejection_reason, missing_documents) must be empty too.
* Rows of one file that describe the same merchant (name, phone) or the same terminal
  (merchant, pos_type, suspension_reason, suspended_at) must agree; a disagreement is reported
  on both lines instead of letting one row silently win.
* The file is the source of truth: changed names, phones and terminal attributes overwrite the
  stored ones, and an empty optional cell clears the stored value.
* A case or terminal already stored under another merchant or terminal is a bad row.
* Header names are trimmed and compared in lower case, in any order; every contract column is
  required and no other column is allowed.
* Enumerations (pos_type, suspension_reason, status) are compared in lower case; identifiers go
  through :func:`bot.domain_values.normalize_identifier`; ``；`` also separates missing documents.
* The file is UTF-8 (a BOM is accepted); ``encoding="gb18030"`` (``posbot db import --encoding
  gb18030``, ``gbk`` is an alias) reads a file saved by Excel on Chinese Windows. Nothing is
  guessed: a byte that does not fit the encoding, or a UTF-8 row in a file read as GB18030
  (mixed encodings), rejects the file with its line.
* Cells are data: a formula-looking cell (``=cmd|' /C calc'!A0``, ``+``, ``-``, ``@``) is stored
  verbatim and never evaluated; spreadsheet exports the project writes neutralise such cells.
* Blank lines (and rows whose cells are all empty) are skipped; a header-only file imports
  nothing and succeeds.
* Events: ``imported`` when a case is created, ``status_changed`` ("old -> new") when an
  existing case's status changes, both dated ``now`` (when the bot learned of it).
"""

from __future__ import annotations

import csv
import io
import pathlib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.clock import CHINA_TZ, china_now
from bot.domain_values import (
    CASE_ID_RE,
    CASE_STATUSES,
    MERCHANT_ID_RE,
    OPEN_CASE_STATUSES,
    PHONE_RE,
    POS_TYPES,
    SUSPENSION_REASONS,
    TERMINAL_ID_RE,
    normalize_identifier,
    to_half_width,
)
from bot.store.database import CaseStore
from bot.store.models import Case, CaseEvent, Merchant, Terminal

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
MAX_NAME_LENGTH: Final = 200
UTF8_CODEC: Final = "utf-8-sig"
GB18030_CODEC: Final = "gb18030"
DEFAULT_ENCODING: Final = "utf-8"
# Accepted --encoding values; GBK is read as GB18030, its superset.
ENCODINGS: Final = {"utf-8": UTF8_CODEC, "gb18030": GB18030_CODEC, "gbk": GB18030_CODEC}
_ISO_RE: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?P<zone>Z|[+-]\d{2}:?\d{2})?)?$"
)
_DOCUMENT_SEPARATOR_RE: Final = re.compile(r"[;；]")
_CHINESE_RE: Final = re.compile(r"[\u4e00-\u9fff]")
_PRELOAD_CHUNK: Final = 500
_INSERT_CHUNK: Final = 5000
_Model = TypeVar("_Model", Merchant, Terminal, Case)


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


# --------------------------------------------------------------------------- parsing


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
    return _to_china_time(datetime.fromisoformat(text))


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


class _CsvReader(Protocol):
    """What ``csv.reader`` offers: rows and the count of physical lines read so far."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...


def _physical_rows(reader: _CsvReader) -> Iterator[tuple[int, list[str]]]:
    """Yields (first physical line, cells) of each CSV record, quoted newlines included."""
    previous_end = 0
    for cells in reader:
        yield previous_end + 1, cells
        previous_end = reader.line_num


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
    reader = csv.reader(text_stream, strict=True)
    records = _physical_rows(reader)
    try:
        first = next(records, None)
    except csv.Error as error:
        return [], [RowError(reader.line_num, f"unreadable CSV: {error}")]
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
        errors.append(RowError(reader.line_num, f"unreadable CSV: {error}"))
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


def _line_of(data: bytes, offset: int) -> int:
    """The physical line (1-based) of a byte offset."""
    return data.count(b"\n", 0, offset) + 1


def _utf8_chinese_line(data: bytes) -> int | None:
    """The first line that is valid UTF-8 with Chinese characters in it, if any.

    GBK/GB18030 text practically never forms such a line, so in a file read as GB18030 it is the
    sign of mixed encodings (some rows saved as UTF-8).
    """
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.isascii():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if _CHINESE_RE.search(text):
            return number
    return None


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def decode_export(data: bytes, encoding: str = DEFAULT_ENCODING) -> str:
    """Decodes an export strictly; a byte that does not fit the encoding rejects the file.

    Args:
        data: the file's bytes.
        encoding: ``utf-8`` (the contract; a BOM is accepted) or ``gb18030``/``gbk`` for a
            file saved by Excel on Chinese Windows. Nothing is guessed: a GBK file imported as
            UTF-8 is rejected with a hint, and a file read as GB18030 that has UTF-8 rows
            (mixed encodings) is rejected instead of being stored as mojibake.

    Raises:
        CsvImportError: with the line of the first byte that does not fit.
        ValueError: for an encoding other than those above.
    """
    codec = ENCODINGS.get(encoding.strip().lower())
    if codec is None:
        raise ValueError(f"unsupported encoding {encoding!r}: use one of {', '.join(ENCODINGS)}")
    label = "UTF-8" if codec == UTF8_CODEC else "GB18030/GBK"
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as error:
        where = f"byte 0x{data[error.start]:02x} at offset {error.start}"
        if codec != UTF8_CODEC and _decodes(data, UTF8_CODEC):
            advice = "the file is UTF-8: import it without --encoding"
        elif codec != UTF8_CODEC and (utf8_line := _utf8_chinese_line(data)) is not None:
            advice = (
                f"mixed encodings: line {utf8_line} is UTF-8; "
                "export the whole file in one encoding (UTF-8 preferred)"
            )
        elif codec != UTF8_CODEC:
            advice = "the file is in another encoding: save it as UTF-8"
        elif (utf8_line := _utf8_chinese_line(data)) is not None:
            advice = (
                f"mixed encodings: line {utf8_line} is UTF-8 but this line is not; "
                "export the whole file again as UTF-8"
            )
        elif _decodes(data, GB18030_CODEC):
            advice = (
                "it looks like GBK/GB18030 (Excel's CSV on Chinese Windows): save it as "
                "'CSV UTF-8', or import it with --encoding gb18030"
            )
        else:
            advice = "export or save it as UTF-8 (e.g. not GBK/ANSI) and import again"
        message = f"the file is not valid {label} ({where}); {advice}"
        raise CsvImportError([RowError(_line_of(data, error.start), message)]) from None
    if codec != UTF8_CODEC and (utf8_line := _utf8_chinese_line(data)) is not None:
        message = (
            "mixed encodings: this line is UTF-8 but the file was read as GB18030/GBK; "
            "export the whole file in one encoding (UTF-8 preferred) and import again"
        )
        raise CsvImportError([RowError(utf8_line, message)])
    return text


# --------------------------------------------------------------------------- storing


def _to_china_time(moment: datetime) -> datetime:
    """A naive China-time datetime: naive values are kept, aware ones converted."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(CHINA_TZ).replace(tzinfo=None)


def _preload(
    session: Session, model: type[_Model], column: InstrumentedAttribute, keys: set[str]
) -> dict[str, _Model]:
    """The stored objects with these keys, by key, loaded in a few queries."""
    found: dict[str, _Model] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _PRELOAD_CHUNK):
        chunk = ordered[start : start + _PRELOAD_CHUNK]
        for item in session.execute(select(model).where(column.in_(chunk))).scalars():
            found[getattr(item, column.key)] = item
    return found


def _assign(target: object, values: dict[str, object]) -> bool:
    """Sets the attributes that differ; returns whether anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed = True
    return changed


@dataclass
class _Stored:
    """The stored merchants, terminals and cases the file mentions, by id."""

    merchants: dict[str, Merchant]
    terminals: dict[str, Terminal]
    cases: dict[str, Case]

    @classmethod
    def load(cls, session: Session, rows: Sequence[CaseRow]) -> _Stored:
        """Loads everything the rows refer to."""
        merchant_ids = {row.merchant_id for row in rows}
        terminal_ids = {row.terminal_id for row in rows}
        case_ids = {row.case_id for row in rows if row.case_id}
        return cls(
            merchants=_preload(session, Merchant, Merchant.merchant_id, merchant_ids),
            terminals=_preload(session, Terminal, Terminal.terminal_id, terminal_ids),
            cases=_preload(session, Case, Case.case_id, case_ids),
        )

    def conflicts(self, rows: Sequence[CaseRow]) -> list[RowError]:
        """Rows that contradict the database: a terminal or case owned by someone else."""
        errors: list[RowError] = []
        for row in rows:
            terminal = self.terminals.get(row.terminal_id)
            if terminal is not None and terminal.merchant_id != row.merchant_id:
                errors.append(
                    RowError(
                        row.line,
                        f"terminal_id '{row.terminal_id}' belongs to merchant_id "
                        f"'{terminal.merchant_id}' in the database, not '{row.merchant_id}'",
                    )
                )
            case = self.cases.get(row.case_id) if row.case_id else None
            if case is not None and (case.terminal_id, case.merchant_id) != (
                row.terminal_id,
                row.merchant_id,
            ):
                errors.append(
                    RowError(
                        row.line,
                        f"case_id '{row.case_id}' belongs to terminal_id '{case.terminal_id}' "
                        f"of merchant_id '{case.merchant_id}' in the database, not terminal_id "
                        f"'{row.terminal_id}' of merchant_id '{row.merchant_id}'",
                    )
                )
        return errors


def _second_open_cases(session: Session, rows: Sequence[CaseRow]) -> list[RowError]:
    """Rows that would give a terminal a second open case (one open case per terminal).

    The stored open cases the file does not mention stay open; the file's own rows say how
    its cases end up.
    """
    in_file = {row.case_id for row in rows if row.case_id}
    open_cases: dict[str, list[str]] = defaultdict(list)
    terminal_ids = sorted({row.terminal_id for row in rows})
    for start in range(0, len(terminal_ids), _PRELOAD_CHUNK):
        query = select(Case.terminal_id, Case.case_id).where(
            Case.terminal_id.in_(terminal_ids[start : start + _PRELOAD_CHUNK]),
            Case.status.in_(OPEN_CASE_STATUSES),
        )
        for terminal_id, case_id in session.execute(query):
            if case_id not in in_file:
                open_cases[terminal_id].append(case_id)
    errors: list[RowError] = []
    for row in rows:
        if not row.case_id or row.status not in OPEN_CASE_STATUSES:
            continue
        others = open_cases[row.terminal_id]
        if others:
            errors.append(
                RowError(
                    row.line,
                    f"terminal_id '{row.terminal_id}' already has an open case "
                    f"('{others[0]}'); one open case per terminal: close it first",
                )
            )
        others.append(row.case_id)
    return errors


@dataclass
class _NewRows:
    """Rows to insert, by table; inserted with one multi-row statement each (``executemany``)."""

    merchants: list[dict[str, object]] = field(default_factory=list)
    terminals: list[dict[str, object]] = field(default_factory=list)
    cases: list[dict[str, object]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)

    def insert(self, session: Session) -> None:
        """Inserts in foreign-key order, in the caller's transaction."""
        for model, values in (
            (Merchant, self.merchants),
            (Terminal, self.terminals),
            (Case, self.cases),
            (CaseEvent, self.events),
        ):
            for start in range(0, len(values), _INSERT_CHUNK):
                session.execute(insert(model), values[start : start + _INSERT_CHUNK])


def _store_rows(session: Session, rows: Sequence[CaseRow], now: datetime) -> ImportResult:
    """Upserts validated rows; the caller owns the transaction.

    Stored objects are updated through the ORM; new ones are inserted in bulk afterwards, so
    that an export of 10^5 rows takes seconds, not minutes.

    Raises:
        CsvImportError: when a row contradicts the database.
    """
    result = ImportResult(rows=len(rows))
    stored = _Stored.load(session, rows)
    errors = stored.conflicts(rows) + _second_open_cases(session, rows)
    if errors:
        raise CsvImportError(errors)
    new = _NewRows()
    seen_merchants: set[str] = set()
    seen_terminals: set[str] = set()
    for row in rows:
        if row.merchant_id not in seen_merchants:
            seen_merchants.add(row.merchant_id)
            _store_merchant(new, stored, row, result)
        if row.terminal_id not in seen_terminals:
            seen_terminals.add(row.terminal_id)
            _store_terminal(new, stored, row, result)
        if row.case_id and row.status:
            _store_case(new, stored, row, now, result)
    session.flush()
    new.insert(session)
    return result


def _store_merchant(new: _NewRows, stored: _Stored, row: CaseRow, result: ImportResult) -> None:
    """Creates or updates the row's merchant (the file is the source of truth)."""
    values: dict[str, object] = {
        "name": row.merchant_name,
        "registered_phone": row.registered_phone,
    }
    merchant = stored.merchants.get(row.merchant_id)
    if merchant is None:
        new.merchants.append({"merchant_id": row.merchant_id, **values})
        result.merchants_created += 1
    elif _assign(merchant, values):
        result.merchants_updated += 1


def _store_terminal(new: _NewRows, stored: _Stored, row: CaseRow, result: ImportResult) -> None:
    """Creates or updates the row's terminal and its suspension."""
    values: dict[str, object] = {
        "merchant_id": row.merchant_id,
        "pos_type": row.pos_type,
        "suspension_reason": row.suspension_reason,
        "suspended_at": row.suspended_at,
    }
    terminal = stored.terminals.get(row.terminal_id)
    if terminal is None:
        new.terminals.append({"terminal_id": row.terminal_id, **values})
        result.terminals_created += 1
    elif _assign(terminal, values):
        result.terminals_updated += 1


def _store_case(
    new: _NewRows, stored: _Stored, row: CaseRow, now: datetime, result: ImportResult
) -> None:
    """Creates or updates the row's case and records the history events."""
    case_id, status = str(row.case_id), str(row.status)
    values: dict[str, object] = {
        "merchant_id": row.merchant_id,
        "terminal_id": row.terminal_id,
        "suspension_reason": row.suspension_reason,
        "submitted_at": row.submitted_at,
        "updated_at": row.updated_at,
        "rejection_reason": row.rejection_reason,
        "missing_documents": row.missing_documents,
    }
    case = stored.cases.get(case_id)
    if case is None:
        new.cases.append(
            {"case_id": case_id, "status": status, "source": "import", "contact_phone": None}
            | values
        )
        new.events.append(_event(case_id, "imported", f"status {status}", now))
        result.cases_created += 1
        return
    old_status = case.status
    changed = _assign(case, values)
    if old_status != status:
        case.status = status
        changed = True
        new.events.append(_event(case_id, "status_changed", f"{old_status} -> {status}", now))
    if changed:
        result.cases_updated += 1
    else:
        result.cases_unchanged += 1


def _event(case_id: str, kind: str, detail: str, now: datetime) -> dict[str, object]:
    return {"case_id": case_id, "kind": kind, "detail": detail, "occurred_at": now}


def import_cases_csv(
    store: CaseStore,
    path: pathlib.Path,
    *,
    now: datetime | None = None,
    encoding: str = DEFAULT_ENCODING,
) -> ImportResult:
    """Validates the export at ``path`` and upserts it in one transaction.

    Args:
        store: the case store (its schema must exist).
        path: the UTF-8 CSV export (a BOM is accepted).
        now: when to date the case events (naive = China time; an aware value is converted);
            the current time by default.
        encoding: the file's encoding, see :func:`decode_export`.

    Returns:
        What was created, updated or left unchanged.

    Raises:
        CsvImportError: when the file does not decode, its header is wrong or any row is bad;
            nothing is imported then.
        OSError: when the file cannot be read.
    """
    text = decode_export(pathlib.Path(path).read_bytes(), encoding)
    return import_cases_text(store, text, now=now)


def import_cases_text(store: CaseStore, text: str, *, now: datetime | None = None) -> ImportResult:
    """Validates CSV ``text`` (already decoded) and upserts it in one transaction.

    Raises:
        CsvImportError: when the header or any row is bad; nothing is imported then.
    """
    rows, errors = parse_cases_csv(io.StringIO(text, newline=""))
    if errors:
        raise CsvImportError(errors)
    moment = china_now() if now is None else _to_china_time(now)
    with store.session() as session:
        return _store_rows(session, rows, moment)
