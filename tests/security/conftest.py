"""Fixtures of the security suite: the real servers and the browser of the end-to-end tests,
and a migrated case store on SQLite and PostgreSQL for the race tests."""

from tests.bot.store.conftest import pg_store  # noqa: F401  (throw-away PostgreSQL database)
from tests.e2e.conftest import running_bot  # noqa: F401  (both servers on free ports)
from tests.e2e.test_browser import browser, page  # noqa: F401  (Debian's chromium)
from tests.security.concurrency import migrated_store  # noqa: F401  (SQLite and PostgreSQL)
