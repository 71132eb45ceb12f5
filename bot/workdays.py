"""Working days in mainland China: public holidays and make-up workdays (调休).

``chinesecalendar`` knows the official calendar up to the year of its release. For a later year the
calendar falls back to weekends plus the operator-editable holiday file and marks every answer
that depends on it as an estimate.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

from bot.settings import HOLIDAY_FILE

logger = logging.getLogger(__name__)

HOLIDAY_FILE_ENV = HOLIDAY_FILE.env
DEFAULT_HOLIDAY_FILE = HOLIDAY_FILE.default
REVIEW_FIRST_WORKDAY = 3
REVIEW_LAST_WORKDAY = 7
_MAX_SCAN_DAYS = 3660
_CACHED_YEARS = 256


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
            return cls.parse(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            logger.error("Ignoring holiday file %s: %s", path, error)
            return cls()

    @classmethod
    def parse(cls, text: str) -> HolidayOverrides:
        """The days of a holiday file's text (the operators' edit of it, too).

        Raises:
            ValueError: not YAML, not a mapping, or a list that is not of ISO dates.
        """
        try:
            content = yaml.safe_load(text) or {}
            return cls(
                holidays=frozenset(_as_dates(content.get("holidays"))),
                workdays=frozenset(_as_dates(content.get("workdays"))),
            )
        except (ValueError, TypeError, AttributeError, yaml.YAMLError) as error:
            raise ValueError(
                str(error).splitlines()[0] if str(error) else type(error).__name__
            ) from None


def _as_dates(values: object) -> list[date]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise TypeError("expected a list of dates")
    result = []
    for value in values:
        result.append(value if isinstance(value, date) else date.fromisoformat(str(value)))
    return result


@dataclass(frozen=True)
class YearTable:
    """One year's working days as sorted ordinals, and whether they are official."""

    ordinals: tuple[int, ...]
    members: frozenset[int]
    official: bool

    def count_until(self, ordinal: int) -> int:
        """Working days of this year on or before the day with this ordinal."""
        return bisect_right(self.ordinals, ordinal)


class WorkdayCalendar:
    """Answers whether a day is a working day and counts working days.

    Each year is read once into a table of working-day ordinals (cached per process), so that
    counting is a few binary searches instead of a day-by-day scan.
    """

    def __init__(self, overrides: HolidayOverrides | None = None) -> None:
        self.overrides = overrides or HolidayOverrides()

    def _year_table(self, year: int) -> YearTable:
        return _year_table(self.overrides, year)

    @classmethod
    def from_env(cls) -> WorkdayCalendar:
        """The calendar with the holiday file named by ``POSBOT_HOLIDAY_FILE`` (or the default)."""
        path = HOLIDAY_FILE.read()
        return cls(HolidayOverrides.load(path))

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """Whether ``day`` is a working day, and whether that is official (not estimated)."""
        table = self._year_table(day.year)
        return day.toordinal() in table.members, table.official

    def add_workdays(self, start: date, count: int) -> tuple[date, bool]:
        """The ``count``-th working day after ``start`` and whether it is exact.

        Exact means every day from the day after ``start`` to the answer is in a year the
        official calendar knows.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        origin = start.toordinal()
        limit = origin + _MAX_SCAN_DAYS
        exact = True
        remaining = count
        year = start.year if origin < date(start.year, 12, 31).toordinal() else start.year + 1
        while year <= date.max.year and date(year, 1, 1).toordinal() <= limit:
            table = self._year_table(year)
            exact = exact and table.official
            skip = table.count_until(origin)
            available = len(table.ordinals) - skip
            if available >= remaining:
                found = table.ordinals[skip + remaining - 1]
                if found > limit:
                    break
                return date.fromordinal(found), exact
            remaining -= available
            year += 1
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
        """Working days after ``start`` up to and including ``end`` (0 when end <= start).

        At most the first ``_MAX_SCAN_DAYS`` days after ``start`` are counted.
        """
        low = start.toordinal()
        high = min(end.toordinal(), low + _MAX_SCAN_DAYS)
        if high <= low:
            return 0
        count = 0
        for year in range(date.fromordinal(low + 1).year, date.fromordinal(high).year + 1):
            table = self._year_table(year)
            count += table.count_until(high) - table.count_until(low)
        return count


@lru_cache(maxsize=_CACHED_YEARS)
def _year_table(overrides: HolidayOverrides, year: int) -> YearTable:
    """The working days of ``year``: the package's calendar, or weekends plus ``overrides``.

    Cached per process: every calendar with the same overrides shares the tables.
    """
    import chinese_calendar

    first = date(year, 1, 1).toordinal()
    days = [date.fromordinal(o) for o in range(first, date(year, 12, 31).toordinal() + 1)]
    try:
        official = [d.toordinal() for d in days if chinese_calendar.is_workday(d)]
        return YearTable(tuple(official), frozenset(official), official=True)
    except NotImplementedError:
        pass
    estimated = [
        d.toordinal()
        for d in days
        if d in overrides.workdays or (d not in overrides.holidays and d.weekday() < 5)
    ]
    return YearTable(tuple(estimated), frozenset(estimated), official=False)


_default_calendar: tuple[tuple[str, int], WorkdayCalendar] | None = None


def default_calendar() -> WorkdayCalendar:
    """The process-wide calendar from the environment, read again when the holiday file changes."""
    global _default_calendar
    path = HOLIDAY_FILE.read()
    try:
        version = (str(path), path.stat().st_mtime_ns)
    except OSError:
        version = (str(path), -1)
    cached = _default_calendar
    if cached is not None and cached[0] == version:
        return cached[1]
    calendar = WorkdayCalendar(HolidayOverrides.load(path))
    _default_calendar = (version, calendar)
    return calendar


def _safe_add(start: date, days: int) -> date:
    try:
        return start + timedelta(days=days)
    except OverflowError:
        return date.max


def format_chinese_date(day: date | datetime) -> str:
    """Writes a date as 2026年11月20日."""
    return f"{day.year}年{day.month}月{day.day}日"
