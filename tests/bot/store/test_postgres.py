"""The case store on PostgreSQL (the production store), in a database made for this test."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.services.applications import submit_application
from bot.services.cases import LookupOutcome, lookup_for_merchant
from bot.store.models import Case
from bot.store.seed import seed_demo_data
from bot.workdays import WorkdayCalendar

NOW = datetime(2026, 11, 26, 10, 0)


def test_seed_lookup_and_application_on_postgres(pg_store):
    pg_store.create_schema()
    calendar = WorkdayCalendar()
    seed_demo_data(pg_store, now=NOW)
    seed_demo_data(pg_store, now=NOW)  # idempotent
    with pg_store.session() as session:
        lookup = lookup_for_merchant(
            session, merchant_id="898310058121234", calendar=calendar, today=NOW.date()
        )
        assert lookup.outcome is LookupOutcome.FOUND
        assert lookup.case.case_id == "JC202611250001"
        result = submit_application(
            session,
            merchant_id="898310058120000",
            terminal_id="60070001",
            suspension_reason="other",
            contact_phone="13912345678",
            now=NOW,
            calendar=calendar,
        )
        assert result.created and result.case.case_id == "JC202611260007"
    with pg_store.session() as session:
        assert session.execute(select(Case).where(Case.terminal_id == "60070001")).scalar_one()
