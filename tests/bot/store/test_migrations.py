"""Alembic migrations: from empty and from the previous revision, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from bot.store.database import CaseStore
from bot.store.migrate import current_revision, upgrade
from bot.store.models import Base, Case, Merchant


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store(request, tmp_path):
    if request.param == "sqlite":
        store = CaseStore(f"sqlite:///{tmp_path / 'migrate.db'}")
        yield store
        store.dispose()
    else:
        yield request.getfixturevalue("pg_store")


def _schema_diff(store: CaseStore) -> list:
    with store.engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_from_empty_to_head_matches_the_models(empty_store):
    upgrade(empty_store)
    assert current_revision(empty_store) == "0011"
    assert _schema_diff(empty_store) == []


def test_from_the_previous_revision_keeps_the_data(empty_store):
    upgrade(empty_store, "0001")
    assert current_revision(empty_store) == "0001"
    assert "nlu_misses" not in inspect(empty_store.engine).get_table_names()
    with empty_store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO merchants (merchant_id, name, registered_phone) "
                "VALUES ('898310058121234', '张记便利店', '13812345678')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO terminals (terminal_id, merchant_id) "
                "VALUES ('60013452', '898310058121234')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO cases (case_id, merchant_id, terminal_id, status, submitted_at, "
                "rejection_reason, missing_documents, source) VALUES ('JC202611180023', "
                "'898310058121234', '60013452', 'under_review', :at, '', '', 'import')"
            ),
            {"at": datetime(2026, 11, 18, 9, 30)},
        )  # fmt: skip
    upgrade(empty_store)
    assert current_revision(empty_store) == "0011"
    assert _schema_diff(empty_store) == []
    with empty_store.session() as session:
        assert session.get(Merchant, "898310058121234").name == "张记便利店"
        assert session.execute(select(Case.status)).scalar_one() == "under_review"


def test_a_store_created_from_the_models_is_adopted(tmp_path):
    store = CaseStore(f"sqlite:///{tmp_path / 'legacy.db'}")
    store.create_schema()
    upgrade(store)
    assert current_revision(store) == "0011"
    upgrade(store)  # idempotent
    assert current_revision(store) == "0011"
