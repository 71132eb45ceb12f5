"""Engine settings of the case store."""

from __future__ import annotations

import socket
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.store.database import PG_CONNECT_TIMEOUT_SECONDS, CaseStore


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
