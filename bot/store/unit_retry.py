"""When a unit of work of the case store may run once more after its connection dropped.

A pooled connection is not pinged before each use (:mod:`bot.store.pool_ping`), so the first
statement of a unit of work may meet a connection the database had dropped. Such a unit runs
once more on a new connection when that cannot store anything twice: a read always, a write
only when none of its statements had completed (the server rolls an unfinished transaction
back). The completed statements are counted per unit and attempt in a context variable, which
a worker thread (``asyncio.to_thread`` copies the context) and a greenlet of
``AsyncSession.run_sync`` both see as the unit's own.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import DBAPIError

_statements: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "posbot_unit_statements", default=None
)


def count_statement(*_args: Any) -> None:
    """The engines' ``after_cursor_execute`` listener: one more completed statement for the
    running unit of work (nothing outside one)."""
    counter = _statements.get()
    if counter is not None:
        counter[0] += 1


@contextmanager
def attempt() -> Iterator[list[int]]:
    """One attempt of a unit of work: its counter of completed statements (``[n]``)."""
    counter = [0]
    token = _statements.set(counter)
    try:
        yield counter
    finally:
        _statements.reset(token)


def may_run_again(error: DBAPIError, completed: int, *, always: bool) -> bool:
    """Whether a first attempt that failed with ``error`` after ``completed`` statements runs
    once more: the database had dropped its connection, and it is a read (``always``) or
    nothing of it completed."""
    return error.connection_invalidated and (always or completed == 0)
