"""Fixtures of the store tests: throw-away PostgreSQL databases and the test Redis database."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot.store.database import CaseStore
from tests.prod.conftest import pg_database, redis_url  # noqa: F401  (module-scoped, shared)

ADMIN_URL = os.environ.get("POSBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


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
    yield store
    store.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
