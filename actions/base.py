"""Shared plumbing of the actions: the services they use, the clock, domain text."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from rasa_sdk import Tracker

from bot.clock import Clock, china_now
from bot.nlu.evidence import on_topic_intent
from bot.service_hours import ServiceHours
from bot.services.applications import ApplicationService
from bot.services.base import CaseStore, StoreUnavailable
from bot.services.case_changes import CaseChangeService
from bot.services.cases import CaseService
from bot.services.content import content_calendar
from bot.services.handoff_hours import HandoffHoursService
from bot.services.handoffs import HandoffService
from bot.services.identity import IdentityService
from bot.services.misses import MissService
from bot.workdays import WorkdayCalendar

DomainDict = dict[str, Any]

__all__ = ["DomainDict", "StoreBacked", "StoreUnavailable"]


class StoreBacked:
    """Gives an action the services over the case store, the working-day calendar and the clock.

    Tests pass a real SQLite store, a calendar and a fixed clock; the action server uses the
    store configured by ``POSBOT_DB_URL``, created on first use (never at import time). A
    service raises ``StoreUnavailable`` when the database fails.
    """

    def __init__(
        self,
        store: CaseStore | None = None,
        calendar: WorkdayCalendar | None = None,
        clock: Clock = china_now,
        service_hours: ServiceHours | None = None,
    ) -> None:
        self._store = store
        self._calendar = calendar
        self.clock = clock
        self._service_hours = service_hours

    @property
    def calendar(self) -> WorkdayCalendar:
        """The working-day calendar (the process-wide one, with the operators' holiday edit of
        the content store, unless one was injected)."""
        return self._calendar if self._calendar is not None else content_calendar()

    @property
    def service_hours(self) -> ServiceHours:
        """The agents' hours (``POSBOT_HANDOFF_HOURS`` unless injected)."""
        if self._service_hours is None:
            self._service_hours = ServiceHours.from_env()
        return self._service_hours

    @cached_property
    def handoff_hours(self) -> HandoffHoursService:
        """Queue position, expected wait and after-hours requests."""
        return HandoffHoursService(self._store)

    @cached_property
    def cases(self) -> CaseService:
        """Look-ups and escalations."""
        return CaseService(self._store, self._calendar)

    @cached_property
    def applications(self) -> ApplicationService:
        """Drafts, terminal ownership and filing."""
        return ApplicationService(self._store, self._calendar)

    @cached_property
    def case_changes(self) -> CaseChangeService:
        """Withdrawals and contact phone changes."""
        return CaseChangeService(self._store, self._calendar)

    @cached_property
    def identity(self) -> IdentityService:
        """Identity checks and their limits."""
        return IdentityService(self._store)

    @cached_property
    def handoffs(self) -> HandoffService:
        """Tickets for human agents."""
        return HandoffService(self._store)

    @cached_property
    def misses(self) -> MissService:
        """Messages the bot did not understand."""
        return MissService(self._store)


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
