"""Shared plumbing of the actions: dependencies, the case store off the event loop, domain text."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from rasa_sdk import Tracker
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.clock import Clock, china_now
from bot.nlu.evidence import on_topic_intent
from bot.store.database import CaseStore, default_store
from bot.workdays import WorkdayCalendar, default_calendar

logger = logging.getLogger(__name__)

T = TypeVar("T")
DomainDict = dict[str, Any]


class StoreUnavailable(RuntimeError):
    """The case store could not be reached; the user gets a polite message instead."""


class StoreBacked:
    """Gives an action the case store, the working-day calendar and the clock.

    Tests pass a real SQLite store, a calendar and a fixed clock; the action server uses the
    store configured by ``POSBOT_DB_URL``, created on first use (never at import time).
    """

    def __init__(
        self,
        store: CaseStore | None = None,
        calendar: WorkdayCalendar | None = None,
        clock: Clock = china_now,
    ) -> None:
        self._store = store
        self._calendar = calendar
        self.clock = clock

    @property
    def store(self) -> CaseStore:
        """The case store (the process default unless one was injected)."""
        if self._store is None:
            self._store = default_store()
        return self._store

    @property
    def calendar(self) -> WorkdayCalendar:
        """The working-day calendar (the process-wide one unless one was injected)."""
        return self._calendar if self._calendar is not None else default_calendar()

    async def in_session(self, work: Callable[[Session], T]) -> T:
        """Runs ``work`` in a session on a worker thread, keeping the event loop free.

        Raises:
            StoreUnavailable: the database failed.
        """

        def run() -> T:
            with self.store.session() as session:
                return work(session)

        try:
            return await asyncio.to_thread(run)
        except SQLAlchemyError as error:
            logger.error("Case store unavailable: %s", error.__class__.__name__)
            raise StoreUnavailable(str(error)) from None


def response_text(domain: DomainDict, name: str, default: str = "") -> str:
    """The first text variant of a domain response (labels used inside other replies)."""
    variants = (domain.get("responses") or {}).get(name) or []
    for variant in variants:
        if isinstance(variant, dict) and variant.get("text"):
            return str(variant["text"])
    return default


def latest_intent(tracker: Tracker) -> str | None:
    """The intent of the latest user message."""
    return (tracker.latest_message.get("intent") or {}).get("name")


def intent_in_form(tracker: Tracker) -> str | None:
    """The latest intent as a form reads it: a set-aside guess counts (bot.nlu.evidence).

    A form is on topic, so "要多长时间" in the middle of one is the question it seems to be.
    """
    return on_topic_intent(tracker.latest_message).get("name")


def latest_entity(tracker: Tracker, entity: str) -> str | None:
    """The first value of an entity in the latest user message."""
    return next(tracker.get_latest_entity_values(entity), None)
