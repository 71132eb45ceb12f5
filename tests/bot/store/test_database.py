"""Engine settings of the case store."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.store.database import PG_CONNECT_TIMEOUT_SECONDS, CaseStore


@contextmanager
def _silent_server() -> Iterator[int]:
    """A socket that accepts connections (the kernel's backlog) but never speaks PostgreSQL."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        yield silent.getsockname()[1]


async def test_on_the_event_loop_a_server_that_never_answers_fails_the_unit_of_work() -> None:
    with _silent_server() as port:
        store = CaseStore(f"postgresql://posbot@127.0.0.1:{port}/posbot")
        started = time.monotonic()
        with pytest.raises(OperationalError):
            await store.read_async(lambda session: session.execute(text("SELECT 1")))
        assert time.monotonic() - started < PG_CONNECT_TIMEOUT_SECONDS * 3


async def test_refused_connections_are_an_operational_error_and_work_runs_on_the_loop(
    pg_store: CaseStore,
) -> None:
    loop_thread = threading.get_ident()
    threads = await pg_store.read_async(lambda session: threading.get_ident())
    assert threads == loop_thread
    dead = CaseStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(OperationalError) as raised:
        await dead.write_async(lambda session: session.execute(text("SELECT 1")))
    assert isinstance(raised.value.orig.__cause__, OSError)


def test_a_postgresql_server_that_never_answers_fails_the_session_instead_of_hanging():
    # A socket that accepts connections (the kernel's backlog) but never speaks PostgreSQL.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        store = CaseStore(f"postgresql://posbot@127.0.0.1:{port}/posbot")
        started = time.monotonic()
        with pytest.raises(OperationalError), store.session() as session:
            session.execute(text("SELECT 1"))
        # Bounded by connect_timeout (not a benchmark: without it this never returns).
        assert time.monotonic() - started < PG_CONNECT_TIMEOUT_SECONDS * 3
