"""Fixtures of the service tests: a migrated case store on SQLite and PostgreSQL for the races."""

from tests.bot.store.conftest import pg_store  # noqa: F401  (throw-away PostgreSQL database)
from tests.security.concurrency import migrated_store  # noqa: F401  (SQLite and PostgreSQL)
