"""The two profiles the bench compares, started through :mod:`bot.runtime` via the load
runner's starters (:mod:`load.servers`), each with fresh stores and the load merchants."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import redis
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from bot import runtime
from load.bench.cpu import descendants
from load.servers import (
    DB_URL_ENV,
    MODEL,
    RATE_LIMIT_ENV,
    ROOT,
    TRACKER_URL_ENV,
    drop_postgres,
    fresh_postgres,
    fresh_sqlite,
    prod_profile,
)

SINGLE_TITLE: Final = "single process (make run)"
PROD_TITLE: Final = "production profile (posbot prod start)"
SQLITE: Final = "sqlite"
MEMORY: Final = "memory"
TRACKER_STORE: Final = "tracker_store"


class Unavailable(RuntimeError):
    """PostgreSQL, Redis or nginx is missing: the production profile is skipped."""


@dataclass
class Started:
    """A profile ready for load: its URL, and how to find every process it runs."""

    url: str
    pids: Callable[[], set[int]]


def _backends(admin_url: str, database: str) -> set[int]:
    """PostgreSQL server processes connected to ``database`` (they do the tracker's work)."""
    engine = sa.create_engine(admin_url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                {"name": database},
            )
            return {int(row[0]) for row in rows}
    except SQLAlchemyError:
        return set()
    finally:
        engine.dispose()


@contextlib.contextmanager
def single(workdir: Path, merchants: int, trackers: str = SQLITE) -> Iterator[Started]:
    """What ``make run`` starts: one Rasa server and one action server, the SQLite tracker
    store of ``endpoints.yml`` (``trackers="memory"``: Rasa's in-memory store instead), a
    fresh SQLite case store (free ports, rate limit off)."""
    case_db = fresh_sqlite((workdir / "cases.db").resolve(), merchants)
    env = {
        DB_URL_ENV: case_db,
        TRACKER_URL_ENV: f"sqlite:///{(workdir / 'tracker.db').resolve()}",
        RATE_LIMIT_ENV: "off",  # one load generator on 127.0.0.1 stands for many merchants
    }
    sections = runtime.default_sections()
    if trackers == MEMORY:
        sections.pop(TRACKER_STORE, None)
    with runtime.running_bot(MODEL, env=env, workdir=workdir, cwd=ROOT, endpoints=sections) as bot:
        yield Started(bot.url, lambda: descendants(bot.pids.values()))


def check_prod_services(admin_url: str, redis_url: str) -> None:
    """Raises :class:`Unavailable` unless PostgreSQL, Redis and nginx are there."""
    if shutil.which("nginx") is None:
        raise Unavailable("nginx is not installed")
    engine = sa.create_engine(admin_url, future=True, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as error:
        raise Unavailable(
            f"PostgreSQL is not reachable at {admin_url}: {error.__class__.__name__}"
        ) from None
    finally:
        engine.dispose()
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        raise Unavailable(
            f"Redis is not reachable at {redis_url}: {error.__class__.__name__}"
        ) from None
    finally:
        client.close()


@contextlib.contextmanager
def prod(
    workdir: Path, admin_url: str, database: str, redis_url: str, base_port: int, merchants: int
) -> Iterator[Started]:
    """``posbot prod start``: nginx on ``base_port``, 2 Rasa + 2 action servers, PostgreSQL
    case and tracker stores in ``database`` (recreated, dropped afterwards), Redis lock store."""
    check_prod_services(admin_url, redis_url)
    url = fresh_postgres(admin_url, database, merchants)
    try:
        with prod_profile(workdir, url, redis_url, base_port) as bot:
            yield Started(
                bot.url,
                lambda: descendants(bot.pids.values()) | _backends(admin_url, database),
            )
    finally:
        drop_postgres(admin_url, database)
