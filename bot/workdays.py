"""Working days in mainland China: public holidays and make-up workdays (调休).

``chinesecalendar`` knows the official calendar up to the year of its release. For a later year the
calendar falls back to weekends plus the operator-editable holiday file and marks every answer
that depends on it as an estimate.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

HOLIDAY_FILE_ENV = "POSBOT_HOLIDAY_FILE"
DEFAULT_HOLIDAY_FILE = Path("holidays.yml")
REVIEW_FIRST_WORKDAY = 3
REVIEW_LAST_WORKDAY = 7
_MAX_SCAN_DAYS = 3660


@dataclass(frozen=True)
class DecisionWindow:
    """When a decision on an application is expected."""

    first_day: date
    last_day: date
    estimated: bool

    def is_overdue(self, today: date) -> bool:
        """Whether the last day of the window has passed."""
        return today > self.last_day


@dataclass(frozen=True)
class HolidayOverrides:
    """Operator-maintained days for years the package does not know yet."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @classmethod
    def load(cls, path: Path) -> HolidayOverrides:
        """Reads ``holidays:`` and ``workdays:`` lists of ISO dates from a YAML file.

        A missing file means no overrides; a broken file is logged and ignored, so that a typo
        of an operator never stops the bot.
        """
        if not path.exists():
            return cls()
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            return cls(
                holidays=frozenset(_as_dates(content.get("holidays"))),
                workdays=frozenset(_as_dates(content.get("workdays"))),
            )
        except (OSError, ValueError, TypeError, AttributeError, yaml.YAMLError) as error:
            logger.error("Ignoring holiday file %s: %s", path, error)
            return cls()


def _as_dates(values: object) -> list[date]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise TypeError("expected a list of dates")
    result = []
    for value in values:
        result.append(value if isinstance(value, date) else date.fromisoformat(str(value)))
    return result


class WorkdayCalendar:
    """Answers whether a day is a working day and counts working days."""

    def __init__(self, overrides: HolidayOverrides | None = None) -> None:
        self.overrides = overrides or HolidayOverrides()

    @classmethod
    def from_env(cls) -> WorkdayCalendar:
        """The calendar with the holiday file named by ``POSBOT_HOLIDAY_FILE`` (or the default)."""
        path = Path(os.environ.get(HOLIDAY_FILE_ENV, "") or DEFAULT_HOLIDAY_FILE)
        return cls(HolidayOverrides.load(path))

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """Whether ``day`` is a working day, and whether that is official (not estimated)."""
        import chinese_calendar

        try:
            return bool(chinese_calendar.is_workday(day)), True
        except NotImplementedError:
            pass
        if day in self.overrides.workdays:
            return True, False
        if day in self.overrides.holidays:
            return False, False
        return day.weekday() < 5, False

    def add_workdays(self, start: date, count: int) -> tuple[date, bool]:
        """The ``count``-th working day after ``start`` and whether it is exact."""
        if count < 1:
            raise ValueError("count must be at least 1")
        exact = True
        day = start
        found = 0
        for _ in range(_MAX_SCAN_DAYS):
            try:
                day = day + timedelta(days=1)
            except OverflowError:
                break
            workday, official = self.is_workday(day)
            if not official:
                exact = False
            if workday:
                found += 1
                if found == count:
                    return day, exact
        # Beyond any sensible calendar: count calendar days instead of failing.
        return _safe_add(start, count), False

    def decision_window(self, submitted: date | datetime) -> DecisionWindow:
        """The 3rd to 7th working day after submission."""
        if isinstance(submitted, datetime):
            submitted = submitted.date()
        first, first_exact = self.add_workdays(submitted, REVIEW_FIRST_WORKDAY)
        last, last_exact = self.add_workdays(submitted, REVIEW_LAST_WORKDAY)
        return DecisionWindow(first, last, estimated=not (first_exact and last_exact))

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
        count = 0
        day = start
        for _ in range(_MAX_SCAN_DAYS):
            if day >= end:
                break
            day = day + timedelta(days=1)
            if self.is_workday(day)[0]:
                count += 1
        return count


def _safe_add(start: date, days: int) -> date:
    try:
        return start + timedelta(days=days)
    except OverflowError:
        return date.max


def format_chinese_date(day: date | datetime) -> str:
    """Writes a date as 2026年11月20日."""
    return f"{day.year}年{day.month}月{day.day}日"
