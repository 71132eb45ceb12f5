"""Issue 11, item 7: one open case per terminal, case ids from a counter, parallel filings.

Real threads against a real store migrated with Alembic (SQLite file and PostgreSQL; without a
reachable PostgreSQL that half is skipped, and fails in CI).
"""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from actions.application import ActionSubmitApplication
from bot.services.applications import submit_application
from bot.store.database import CaseStore
from bot.store.importer import CsvImportError, import_cases_text
from bot.store.models import Case, Merchant, Terminal
from bot.store.repositories import ApplicationDraftRepository
from bot.store.seed import demo_csv
from bot.workdays import WorkdayCalendar
from tests.actions.helpers import make_tracker, verified_as
from tests.security.concurrency import NOW, in_parallel

WU, WU_TERMINAL = "898310058120000", "60070001"  # suspended, no application yet
PARALLEL = 20


def _open_cases(store: CaseStore, terminal_id: str) -> list[str]:
    with store.session() as session:
        query = select(Case.case_id).where(
            Case.terminal_id == terminal_id,
            Case.status.in_(("submitted", "under_review", "needs_documents")),
        )
        return list(session.execute(query).scalars())


def test_parallel_submissions_for_one_terminal_give_one_case(migrated_store):
    calendar = WorkdayCalendar()

    def submit(number: int):
        with migrated_store.session() as session:
            return submit_application(
                session,
                merchant_id=WU,
                terminal_id=WU_TERMINAL,
                suspension_reason="other",
                contact_phone=f"139000000{number:02d}",
                now=NOW,
                calendar=calendar,
            )

    results = in_parallel(PARALLEL, submit)

    assert sum(result.created for result in results) == 1
    assert len({result.case.case_id for result in results}) == 1
    assert _open_cases(migrated_store, WU_TERMINAL) == [results[0].case.case_id]


def test_parallel_submissions_tell_every_submitter_the_same_case_number(migrated_store):
    """Through the action: the one who filed and the others all hear the case's number."""
    domain_slots = verified_as(
        WU,
        terminal_id=WU_TERMINAL,
        suspension_reason="other",
        phone_number="139****0000",
        confirm_pending=True,
    )
    with migrated_store.session() as session:
        for number in range(PARALLEL):
            ApplicationDraftRepository(session).save_phone(f"p{number}", "13900000000", NOW)
    action = ActionSubmitApplication(
        store=migrated_store, calendar=WorkdayCalendar(), clock=lambda: NOW
    )

    async def everyone() -> list[CollectingDispatcher]:
        dispatchers = [CollectingDispatcher() for _ in range(PARALLEL)]
        await asyncio.gather(
            *(
                action.run(d, make_tracker("affirm", slots=domain_slots, sender_id=f"p{n}"), {})
                for n, d in enumerate(dispatchers)
            )
        )
        return dispatchers

    dispatchers = asyncio.run(everyone())

    (case_id,) = _open_cases(migrated_store, WU_TERMINAL)
    told = [
        [(m["response"], m.get("case_id")) for m in d.messages if m.get("case_id")]
        for d in dispatchers
    ]
    assert sorted(told) == sorted(
        [[("utter_application_submitted", case_id)]]
        + [[("utter_open_case_exists", case_id)]] * (PARALLEL - 1)
    )


def test_case_ids_filed_in_the_same_second_are_all_different(migrated_store):
    terminals = [f"6100{number:04d}" for number in range(PARALLEL)]
    with migrated_store.session() as session:
        for terminal_id in terminals:
            session.add(Terminal(terminal_id=terminal_id, merchant_id=WU))
    calendar = WorkdayCalendar()

    def submit(number: int) -> str:
        with migrated_store.session() as session:
            return submit_application(
                session,
                merchant_id=WU,
                terminal_id=terminals[number],
                suspension_reason="other",
                contact_phone="13900000000",
                now=NOW,
                calendar=calendar,
            ).case.case_id

    case_ids = in_parallel(PARALLEL, submit)

    # The demo data has JC202611260001-0006 for today: the counter continues after them.
    assert sorted(case_ids) == [f"JC20261126{n:04d}" for n in range(7, 7 + PARALLEL)]


def test_the_database_refuses_a_second_open_case_but_not_closed_ones(migrated_store):
    def add(case_id: str, status: str) -> None:
        with migrated_store.session() as session:
            session.add(
                Case(
                    case_id=case_id,
                    merchant_id="898310058121234",
                    terminal_id="60013452",  # has an open case under review
                    status=status,
                    submitted_at=NOW,
                    source="import",
                )
            )

    for number, status in enumerate(("approved", "rejected", "withdrawn")):
        add(f"JC20261126990{number}", status)
    with pytest.raises(IntegrityError):
        add("JC202611269999", "submitted")
    with migrated_store.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 6 + 3


def test_an_import_that_opens_a_second_case_names_the_line(migrated_store):
    second = demo_csv(NOW).splitlines()
    header, zhang = second[0], second[1]
    cells = zhang.split(",")
    cells[0] = "JC202611269000"  # another case, still under review, same terminal 60013452
    with pytest.raises(CsvImportError) as raised:
        import_cases_text(migrated_store, "\n".join([header, ",".join(cells)]) + "\n", now=NOW)
    assert "line 2: terminal_id '60013452' already has an open case" in str(raised.value)
    with migrated_store.session() as session:
        assert session.get(Merchant, WU) is not None
        assert session.get(Case, "JC202611269000") is None
