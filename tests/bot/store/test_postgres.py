"""The case store on PostgreSQL (the production store), in a database made for this test."""

from __future__ import annotations

import os
import uuid
from datetime import datetime

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from bot.services.cases import LookupOutcome, lookup_for_merchant, submit_application
from bot.store.database import CaseStore
from bot.store.models import Case
from bot.store.seed import seed_demo_data
from bot.workdays import WorkdayCalendar

ADMIN_URL = os.environ.get("POSBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 26, 10, 0)


@pytest.fixture
def pg_store():
    admin = create_engine(ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            name = f"posbot_test_{uuid.uuid4().hex[:8]}"
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {ADMIN_URL}: {error.orig}")
    store = CaseStore(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    store.create_schema()
    yield store
    store.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_seed_lookup_and_application_on_postgres(pg_store):
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
