"""Working days: official tables (调休 included), the holiday file for unknown years, decision
windows, and counting checked against a day-by-day reference."""

from __future__ import annotations

import os
import random
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest

from bot.workdays import (
    HOLIDAY_FILE_ENV,
    DecisionWindow,
    HolidayOverrides,
    WorkdayCalendar,
    default_calendar,
    format_chinese_date,
)

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
def with_file() -> WorkdayCalendar:
    """A calendar with the holiday file's entries for 2027 (a year the package does not know)."""
    return WorkdayCalendar(OVERRIDES)


def test_friday_plus_one_is_monday_and_weekend_is_not_counted(with_file):
    assert with_file.add_workdays(date(2026, 11, 20), 1) == (date(2026, 11, 23), True)
    assert with_file.workdays_between(date(2026, 11, 20), date(2026, 11, 22)) == 0
    assert with_file.workdays_between(date(2026, 11, 20), date(2026, 11, 23)) == 1


def test_makeup_workdays_count_and_holidays_do_not(with_file):
    # National Day 2026: Oct 1-7 off, Sunday Sep 20 and Saturday Oct 10 are make-up workdays.
    assert with_file.is_workday(date(2026, 9, 20)) == (True, True)
    assert with_file.is_workday(date(2026, 10, 10)) == (True, True)
    assert with_file.is_workday(date(2026, 10, 5)) == (False, True)
    assert with_file.add_workdays(date(2026, 9, 30), 1) == (date(2026, 10, 8), True)
    assert with_file.add_workdays(date(2026, 9, 30), 3) == (date(2026, 10, 10), True)
    # Sep 20 (Sun), 21-24 (25 is Mid-Autumn), 28-30, Oct 8, 9, 10 (Sat).
    assert with_file.is_workday(date(2026, 9, 25)) == (False, True)
    assert with_file.workdays_between(date(2026, 9, 19), date(2026, 10, 11)) == 11


def test_year_boundary_into_a_year_the_package_does_not_know(with_file):
    # Dec 30-31 2026 are official; 2027 uses weekends and the holiday file, so it is estimated.
    assert with_file.add_workdays(date(2026, 12, 29), 2) == (date(2026, 12, 31), True)
    assert with_file.add_workdays(date(2026, 12, 29), 3) == (date(2027, 1, 4), False)
    assert with_file.add_workdays(date(2026, 12, 31), 1) == (date(2027, 1, 4), False)
    assert with_file.workdays_between(date(2026, 12, 29), date(2027, 1, 4)) == 3


def test_unknown_year_uses_holiday_file_for_holidays_and_makeup_days(with_file):
    assert with_file.is_workday(date(2027, 2, 6)) == (True, False)  # listed Saturday
    assert with_file.is_workday(date(2027, 2, 10)) == (False, False)  # listed Wednesday
    assert with_file.is_workday(date(2027, 2, 13)) == (False, False)  # plain Saturday
    # Feb 5 (Fri) -> Feb 6 (listed Sat), 8, 9, then 10-11 off, 12.
    assert with_file.add_workdays(date(2027, 2, 5), 4) == (date(2027, 2, 12), False)
    assert with_file.workdays_between(date(2027, 2, 5), date(2027, 2, 14)) == 4


def test_decision_window_is_estimated_only_when_it_reaches_an_unknown_year(with_file):
    assert not with_file.decision_window(date(2026, 12, 18)).estimated  # ends Dec 29
    assert with_file.decision_window(date(2026, 12, 24)).estimated  # ends in 2027


def test_counting_is_capped_at_ten_years(with_file):
    start = date(2026, 1, 1)
    assert with_file.workdays_between(start, date(2100, 1, 1)) == with_file.workdays_between(
        start, start + timedelta(days=3660)
    )


def test_a_year_without_any_working_day_is_skipped():
    whole_2030 = frozenset(date(2030, 1, 1) + timedelta(days=i) for i in range(365))
    calendar = WorkdayCalendar(HolidayOverrides(holidays=whole_2030))
    assert calendar.add_workdays(date(2029, 12, 31), 1) == (date(2031, 1, 1), False)
    assert calendar.workdays_between(date(2029, 12, 31), date(2031, 1, 1)) == 1


def test_agrees_with_the_day_by_day_rules_on_random_dates(with_file):
    rng = random.Random(20261126)
    for _ in range(200):
        start = date(2025, 6, 1) + timedelta(days=rng.randrange(0, 900))
        count = rng.randrange(1, 10)
        assert with_file.add_workdays(start, count) == reference_add(start, count), (start, count)
        end = start + timedelta(days=rng.randrange(-3, 200))
        assert with_file.workdays_between(start, end) == reference_between(start, end), (start, end)
        assert with_file.is_workday(end) == reference_is_workday(end), end


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


def test_national_day_2025_is_skipped_and_makeup_saturday_counts(calendar):
    window = calendar.decision_window(date(2025, 9, 30))
    # Oct 1-8 are holidays; Oct 11 (Saturday) is a make-up workday (调休).
    assert window == DecisionWindow(date(2025, 10, 11), date(2025, 10, 16), estimated=False)


def test_spring_festival_2026_with_two_makeup_saturdays(calendar):
    window = calendar.decision_window(datetime(2026, 2, 12, 15, 30))
    assert window.first_day == date(2026, 2, 24)
    assert window.last_day == date(2026, 2, 28)  # a Saturday, but an official workday
    assert not window.estimated


def test_new_year_2026_boundary(calendar):
    # Jan 1-3 are holidays, Sunday Jan 4 is a make-up workday.
    assert calendar.add_workdays(date(2025, 12, 31), 1) == (date(2026, 1, 4), True)
    assert calendar.is_workday(date(2026, 1, 3)) == (False, True)


def test_unknown_year_falls_back_to_weekends_and_holiday_file():
    overrides = HolidayOverrides(holidays=frozenset({date(2027, 1, 1)}))
    calendar = WorkdayCalendar(overrides)
    window = calendar.decision_window(date(2026, 12, 29))
    # Dec 30, Dec 31, then 2027 (unknown to the package): Jan 1 is a listed holiday,
    # Jan 2-3 a weekend.
    assert window.first_day == date(2027, 1, 4)
    assert window.last_day == date(2027, 1, 8)
    assert window.estimated


def test_unknown_year_without_file_counts_weekdays(calendar):
    assert calendar.is_workday(date(2030, 1, 1)) == (True, False)
    assert calendar.is_workday(date(2030, 1, 5)) == (False, False)


def test_never_crashes_at_the_end_of_time(calendar):
    day, exact = calendar.add_workdays(date(9999, 12, 30), 7)
    assert day == date.max
    assert not exact


def test_overdue_after_last_day():
    window = DecisionWindow(date(2026, 11, 20), date(2026, 11, 26), estimated=False)
    assert not window.is_overdue(date(2026, 11, 26))
    assert window.is_overdue(date(2026, 11, 27))


def test_workdays_between_skips_weekend(calendar):
    assert calendar.workdays_between(date(2026, 11, 20), date(2026, 11, 24)) == 2
    assert calendar.workdays_between(date(2026, 11, 24), date(2026, 11, 20)) == 0


def test_holiday_file_is_read_and_broken_file_is_ignored(tmp_path):
    good = tmp_path / "holidays.yml"
    good.write_text("holidays: [2027-01-01]\nworkdays: ['2027-02-06']\n", encoding="utf-8")
    overrides = HolidayOverrides.load(good)
    assert overrides.holidays == {date(2027, 1, 1)}
    assert overrides.workdays == {date(2027, 2, 6)}
    broken = tmp_path / "broken.yml"
    broken.write_text("holidays: [not-a-date]\n", encoding="utf-8")
    assert HolidayOverrides.load(broken) == HolidayOverrides()
    assert HolidayOverrides.load(tmp_path / "missing.yml") == HolidayOverrides()


def test_chinese_date_format():
    assert format_chinese_date(date(2026, 11, 20)) == "2026年11月20日"
    assert format_chinese_date(datetime(2026, 1, 5, 9, 0)) == "2026年1月5日"
