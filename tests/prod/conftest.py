"""Fixtures of the production-profile tests: PostgreSQL, Redis, nginx, a throw-away database.

Outside CI a missing service skips these tests with the reason; in CI (CI=true) it fails them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

PG_ADMIN_URL = os.environ.get("POSBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("POSBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
# Ports of helper H1's range: the profile takes base..base+12, proxies base+20 upwards.
BASE_PORT = 5100


def unavailable(reason: str) -> None:
    """Fails in CI, skips elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable(f"Redis not reachable at {REDIS_TEST_URL}: {error}")
    finally:
        client.close()
    yield REDIS_TEST_URL


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped afterwards."""
    admin = create_engine(PG_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    name = f"posbot_prod_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        unavailable(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {error.orig}")
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def nginx() -> str:
    path = shutil.which("nginx")
    if path is None:
        unavailable("nginx is not installed (.ci/run installs Debian's nginx)")
    return path
