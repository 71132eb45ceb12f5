"""The verified look-up reads terminals and their newest case in one statement."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import event

from bot.services.cases import LookupOutcome, lookup_for_merchant
from bot.store.database import CaseStore
from bot.store.models import Case, Merchant, Terminal
from bot.store.repositories import CaseRepository
from bot.workdays import WorkdayCalendar

MERCHANT = "898310058100001"
OTHER = "898310058100002"
TODAY = date(2026, 11, 26)


def _case(case_id: str, terminal_id: str, submitted: datetime, status: str) -> Case:
    return Case(
        case_id=case_id,
        merchant_id=MERCHANT if terminal_id != "70000003" else OTHER,
        terminal_id=terminal_id,
        status=status,
        submitted_at=submitted,
        updated_at=submitted,
        source="import",
    )


def _fill(store: CaseStore) -> None:
    store.create_schema()
    with store.session() as session:
        session.add_all(
            [
                Merchant(merchant_id=MERCHANT, name="甲", registered_phone="13800000001"),
                Merchant(merchant_id=OTHER, name="乙", registered_phone="13800000002"),
            ]
        )
        session.flush()
        session.add_all(
            [
                Terminal(terminal_id="70000001", merchant_id=MERCHANT),
                Terminal(terminal_id="70000002", merchant_id=MERCHANT),
                Terminal(terminal_id="70000003", merchant_id=OTHER),
            ]
        )
        session.flush()
        session.add_all(
            [
                _case("JC202610010001", "70000001", datetime(2026, 10, 1, 9), "rejected"),
                _case("JC202611200001", "70000001", datetime(2026, 11, 20, 9), "approved"),
                _case("JC202611200002", "70000001", datetime(2026, 11, 20, 9), "submitted"),
                _case("JC202611010001", "70000003", datetime(2026, 11, 1, 9), "approved"),
            ]
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def filled_store(request, tmp_path):
    if request.param == "sqlite":
        store = CaseStore(f"sqlite:///{tmp_path / 'cases.db'}")
        yield_store = store
    else:
        yield_store = request.getfixturevalue("pg_store")
    _fill(yield_store)
    yield yield_store
    if request.param == "sqlite":
        yield_store.dispose()


def _count_statements(store: CaseStore) -> list[str]:
    statements: list[str] = []
    event.listen(
        store.engine,
        "before_cursor_execute",
        lambda _conn, _cursor, statement, *_: statements.append(statement),
    )
    return statements


def test_each_terminal_comes_with_its_newest_case(filled_store):
    with filled_store.session() as session:
        rows = CaseRepository(session).terminals_with_latest_case(merchant_id=MERCHANT)
        found = [(t.terminal_id, c.case_id if c else None) for t, c in rows]
    # Same submission time: the higher case id is the newer one.
    assert found == [("70000001", "JC202611200002"), ("70000002", None)]


def test_by_terminal_id_and_by_case_id(filled_store):
    with filled_store.session() as session:
        cases = CaseRepository(session)
        [(terminal, case)] = cases.terminals_with_latest_case(terminal_id="70000003")
        assert (terminal.merchant_id, case.case_id) == (OTHER, "JC202611010001")
        assert cases.terminals_with_latest_case(terminal_id="79999999") == []
        case, terminal = cases.get_with_terminal("JC202610010001")
        assert (case.status, terminal.terminal_id) == ("rejected", "70000001")
        assert cases.get_with_terminal("JC209901010001") is None
        with pytest.raises(ValueError):
            cases.terminals_with_latest_case()


@pytest.mark.parametrize(
    ("arguments", "outcome"),
    [
        ({}, LookupOutcome.CHOOSE),
        ({"terminal_id": "70000001"}, LookupOutcome.FOUND),
        ({"terminal_id": "70000003"}, LookupOutcome.NOT_YOURS),
        ({"case_id": "JC202611200001"}, LookupOutcome.FOUND),
        ({"case_id": "JC202611010001"}, LookupOutcome.NOT_YOURS),
    ],
)
def test_a_verified_lookup_is_one_select(filled_store, arguments, outcome):
    statements = _count_statements(filled_store)
    with filled_store.session() as session:
        lookup = lookup_for_merchant(
            session, merchant_id=MERCHANT, calendar=WorkdayCalendar(), today=TODAY, **arguments
        )
    assert lookup.outcome is outcome
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, selects
