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

The import is split by job: :mod:`~bot.store.importer.decode` (bytes to text, text to CSV
records), :mod:`~bot.store.importer.checks` (the header, each row, the rows of one file
against each other), :mod:`~bot.store.importer.upsert` (the rows against the database, then
the upsert); :mod:`~bot.store.importer.contract` holds the columns and the types they share.
"""

from __future__ import annotations

import io
import pathlib
from datetime import datetime

from bot.clock import china_now
from bot.store.database import CaseStore
from bot.store.importer.checks import (
    MAX_NAME_LENGTH,
    parse_cases_csv,
    parse_datetime,
    to_china_time,
)
from bot.store.importer.contract import (
    CASE_ONLY_COLUMNS,
    COLUMNS,
    CaseRow,
    CsvImportError,
    ImportResult,
    RowError,
)
from bot.store.importer.decode import (
    DEFAULT_ENCODING,
    ENCODINGS,
    GB18030_CODEC,
    UTF8_CODEC,
    decode_export,
)
from bot.store.importer.upsert import store_rows

__all__ = [
    "CASE_ONLY_COLUMNS",
    "COLUMNS",
    "DEFAULT_ENCODING",
    "ENCODINGS",
    "GB18030_CODEC",
    "MAX_NAME_LENGTH",
    "UTF8_CODEC",
    "CaseRow",
    "CsvImportError",
    "ImportResult",
    "RowError",
    "decode_export",
    "import_cases_csv",
    "import_cases_text",
    "parse_cases_csv",
    "parse_datetime",
]


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
    moment = china_now() if now is None else to_china_time(now)
    with store.session() as session:
        return store_rows(session, rows, moment)
