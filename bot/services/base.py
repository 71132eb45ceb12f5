"""How the services reach the case store: one short unit of work per call, off the event loop's
critical path.

Actions and channels call services and never see a session: a service method opens a session
from the store's factory, runs its unit of work (on PostgreSQL on the event loop through
asyncpg, else in a worker thread: the event loop stays free; :mod:`bot.store.database_async`)
and commits, or rolls back and raises :class:`StoreUnavailable` when the database fails.
Read-only work goes through :meth:`StoreService.read` (no transaction: fewer round trips to the
database, see :mod:`bot.store.database`), writes through :meth:`StoreService.transaction`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.store.database import CaseStore, default_store
from bot.workdays import WorkdayCalendar

logger = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["CalendarService", "CaseStore", "StoreService", "StoreUnavailable"]


class StoreUnavailable(RuntimeError):
    """The case store could not be reached; the user gets a polite message (a 503 for agents).

    The message is the database error's class name only: the error itself may quote SQL
    parameters (personal data).
    """


class StoreService:
    """Base of the services that use the case store.

    The store comes by constructor argument (tests pass a real SQLite store); by default it is
    the process-wide store configured by ``POSBOT_DB_URL``, created on first use (never at
    import time).
    """

    def __init__(self, store: CaseStore | None = None) -> None:
        self._store = store

    @property
    def store(self) -> CaseStore:
        """The case store (the process default unless one was injected)."""
        if self._store is None:
            self._store = default_store()
        return self._store

    async def transaction(self, work: Callable[[Session], T]) -> T:
        """Runs ``work`` in one session: committed, or rolled back (and run
        once more on a new connection when the database had dropped the pooled one before
        ``work`` did anything).

        Raises:
            StoreUnavailable: the database failed.
        """
        return await self._guarded(self.store.write_async(work))

    async def read(self, work: Callable[[Session], T]) -> T:
        """Runs read-only ``work`` without a transaction (each statement
        sees what is committed); a connection the database had dropped is replaced once.

        Raises:
            StoreUnavailable: the database failed.
        """
        return await self._guarded(self.store.read_async(work))

    @staticmethod
    async def _guarded(unit: Awaitable[T]) -> T:
        try:
            return await unit
        except SQLAlchemyError as error:
            logger.error("Case store unavailable: %s", error.__class__.__name__)
            raise StoreUnavailable(error.__class__.__name__) from None


class CalendarService(StoreService):
    """A store service that evaluates decision windows with a working-day calendar."""

    def __init__(
        self, store: CaseStore | None = None, calendar: WorkdayCalendar | None = None
    ) -> None:
        super().__init__(store)
        self._calendar = calendar

    @property
    def calendar(self) -> WorkdayCalendar:
        """The working-day calendar (the process-wide one, with the operators' holiday edit of
        the content store, unless one was injected)."""
        if self._calendar is not None:
            return self._calendar
        from bot.services.content import content_calendar  # content imports this module

        return content_calendar()
