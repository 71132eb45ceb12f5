from datetime import date, datetime

import pytest

from bot.workdays import (
    DecisionWindow,
    HolidayOverrides,
    WorkdayCalendar,
    format_chinese_date,
)


@pytest.fixture
def calendar() -> WorkdayCalendar:
    return WorkdayCalendar()


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
