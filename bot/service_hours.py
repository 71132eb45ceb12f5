"""When the human agents work: a daily window on working days (holidays and 调休 included).

The window comes from ``POSBOT_HANDOFF_HOURS`` (``09:00-18:00``; ``always``: no window) and the
working days from :mod:`bot.workdays`. Everything here is pure: the caller passes the time
(``bot.clock``), so tests control the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final

from bot.settings import HANDOFF_HOURS
from bot.workdays import WorkdayCalendar

#: Length of one call-back slot and how many slots are offered.
CALLBACK_SLOT_MINUTES: Final = 30
CALLBACK_SLOTS_OFFERED: Final = 4
#: Format of a slot in button payloads and in the store (China time, minutes).
SLOT_FORMAT: Final = "%Y-%m-%dT%H:%M"
#: Working days looked at for the next opening (the longest holiday is about 10 days).
_MAX_DAYS_AHEAD: Final = 60


@dataclass(frozen=True)
class ServiceHours:
    """The agents' daily window in minutes after midnight (``None``: always open)."""

    window: tuple[int, int] | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceHours:
        """The window of ``POSBOT_HANDOFF_HOURS``.

        Raises:
            SettingError: the variable is not ``HH:MM-HH:MM`` or ``always``.
        """
        return cls(HANDOFF_HOURS.read(environ))

    @property
    def always_open(self) -> bool:
        """Whether agents are always there (no window configured)."""
        return self.window is None

    def label(self) -> str:
        """The window as ``09:00-18:00`` (empty when always open)."""
        if self.window is None:
            return ""
        start, end = self.window
        return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"

    def is_open(self, now: datetime, calendar: WorkdayCalendar) -> bool:
        """Whether an agent is on duty at ``now`` (China time)."""
        if self.window is None:
            return True
        if not calendar.is_workday(now.date())[0]:
            return False
        minute = now.hour * 60 + now.minute
        return self.window[0] <= minute < self.window[1]

    def next_opening(self, now: datetime, calendar: WorkdayCalendar) -> datetime | None:
        """The next time the window opens after ``now`` (``None`` when always open)."""
        if self.window is None:
            return None
        start = self.window[0]
        day = now.date()
        for _ in range(_MAX_DAYS_AHEAD):
            opening = _at(day, start)
            if opening > now and calendar.is_workday(day)[0]:
                return opening
            day += timedelta(days=1)
        return _at(day, start)

    def callback_slots(
        self,
        now: datetime,
        calendar: WorkdayCalendar,
        count: int = CALLBACK_SLOTS_OFFERED,
        minutes: int = CALLBACK_SLOT_MINUTES,
    ) -> list[datetime]:
        """The first ``count`` slot starts of the next opening day, from its opening on.

        Empty when always open (a call-back is only offered outside the hours).
        """
        opening = self.next_opening(now, calendar)
        if opening is None or self.window is None:
            return []
        closing = _at(opening.date(), self.window[1])
        slots: list[datetime] = []
        slot = opening
        while slot + timedelta(minutes=minutes) <= closing and len(slots) < count:
            slots.append(slot)
            slot += timedelta(minutes=minutes)
        return slots


def _at(day: date, minute: int) -> datetime:
    """``day`` at ``minute`` after midnight (24:00 is the next day's midnight)."""
    return datetime.combine(day, time()) + timedelta(minutes=minute)


def format_slot(slot: datetime) -> str:
    """A slot as its payload value, ``2026-12-01T09:00``."""
    return slot.strftime(SLOT_FORMAT)


def parse_slot(value: object) -> datetime | None:
    """A payload value as a slot start, or ``None`` when it is not exactly ``SLOT_FORMAT``."""
    if not isinstance(value, str) or len(value) != len("2026-12-01T09:00"):
        return None
    try:
        return datetime.strptime(value, SLOT_FORMAT)
    except ValueError:
        return None


def slot_label(slot: datetime) -> str:
    """A slot as merchants read it: ``12月1日 09:00``."""
    return f"{slot.month}月{slot.day}日 {slot:%H:%M}"
