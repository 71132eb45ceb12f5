"""A flushed Redis test database for the security tests; skipped outside CI when it is missing.

Outside CI an unreachable Redis skips the test with the reason; in CI (CI=true) it fails it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

SECURITY_REDIS_URL = os.environ.get("POSBOT_TEST_SECURITY_REDIS_URL", "redis://127.0.0.1:6379/13")


def service_missing(reason: str) -> None:
    """Fails in CI, skips elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def security_redis_url() -> Iterator[str]:
    """The test database, flushed before and after the test."""
    client = redis.Redis.from_url(SECURITY_REDIS_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        client.close()
        service_missing(f"Redis not reachable at {SECURITY_REDIS_URL}: {error}")
    yield SECURITY_REDIS_URL
    client.flushdb()
    client.close()
