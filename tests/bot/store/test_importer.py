"""Tests of the case CSV import against a real SQLite case store."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.store.database import CaseStore
from bot.store.importer import (
    COLUMNS,
    CsvImportError,
    ImportResult,
    RowError,
    import_cases_csv,
    parse_cases_csv,
)
from bot.store.models import Case, CaseEvent, Merchant, Terminal
from bot.store.repositories import CaseRepository

NOW = datetime(2026, 11, 21, 10, 0)
MERCHANT_A = "898310058121234"
MERCHANT_B = "898310058125678"

CASE_NEEDS_DOCS = {
    "case_id": "JC202611180001",
    "merchant_id": MERCHANT_A,
    "merchant_name": "张记小吃店",
    "registered_phone": "13812345678",
    "terminal_id": "60013452",
    "pos_type": "e_sign",
    "suspension_reason": "license_expired",
    "suspended_at": "2026-11-15",
    "status": "needs_documents",
    "submitted_at": "2026-11-18T01:30:00+00:00",
    "updated_at": "2026-11-19T10:00:00",
    "rejection_reason": "",
    "missing_documents": " 营业执照 ; 法人身份证 ;",
}
CASE_REJECTED = {
    "case_id": "JC202611180002",
    "merchant_id": MERCHANT_A,
    "merchant_name": "张记小吃店",
    "registered_phone": "13812345678",
    "terminal_id": "60013453",
    "pos_type": "smart",
    "suspension_reason": "account_arrears",
    "suspended_at": "2026-11-10T08:00:00",
    "status": "rejected",
    "submitted_at": "2026-11-18",
    "updated_at": "2026-11-20T16:45:00+08:00",
    "rejection_reason": "还款证明不清晰",
    "missing_documents": "",
}
TERMINAL_ONLY = {
    "case_id": "",
    "merchant_id": MERCHANT_B,
    "merchant_name": "李四便利店",
    "registered_phone": "15900001111",
    "terminal_id": "60013454",
    "pos_type": "traditional",
    "suspension_reason": "hardware_fault",
    "suspended_at": "2026-11-17T08:00:00",
    "status": "",
    "submitted_at": "",
    "updated_at": "",
    "rejection_reason": "",
    "missing_documents": "",
}
GOOD_ROWS = (CASE_NEEDS_DOCS, CASE_REJECTED, TERMINAL_ONLY)


def csv_text(rows: Sequence[dict[str, str]], columns: Sequence[str] = COLUMNS) -> str:
    """A CSV export with a header and the rows (missing cells empty)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return buffer.getvalue()


def write_csv(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Writes the export as the back office would."""
    path.write_bytes(text.encode(encoding))
    return path


def changed(row: dict[str, str], **cells: str) -> dict[str, str]:
    """A copy of ``row`` with some cells replaced."""
    return {**row, **cells}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CaseStore]:
    """A fresh SQLite case store with its schema."""
    case_store = CaseStore(f"sqlite:///{tmp_path / 't.db'}")
    case_store.create_schema()
    yield case_store
    case_store.dispose()


def counts(store: CaseStore) -> dict[str, int]:
    """The number of rows of every table the importer writes."""
    with store.session() as session:
        return {
            model.__tablename__: session.execute(
                select(func.count()).select_from(model)
            ).scalar_one()
            for model in (Merchant, Terminal, Case, CaseEvent)
        }


def events(store: CaseStore, case_id: str) -> list[tuple[str, str, datetime]]:
    """The case history as (kind, detail, occurred_at)."""
    with store.session() as session:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        return [(e.kind, e.detail, e.occurred_at) for e in session.execute(query).scalars()]


def rejected(store: CaseStore, path: Path) -> list[RowError]:
    """Imports a file expected to be rejected and returns its errors."""
    with pytest.raises(CsvImportError) as caught:
        import_cases_csv(store, path, now=NOW)
    return caught.value.errors


EMPTY = {"merchants": 0, "terminals": 0, "cases": 0, "case_events": 0}


# --------------------------------------------------------------------------- good files


def test_good_file_is_imported(store: CaseStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cases.csv", csv_text(GOOD_ROWS))

    result = import_cases_csv(store, path, now=NOW)

    assert result == ImportResult(
        rows=3,
        merchants_created=2,
        merchants_updated=0,
        terminals_created=3,
        terminals_updated=0,
        cases_created=2,
        cases_updated=0,
        cases_unchanged=0,
    )
    assert counts(store) == {"merchants": 2, "terminals": 3, "cases": 2, "case_events": 2}
    with store.session() as session:
        merchant = session.get(Merchant, MERCHANT_A)
        assert (merchant.name, merchant.registered_phone) == ("张记小吃店", "13812345678")
        terminal = session.get(Terminal, "60013452")
        assert terminal.merchant_id == MERCHANT_A
        assert terminal.pos_type == "e_sign"
        assert terminal.suspension_reason == "license_expired"
        assert terminal.suspended_at == datetime(2026, 11, 15, 0, 0)

        case = session.get(Case, "JC202611180001")
        assert case.merchant_id == MERCHANT_A
        assert case.terminal_id == "60013452"
        assert case.status == "needs_documents"
        assert case.suspension_reason == "license_expired"
        assert case.submitted_at == datetime(2026, 11, 18, 9, 30)  # 01:30 UTC is 09:30 China
        assert case.updated_at == datetime(2026, 11, 19, 10, 0)
        assert case.rejection_reason == ""
        assert case.missing_documents == "营业执照;法人身份证"
        assert case.missing_document_list == ["营业执照", "法人身份证"]
        assert case.source == "import"
        assert case.contact_phone is None

        other = session.get(Case, "JC202611180002")
        assert other.status == "rejected"
        assert other.rejection_reason == "还款证明不清晰"
        assert other.submitted_at == datetime(2026, 11, 18, 0, 0)
        assert other.updated_at == datetime(2026, 11, 20, 16, 45)
        assert other.missing_documents == ""
    assert events(store, "JC202611180001") == [("imported", "status needs_documents", NOW)]
    assert events(store, "JC202611180002") == [("imported", "status rejected", NOW)]


def test_reimport_changes_nothing(store: CaseStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cases.csv", csv_text(GOOD_ROWS))
    import_cases_csv(store, path, now=NOW)
    before = counts(store)

    result = import_cases_csv(store, path, now=datetime(2026, 11, 22, 8, 0))

    assert result == ImportResult(rows=3, cases_unchanged=2)
    assert counts(store) == before
    assert events(store, "JC202611180001") == [("imported", "status needs_documents", NOW)]


def test_status_change_adds_one_event(store: CaseStore, tmp_path: Path) -> None:
    import_cases_csv(store, write_csv(tmp_path / "day1.csv", csv_text(GOOD_ROWS)), now=NOW)
    approved = changed(
        CASE_NEEDS_DOCS, status="approved", updated_at="2026-11-21T09:00:00", missing_documents=""
    )
    day2 = write_csv(tmp_path / "day2.csv", csv_text([approved, CASE_REJECTED, TERMINAL_ONLY]))
    later = datetime(2026, 11, 22, 8, 0)

    result = import_cases_csv(store, day2, now=later)

    assert (result.cases_created, result.cases_updated, result.cases_unchanged) == (0, 1, 1)
    assert events(store, "JC202611180001") == [
        ("imported", "status needs_documents", NOW),
        ("status_changed", "needs_documents -> approved", later),
    ]
    with store.session() as session:
        case = session.get(Case, "JC202611180001")
        assert (case.status, case.missing_documents) == ("approved", "")
        assert case.updated_at == datetime(2026, 11, 21, 9, 0)

    again = import_cases_csv(store, day2, now=datetime(2026, 11, 23, 8, 0))

    assert again.cases_unchanged == 2
    assert len(events(store, "JC202611180001")) == 2


def test_update_without_status_change_adds_no_event(store: CaseStore, tmp_path: Path) -> None:
    import_cases_csv(store, write_csv(tmp_path / "a.csv", csv_text(GOOD_ROWS)), now=NOW)
    more_docs = changed(CASE_NEEDS_DOCS, missing_documents="营业执照;法人身份证;门头照")

    result = import_cases_csv(store, write_csv(tmp_path / "b.csv", csv_text([more_docs])), now=NOW)

    assert result.cases_updated == 1
    assert len(events(store, "JC202611180001")) == 1


def test_changed_phone_and_terminal_are_updated(store: CaseStore, tmp_path: Path) -> None:
    import_cases_csv(store, write_csv(tmp_path / "a.csv", csv_text(GOOD_ROWS)), now=NOW)
    new_phone = changed(TERMINAL_ONLY, registered_phone="13698765432", suspension_reason="network")

    result = import_cases_csv(store, write_csv(tmp_path / "b.csv", csv_text([new_phone])), now=NOW)

    assert (result.merchants_updated, result.terminals_updated) == (1, 1)
    with store.session() as session:
        assert session.get(Merchant, MERCHANT_B).registered_phone == "13698765432"
        assert session.get(Terminal, "60013454").suspension_reason == "network"


def test_aware_now_is_stored_as_china_time(store: CaseStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cases.csv", csv_text([CASE_REJECTED]))

    import_cases_csv(store, path, now=datetime(2026, 11, 21, 2, 0, tzinfo=timezone.utc))

    assert events(store, "JC202611180002")[0][2] == datetime(2026, 11, 21, 10, 0)


def test_terminal_without_case(store: CaseStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cases.csv", csv_text([TERMINAL_ONLY]))

    result = import_cases_csv(store, path, now=NOW)

    assert (result.terminals_created, result.cases_created) == (1, 0)
    assert counts(store) == {"merchants": 1, "terminals": 1, "cases": 0, "case_events": 0}
    with store.session() as session:
        terminal = session.get(Terminal, "60013454")
        assert terminal.merchant_id == MERCHANT_B
        assert terminal.suspension_reason == "hardware_fault"
        assert terminal.pos_type == "traditional"
        assert terminal.suspended_at == datetime(2026, 11, 17, 8, 0)


def test_full_width_and_separated_identifiers_are_normalised(
    store: CaseStore, tmp_path: Path
) -> None:
    messy = changed(
        CASE_NEEDS_DOCS,
        case_id="jc２０２６１１１８０００１",
        merchant_id="８９８３１００５８１２１２３４",
        registered_phone="138-1234 5678",
        terminal_id="6001 3452",
        submitted_at="２０２６-１１-１８",
        updated_at="2026-11-19",
    )

    import_cases_csv(store, write_csv(tmp_path / "cases.csv", csv_text([messy])), now=NOW)

    with store.session() as session:
        case = session.get(Case, "JC202611180001")
        assert (case.merchant_id, case.terminal_id) == (MERCHANT_A, "60013452")
        assert case.submitted_at == datetime(2026, 11, 18)
        assert session.get(Merchant, MERCHANT_A).registered_phone == "13812345678"


def test_bom_and_surrounding_spaces_are_accepted(store: CaseStore, tmp_path: Path) -> None:
    padded = {column: f"  {value} " if value else value for column, value in CASE_REJECTED.items()}
    path = write_csv(tmp_path / "cases.csv", "\ufeff" + csv_text([padded]), encoding="utf-8")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    result = import_cases_csv(store, path, now=NOW)

    assert result.cases_created == 1
    with store.session() as session:
        case = session.get(Case, "JC202611180002")
        assert (case.status, case.rejection_reason) == ("rejected", "还款证明不清晰")
        assert session.get(Merchant, MERCHANT_A).name == "张记小吃店"


def test_columns_in_another_order(store: CaseStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cases.csv", csv_text(GOOD_ROWS, columns=COLUMNS[::-1]))

    result = import_cases_csv(store, path, now=NOW)

    assert (result.rows, result.cases_created, result.terminals_created) == (3, 2, 3)
    with store.session() as session:
        assert session.get(Case, "JC202611180001").submitted_at == datetime(2026, 11, 18, 9, 30)


def test_formula_like_text_is_stored_verbatim(store: CaseStore, tmp_path: Path) -> None:
    formula = '=HYPERLINK("http://evil.example","点我")'
    rows = [
        changed(TERMINAL_ONLY, merchant_name=formula),
        changed(CASE_REJECTED, rejection_reason="+1 @ops -2"),
    ]

    import_cases_csv(store, write_csv(tmp_path / "cases.csv", csv_text(rows)), now=NOW)

    with store.session() as session:
        assert session.get(Merchant, MERCHANT_B).name == formula
        assert session.get(Case, "JC202611180002").rejection_reason == "+1 @ops -2"


def test_header_only_imports_nothing(store: CaseStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cases.csv", csv_text([]))

    assert import_cases_csv(store, path, now=NOW) == ImportResult(rows=0)
    assert counts(store) == EMPTY


def test_empty_file_is_rejected(store: CaseStore, tmp_path: Path) -> None:
    errors = rejected(store, write_csv(tmp_path / "cases.csv", ""))

    assert [error.line for error in errors] == [1]
    assert "no data rows" in errors[0].message


def test_blank_lines_are_skipped_but_counted(store: CaseStore, tmp_path: Path) -> None:
    text = (
        csv_text([CASE_NEEDS_DOCS])
        + "\r\n,,,,,,,,,,,,\r\n"
        + csv_text([changed(CASE_REJECTED, merchant_id="12345")]).split("\r\n", 1)[1]
    )

    errors = rejected(store, write_csv(tmp_path / "cases.csv", text))

    assert [str(error) for error in errors] == ["line 5: merchant_id '12345' must be 15 digits"]


# --------------------------------------------------------------------------- bad files


BAD_ROWS = {
    "merchant_id": (changed(CASE_REJECTED, merchant_id="12345"), "merchant_id '12345' must be 15"),
    "terminal_id": (changed(CASE_REJECTED, terminal_id="6001345"), "terminal_id '6001345' must be"),
    "case_id": (changed(CASE_REJECTED, case_id="JC2026111800"), "case_id 'JC2026111800' must be"),
    "phone": (changed(CASE_REJECTED, registered_phone="12812345678"), "registered_phone"),
    "status": (changed(CASE_REJECTED, status="closed"), "status 'closed' is not one of"),
    "no status": (changed(CASE_REJECTED, status=""), "status is empty"),
    "reason": (changed(CASE_REJECTED, suspension_reason="欠款"), "suspension_reason '欠款'"),
    "pos_type": (changed(CASE_REJECTED, pos_type="mpos"), "pos_type 'mpos' is not one of"),
    "date": (changed(CASE_REJECTED, submitted_at="2026/11/18"), "submitted_at '2026/11/18'"),
    "impossible date": (changed(CASE_REJECTED, suspended_at="2026-02-30"), "suspended_at"),
    "updated before submitted": (
        changed(CASE_REJECTED, submitted_at="2026-11-18T10:00", updated_at="2026-11-18T09:59"),
        "updated_at '2026-11-18T09:59' is before submitted_at",
    ),
    "rejection reason": (
        changed(CASE_NEEDS_DOCS, case_id="JC202611180009", rejection_reason="资料不全"),
        "rejection_reason must be empty unless status is 'rejected'",
    ),
    "empty name": (changed(CASE_REJECTED, merchant_name="  "), "merchant_name is empty"),
    "status without case": (changed(TERMINAL_ONLY, status="submitted"), "must be empty when"),
    "cell count": ({"case_id": "JC202611180002"}, "cells"),
}


@pytest.mark.parametrize("kind", list(BAD_ROWS))
def test_bad_row_rejects_the_whole_file(store: CaseStore, tmp_path: Path, kind: str) -> None:
    bad, fragment = BAD_ROWS[kind]
    text = csv_text([CASE_NEEDS_DOCS, bad, TERMINAL_ONLY])
    if kind == "cell count":
        lines = text.split("\r\n")
        lines[2] = "JC202611180002,898310058121234"
        text = "\r\n".join(lines)

    errors = rejected(store, write_csv(tmp_path / "cases.csv", text))

    assert [error.line for error in errors] == [3], errors
    assert fragment in errors[0].message
    assert str(errors[0]).startswith("line 3: ")
    assert counts(store) == EMPTY


def test_every_bad_row_is_reported(store: CaseStore, tmp_path: Path) -> None:
    rows = [
        CASE_NEEDS_DOCS,
        changed(CASE_REJECTED, merchant_id="12345"),
        changed(TERMINAL_ONLY, terminal_id="abc", pos_type="mpos"),
    ]

    errors = rejected(store, write_csv(tmp_path / "cases.csv", csv_text(rows)))

    assert [str(error) for error in errors] == [
        "line 3: merchant_id '12345' must be 15 digits",
        "line 4: terminal_id 'abc' must be 8 digits",
        "line 4: pos_type 'mpos' is not one of: traditional, e_sign, smart",
    ]
    assert counts(store) == EMPTY


def test_duplicate_case_id_reports_both_lines(store: CaseStore, tmp_path: Path) -> None:
    twice = changed(CASE_NEEDS_DOCS, terminal_id="60013459")
    rows = [CASE_NEEDS_DOCS, TERMINAL_ONLY, twice]

    errors = rejected(store, write_csv(tmp_path / "cases.csv", csv_text(rows)))

    assert [str(error) for error in errors] == [
        "line 2: duplicate case_id 'JC202611180001' (also on line 4)",
        "line 4: duplicate case_id 'JC202611180001' (also on line 2)",
    ]
    assert counts(store) == EMPTY


def test_terminal_under_two_merchants_in_file(store: CaseStore, tmp_path: Path) -> None:
    stolen = changed(TERMINAL_ONLY, terminal_id=CASE_NEEDS_DOCS["terminal_id"])
    rows = [CASE_NEEDS_DOCS, CASE_REJECTED, stolen]

    errors = rejected(store, write_csv(tmp_path / "cases.csv", csv_text(rows)))

    assert [str(error) for error in errors] == [
        f"line 2: terminal_id '60013452' has merchant_id '{MERCHANT_A}' here "
        f"but '{MERCHANT_B}' on line 4",
        f"line 4: terminal_id '60013452' has merchant_id '{MERCHANT_B}' here "
        f"but '{MERCHANT_A}' on line 2",
    ]
    assert counts(store) == EMPTY


def test_merchant_with_two_phones_in_file(store: CaseStore, tmp_path: Path) -> None:
    rows = [CASE_NEEDS_DOCS, changed(CASE_REJECTED, registered_phone="13900000000")]

    errors = rejected(store, write_csv(tmp_path / "cases.csv", csv_text(rows)))

    assert [error.line for error in errors] == [2, 3]
    assert "registered_phone '13812345678' here but '13900000000' on line 3" in str(errors[0])


def test_terminal_of_another_merchant_in_database(store: CaseStore, tmp_path: Path) -> None:
    import_cases_csv(store, write_csv(tmp_path / "a.csv", csv_text([CASE_NEEDS_DOCS])), now=NOW)
    before = counts(store)
    moved = changed(TERMINAL_ONLY, terminal_id=CASE_NEEDS_DOCS["terminal_id"])

    errors = rejected(store, write_csv(tmp_path / "b.csv", csv_text([CASE_REJECTED, moved])))

    assert [str(error) for error in errors] == [
        f"line 3: terminal_id '60013452' belongs to merchant_id '{MERCHANT_A}' in the database, "
        f"not '{MERCHANT_B}'"
    ]
    assert counts(store) == before
    with store.session() as session:
        assert session.get(Case, "JC202611180002") is None
        assert session.get(Merchant, MERCHANT_B) is None


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (
            [c for c in COLUMNS if c not in ("status", "terminal_id")],
            "missing required column(s): terminal_id, status",
        ),
        ([*COLUMNS, "remark"], "unexpected column(s): remark"),
        ([*COLUMNS, "status"], "duplicated column(s): status"),
    ],
)
def test_bad_header(store: CaseStore, tmp_path: Path, columns: list[str], expected: str) -> None:
    path = write_csv(tmp_path / "cases.csv", csv_text(GOOD_ROWS, columns=columns))

    errors = rejected(store, path)

    assert [str(error) for error in errors] == [f"line 1: {expected}"]
    assert counts(store) == EMPTY


def test_not_utf8_is_rejected_clearly(store: CaseStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cases.csv", csv_text(GOOD_ROWS), encoding="gbk")

    errors = rejected(store, path)

    assert len(errors) == 1
    assert errors[0].line == 2  # the first Chinese merchant name
    assert "not valid UTF-8" in errors[0].message
    assert counts(store) == EMPTY


def test_error_lines_are_physical_with_multiline_cells(store: CaseStore, tmp_path: Path) -> None:
    multiline = changed(CASE_NEEDS_DOCS, missing_documents="营业执照\n法人身份证")
    rows = [multiline, changed(CASE_REJECTED, status="closed")]

    errors = rejected(store, write_csv(tmp_path / "cases.csv", csv_text(rows)))

    assert [error.line for error in errors] == [4]


def test_unterminated_quote_is_reported(store: CaseStore, tmp_path: Path) -> None:
    text = csv_text([CASE_NEEDS_DOCS]) + 'JC202611180002,"unterminated\r\n'

    errors = rejected(store, write_csv(tmp_path / "cases.csv", text))

    assert len(errors) == 1
    assert "unreadable CSV" in errors[0].message


def test_import_error_message_lists_the_lines() -> None:
    error = CsvImportError([RowError(3, "merchant_id '12345' must be 15 digits")])

    assert "line 3: merchant_id '12345' must be 15 digits" in str(error)
    assert error.errors == [RowError(3, "merchant_id '12345' must be 15 digits")]


# --------------------------------------------------------------------------- parsing only


def test_parse_without_database() -> None:
    rows, errors = parse_cases_csv(io.StringIO(csv_text(GOOD_ROWS), newline=""))

    assert errors == []
    assert [row.line for row in rows] == [2, 3, 4]
    assert rows[0].submitted_at == datetime(2026, 11, 18, 9, 30)
    assert rows[2].case_id is None
    assert rows[2].status is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-18", datetime(2026, 11, 18, 0, 0)),
        ("2026-11-18T09:30:00", datetime(2026, 11, 18, 9, 30)),
        ("2026-11-18 09:30", datetime(2026, 11, 18, 9, 30)),
        ("2026-11-18T01:30:00Z", datetime(2026, 11, 18, 9, 30)),
        ("2026-11-17T20:00:00-05:00", datetime(2026, 11, 18, 9, 0)),
        ("2026-11-18T09:30:00+0800", datetime(2026, 11, 18, 9, 30)),
    ],
)
def test_date_formats(value: str, expected: datetime) -> None:
    row = changed(CASE_REJECTED, submitted_at=value, updated_at="")

    rows, errors = parse_cases_csv(io.StringIO(csv_text([row]), newline=""))

    assert errors == []
    assert rows[0].submitted_at == expected


# --------------------------------------------------------------------------- withdrawn


def test_withdrawn_status_is_imported_and_closes_the_case(store: CaseStore, tmp_path: Path) -> None:
    import_cases_csv(store, write_csv(tmp_path / "day1.csv", csv_text(GOOD_ROWS)), now=NOW)
    withdrawn = changed(CASE_NEEDS_DOCS, status="Withdrawn", updated_at="2026-11-21T09:00:00")
    later = datetime(2026, 11, 22, 8, 0)

    import_cases_csv(store, write_csv(tmp_path / "day2.csv", csv_text([withdrawn])), now=later)

    assert events(store, "JC202611180001")[-1] == (
        "status_changed",
        "needs_documents -> withdrawn",
        later,
    )
    with store.session() as session:
        assert session.get(Case, "JC202611180001").status == "withdrawn"
        assert CaseRepository(session).open_for_terminal("60013452") is None


def test_a_new_withdrawn_case_is_imported(store: CaseStore, tmp_path: Path) -> None:
    row = changed(CASE_NEEDS_DOCS, status="withdrawn")
    result = import_cases_csv(store, write_csv(tmp_path / "w.csv", csv_text([row])), now=NOW)
    assert result.cases_created == 1
    with store.session() as session:
        assert CaseRepository(session).open_for_merchant(MERCHANT_A) == []
