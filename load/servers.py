"""The bots the load test starts: the single-process default and the production profile.

Each is a context manager yielding the loopback URL to load; it stops what it started (by
process id) on the way out. Case stores are fresh: demo data plus the load merchants.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot.cli.serve import (
    action_server_command,
    bot_environment,
    endpoints_for,
    rasa_server_command,
    wait_until_ready,
)
from bot.clock import china_now
from bot.settings import DB_URL, RATE_LIMIT, REDIS_URL, TRACKER_URL
from bot.store.database import CaseStore
from load.merchants import load_merchants
from load.seed import seed_load_merchants

ROOT: Final = Path(__file__).resolve().parent.parent
MODEL: Final = "models/posbot.tar.gz"
READY_SECONDS: Final = 240
STOP_SECONDS: Final = 60
DB_URL_ENV: Final = DB_URL.env
TRACKER_URL_ENV: Final = TRACKER_URL.env
REDIS_URL_ENV: Final = REDIS_URL.env
RATE_LIMIT_ENV: Final = RATE_LIMIT.env


def _stop(processes: Sequence[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


def fresh_postgres(admin_url: str, database: str, merchants: int) -> str:
    """Drops and creates ``database`` (the load test's own) on the server; its URL."""
    if not database.isidentifier() or not database.startswith("posbot_load"):
        raise ValueError(f"refusing to recreate database {database!r}: not a load database")
    engine = sa.create_engine(admin_url, future=True, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    finally:
        engine.dispose()
    url = make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    prepare_store(url, merchants)
    return url


@contextlib.contextmanager
def default_profile(
    workdir: Path, case_db_url: str, port: int, actions_port: int, token: str
) -> Iterator[str]:
    """What ``posbot serve`` starts (one Rasa server, one action server, SQLite trackers in
    ``workdir``), with Rasa's HTTP API behind ``token`` so that the trackers can be read back."""
    env = {
        **bot_environment(),
        DB_URL_ENV: case_db_url,
        TRACKER_URL_ENV: f"sqlite:///{workdir / 'tracker.db'}",
        # One load generator on 127.0.0.1 stands for many merchants.
        RATE_LIMIT_ENV: "off",
    }
    logs = [(workdir / name).open("w", encoding="utf-8") for name in ("actions.log", "rasa.log")]
    processes: list[subprocess.Popen] = []
    try:
        actions = subprocess.Popen(
            action_server_command(actions_port), cwd=ROOT, env=env, stdout=logs[0],
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(actions)
        if not wait_until_ready(f"http://127.0.0.1:{actions_port}/health", actions, 90):
            raise RuntimeError(f"the action server did not start: see {logs[0].name}")
        command = rasa_server_command(MODEL, port, endpoints_for(actions_port, env))
        rasa = subprocess.Popen(
            [*command, "--enable-api", "--auth-token", token], cwd=ROOT, env=env,
            stdout=logs[1], stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(rasa)
        url = f"http://127.0.0.1:{port}"
        if not wait_until_ready(f"{url}/", rasa, READY_SECONDS):
            raise RuntimeError(f"the Rasa server did not start: see {logs[1].name}")
        yield url
    finally:
        _stop(processes)
        for log in logs:
            log.close()


@contextlib.contextmanager
def prod_profile(workdir: Path, db_url: str, redis_url: str, base_port: int) -> Iterator[str]:
    """``posbot prod start`` (nginx, 2 Rasa + 2 action servers, PostgreSQL, Redis)."""
    env = {
        **bot_environment(),
        DB_URL_ENV: db_url,
        TRACKER_URL_ENV: db_url,
        REDIS_URL_ENV: redis_url,
        RATE_LIMIT_ENV: "off",
    }
    command = [
        sys.executable, "-m", "bot.cli.main", "prod", "start", "--base-port", str(base_port),
        "--state-dir", str(workdir / "state"), "--model", MODEL,
    ]  # fmt: skip
    (workdir / "state").mkdir(parents=True, exist_ok=True)
    with (workdir / "prod.log").open("w", encoding="utf-8") as log:
        supervisor = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{base_port}"
            if not wait_until_ready(f"{url}/", supervisor, READY_SECONDS):
                raise RuntimeError(f"the production profile did not start: see {log.name}")
            yield url
        finally:
            _stop([supervisor])
