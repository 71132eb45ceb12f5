"""The bots the load test starts: the single-process default and the production profile.

Each is a context manager yielding the running bot (its ``url`` is the loopback URL to load);
it stops what it started (by process id) on the way out. Case stores are fresh: demo data plus
the load merchants.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot import runtime
from bot.clock import china_now
from bot.settings import DB_URL, RATE_LIMIT, REDIS_URL, TRACKER_URL
from bot.store.database import CaseStore
from load.merchants import load_merchants
from load.seed import seed_load_merchants

ROOT: Final = Path(__file__).resolve().parent.parent
MODEL: Final = "models/posbot.tar.gz"
STOP_SECONDS: Final = 60
DB_URL_ENV: Final = DB_URL.env
TRACKER_URL_ENV: Final = TRACKER_URL.env
REDIS_URL_ENV: Final = REDIS_URL.env
RATE_LIMIT_ENV: Final = RATE_LIMIT.env
# Databases this code may drop and recreate: the load test's and make bench's.
OWN_DATABASE_PREFIXES: Final = ("posbot_load", "posbot_bench")


def prepare_store(url: str, merchants: int) -> None:
    """Schema at the latest revision, the demo data and ``merchants`` load merchants."""
    from bot.store.migrate import upgrade
    from bot.store.seed import seed_demo_data

    store = CaseStore(url)
    try:
        upgrade(store)
        now = china_now()
        seed_demo_data(store, now)
        seed_load_merchants(store, load_merchants(merchants), now)
    finally:
        store.dispose()


def fresh_sqlite(path: Path, merchants: int) -> str:
    """A new SQLite case store at ``path``; its URL."""
    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    prepare_store(url, merchants)
    return url


def _admin(admin_url: str, database: str, *statements: str) -> None:
    """Runs ``statements`` (with ``{database}``) on the server, for a load or bench database."""
    if not database.isidentifier() or not database.startswith(OWN_DATABASE_PREFIXES):
        raise ValueError(f"refusing to recreate database {database!r}: not a load database")
    engine = sa.create_engine(admin_url, future=True, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(sa.text(statement.format(database=database)))
    finally:
        engine.dispose()


def drop_postgres(admin_url: str, database: str) -> None:
    """Drops ``database`` (the load test's or the bench's own) if it exists."""
    _admin(admin_url, database, 'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def fresh_postgres(admin_url: str, database: str, merchants: int) -> str:
    """Drops and creates ``database`` (the load test's own) on the server; its URL."""
    _admin(
        admin_url,
        database,
        'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
        'CREATE DATABASE "{database}"',
    )
    url = make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    prepare_store(url, merchants)
    return url


@contextlib.contextmanager
def default_profile(
    workdir: Path, case_db_url: str, port: int, actions_port: int, token: str
) -> Iterator[runtime.RunningBot]:
    """What ``posbot serve`` starts (one Rasa server, one action server, SQLite trackers in
    ``workdir``), with Rasa's HTTP API behind ``token`` so that the trackers can be read back."""
    env = {
        DB_URL_ENV: case_db_url,
        TRACKER_URL_ENV: f"sqlite:///{workdir / 'tracker.db'}",
        # One load generator on 127.0.0.1 stands for many merchants.
        RATE_LIMIT_ENV: "off",
    }
    with runtime.running_bot(
        MODEL, env=env, port=port, actions_port=actions_port, workdir=workdir, cwd=ROOT,
        rasa_args=["--enable-api", "--auth-token", token], stop_seconds=STOP_SECONDS,
    ) as bot:  # fmt: skip
        yield bot


@contextlib.contextmanager
def prod_profile(
    workdir: Path, db_url: str, redis_url: str, base_port: int
) -> Iterator[runtime.RunningBot]:
    """``posbot prod start`` (nginx, 2 Rasa + 2 action servers, PostgreSQL, Redis)."""
    env = {
        DB_URL_ENV: db_url,
        TRACKER_URL_ENV: db_url,
        REDIS_URL_ENV: redis_url,
        RATE_LIMIT_ENV: "off",
    }
    with runtime.running_prod(
        workdir / "state", base_port, model=MODEL, env=env, cwd=ROOT, stop_seconds=STOP_SECONDS
    ) as bot:
        yield bot
