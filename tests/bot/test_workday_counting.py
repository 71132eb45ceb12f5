"""Working-day counting from per-year tables, checked against a day-by-day reference."""

from __future__ import annotations

import os
import random
from datetime import date, timedelta

import chinese_calendar
import pytest

from bot.workdays import HOLIDAY_FILE_ENV, HolidayOverrides, WorkdayCalendar, default_calendar

OVERRIDES = HolidayOverrides(
    holidays=frozenset({date(2027, 1, 1), date(2027, 2, 10), date(2027, 2, 11)}),
    workdays=frozenset({date(2027, 2, 6)}),  # a Saturday made a working day (调休)
)


def reference_is_workday(day: date) -> tuple[bool, bool]:
    """The calendar's rules, one day at a time."""
    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:
        pass
    if day in OVERRIDES.workdays:
        return True, False
    if day in OVERRIDES.holidays:
        return False, False
    return day.weekday() < 5, False


def reference_add(start: date, count: int) -> tuple[date, bool]:
    exact, day, found = True, start, 0
    while True:
        day += timedelta(days=1)
        workday, official = reference_is_workday(day)
        exact = exact and official
        found += workday
        if found == count:
            return day, exact


def reference_between(start: date, end: date) -> int:
    days = (start + timedelta(days=i) for i in range(1, (end - start).days + 1))
    return sum(reference_is_workday(day)[0] for day in days)


@pytest.fixture
def calendar() -> WorkdayCalendar:
    return WorkdayCalendar(OVERRIDES)


def test_friday_plus_one_is_monday_and_weekend_is_not_counted(calendar):
    assert calendar.add_workdays(date(2026, 11, 20), 1) == (date(2026, 11, 23), True)
    assert calendar.workdays_between(date(2026, 11, 20), date(2026, 11, 22)) == 0
    assert calendar.workdays_between(date(2026, 11, 20), date(2026, 11, 23)) == 1


def test_makeup_workdays_count_and_holidays_do_not(calendar):
    # National Day 2026: Oct 1-7 off, Sunday Sep 20 and Saturday Oct 10 are make-up workdays.
    assert calendar.is_workday(date(2026, 9, 20)) == (True, True)
    assert calendar.is_workday(date(2026, 10, 10)) == (True, True)
    assert calendar.is_workday(date(2026, 10, 5)) == (False, True)
    assert calendar.add_workdays(date(2026, 9, 30), 1) == (date(2026, 10, 8), True)
    assert calendar.add_workdays(date(2026, 9, 30), 3) == (date(2026, 10, 10), True)
    # Sep 20 (Sun), 21-24 (25 is Mid-Autumn), 28-30, Oct 8, 9, 10 (Sat).
    assert calendar.is_workday(date(2026, 9, 25)) == (False, True)
    assert calendar.workdays_between(date(2026, 9, 19), date(2026, 10, 11)) == 11


def test_year_boundary_into_a_year_the_package_does_not_know(calendar):
    # Dec 30-31 2026 are official; 2027 uses weekends and the holiday file, so it is estimated.
    assert calendar.add_workdays(date(2026, 12, 29), 2) == (date(2026, 12, 31), True)
    assert calendar.add_workdays(date(2026, 12, 29), 3) == (date(2027, 1, 4), False)
    assert calendar.add_workdays(date(2026, 12, 31), 1) == (date(2027, 1, 4), False)
    assert calendar.workdays_between(date(2026, 12, 29), date(2027, 1, 4)) == 3


def test_unknown_year_uses_holiday_file_for_holidays_and_makeup_days(calendar):
    assert calendar.is_workday(date(2027, 2, 6)) == (True, False)  # listed Saturday
    assert calendar.is_workday(date(2027, 2, 10)) == (False, False)  # listed Wednesday
    assert calendar.is_workday(date(2027, 2, 13)) == (False, False)  # plain Saturday
    # Feb 5 (Fri) -> Feb 6 (listed Sat), 8, 9, then 10-11 off, 12.
    assert calendar.add_workdays(date(2027, 2, 5), 4) == (date(2027, 2, 12), False)
    assert calendar.workdays_between(date(2027, 2, 5), date(2027, 2, 14)) == 4


def test_decision_window_is_estimated_only_when_it_reaches_an_unknown_year(calendar):
    assert not calendar.decision_window(date(2026, 12, 18)).estimated  # ends Dec 29
    assert calendar.decision_window(date(2026, 12, 24)).estimated  # ends in 2027


def test_counting_is_capped_at_ten_years(calendar):
    start = date(2026, 1, 1)
    assert calendar.workdays_between(start, date(2100, 1, 1)) == calendar.workdays_between(
        start, start + timedelta(days=3660)
    )


def test_a_year_without_any_working_day_is_skipped():
    whole_2030 = frozenset(date(2030, 1, 1) + timedelta(days=i) for i in range(365))
    calendar = WorkdayCalendar(HolidayOverrides(holidays=whole_2030))
    assert calendar.add_workdays(date(2029, 12, 31), 1) == (date(2031, 1, 1), False)
    assert calendar.workdays_between(date(2029, 12, 31), date(2031, 1, 1)) == 1


def test_agrees_with_the_day_by_day_rules_on_random_dates(calendar):
    rng = random.Random(20261126)
    for _ in range(200):
        start = date(2025, 6, 1) + timedelta(days=rng.randrange(0, 900))
        count = rng.randrange(1, 10)
        assert calendar.add_workdays(start, count) == reference_add(start, count), (start, count)
        end = start + timedelta(days=rng.randrange(-3, 200))
        assert calendar.workdays_between(start, end) == reference_between(start, end), (start, end)
        assert calendar.is_workday(end) == reference_is_workday(end), end


def test_default_calendar_is_shared_and_follows_the_holiday_file(tmp_path, monkeypatch):
    holiday_file = tmp_path / "holidays.yml"
    holiday_file.write_text("holidays: [2027-01-04]\n", encoding="utf-8")
    monkeypatch.setenv(HOLIDAY_FILE_ENV, str(holiday_file))
    first = default_calendar()
    assert default_calendar() is first
    assert first.is_workday(date(2027, 1, 4)) == (False, False)
    holiday_file.write_text("holidays: []\n", encoding="utf-8")
    os.utime(holiday_file, ns=(1, 1))
    assert default_calendar().is_workday(date(2027, 1, 4)) == (True, False)
    holiday_file.unlink()
    assert default_calendar().overrides == HolidayOverrides()
