"""Shared by the security suite's race tests: a migrated store on SQLite and PostgreSQL, and
threads released at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

import pytest

from bot.store.database import CaseStore
from bot.store.migrate import upgrade
from bot.store.seed import seed_demo_data

NOW = datetime(2026, 11, 26, 10, 0, 0)
THREAD_TIMEOUT_SECONDS = 120

T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_store(request, tmp_path) -> Iterator[CaseStore]:
    """The demo store migrated with Alembic: a SQLite file, then PostgreSQL (``pg_store``: the
    test module imports it; skipped when PostgreSQL is not reachable, failing in CI)."""
    if request.param == "sqlite":
        store = CaseStore(f"sqlite:///{tmp_path / 'cases.db'}")
    else:
        store = request.getfixturevalue("pg_store")
    upgrade(store)
    seed_demo_data(store, now=NOW)
    yield store
    if request.param == "sqlite":
        store.dispose()


def in_parallel(count: int, work: Callable[[int], T]) -> list[T]:
    """Runs ``work(0..count-1)`` in threads released at the same moment; re-raises errors."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(number: int) -> None:
        barrier.wait()
        try:
            results[number] = work(number)
        except BaseException as error:
            results[number] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT_SECONDS)
    assert not [thread for thread in threads if thread.is_alive()], "a thread did not finish"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results
