"""Fixtures of the security suite: the real servers and the browser of the end-to-end tests."""

from tests.e2e.conftest import running_bot  # noqa: F401  (both servers on free ports)
from tests.e2e.test_browser import browser, page  # noqa: F401  (Debian's chromium)
