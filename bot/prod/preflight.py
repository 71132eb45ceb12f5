"""Checks before the servers start: case store schema, tracker store and lock store reachable.

The stores are built from the generated endpoints file exactly as Rasa builds them, so a
class that fails to load (Rasa would silently use its in-memory store) stops the start here.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

from sqlalchemy.engine import make_url

from bot.prod.settings import ProdSettings
from bot.settings import DB_URL


class PreflightError(RuntimeError):
    """A store the profile needs is unusable; the message says which and why."""


def _hidden(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def migrate_case_store(settings: ProdSettings, env: dict[str, str]) -> None:
    """``posbot db setup``: Alembic migrations, demo data into an empty store."""
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "db", "setup"],
        env={**env, DB_URL.env: settings.case_db_url},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PreflightError(
            f"case store {_hidden(settings.case_db_url)}: {result.stderr.strip()[-500:]}"
        )
    print(f"  case store  {result.stdout.strip()}", flush=True)


def check_tracker_store(settings: ProdSettings) -> None:
    """The configured tracker store class loads and its database answers."""
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import read_endpoint_config

    from bot.errors import TrackerStoreUnavailable
    from bot.store.tracker_store import RedactingSQLTrackerStore

    config = read_endpoint_config(str(settings.endpoints_file), "tracker_store")
    store = TrackerStore.create(config)
    if not isinstance(store, RedactingSQLTrackerStore):
        raise PreflightError(f"tracker store is {type(store).__name__}, not the SQL store")
    try:
        asyncio.run(store.retrieve("posbot-preflight"))
    except TrackerStoreUnavailable:
        raise PreflightError(
            f"tracker store {_hidden(settings.tracker_db_url)} is unreachable"
        ) from None
    finally:
        store.engine.dispose()
    print(f"  tracker     {_hidden(settings.tracker_db_url)}", flush=True)


def check_lock_store(settings: ProdSettings) -> None:
    """The configured lock store class loads and Redis answers."""
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import read_endpoint_config

    from bot.store.lock_store import AtomicRedisLockStore

    config = read_endpoint_config(str(settings.endpoints_file), "lock_store")
    store = LockStore.create(config)
    if not isinstance(store, AtomicRedisLockStore):
        raise PreflightError(f"lock store is {type(store).__name__}, not Redis")
    # The preflight runs outside an event loop: the store's synchronous client answers it.
    try:
        store.sync_client.ping()
    except Exception as error:
        raise PreflightError(
            f"lock store {settings.redis_url} is unreachable: {error.__class__.__name__}"
        ) from None
    finally:
        store.sync_client.close()
    print(f"  lock store  {settings.redis_url}", flush=True)


def check_code_table() -> None:
    """The response code table of the action servers is valid."""
    from bot.runtime import code_table_problem
    from bot.services.response_codes import table_path

    problem = code_table_problem()
    if problem:
        raise PreflightError(problem)
    print(f"  codes       {table_path()}", flush=True)
