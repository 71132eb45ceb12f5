"""The agents' hours with a controlled clock: working days, holidays, 调休, call-back slots."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.service_hours import ServiceHours, format_slot, parse_slot, slot_label
from bot.settings import HANDOFF_HOURS, HANDOFF_IDLE_MINUTES, SettingError
from bot.workdays import WorkdayCalendar

NINE_TO_SIX = ServiceHours((9 * 60, 18 * 60))
CALENDAR = WorkdayCalendar()


@pytest.mark.parametrize(
    ("now", "is_open"),
    [
        (datetime(2026, 11, 30, 9, 0), True),  # Monday, opening minute
        (datetime(2026, 11, 30, 17, 59), True),
        (datetime(2026, 11, 30, 18, 0), False),  # closing minute is outside
        (datetime(2026, 11, 30, 8, 59), False),
        (datetime(2026, 11, 28, 10, 0), False),  # Saturday
        (datetime(2026, 10, 1, 10, 0), False),  # National Day, a Thursday
        (datetime(2026, 10, 10, 10, 0), True),  # Saturday worked (调休)
        (datetime(2026, 2, 14, 10, 0), True),  # Saturday worked before the Spring Festival
        (datetime(2026, 2, 16, 10, 0), False),  # Spring Festival, a Monday
    ],
)
def test_open_on_working_days_inside_the_window(now, is_open):
    assert NINE_TO_SIX.is_open(now, CALENDAR) is is_open


def test_always_open_without_a_window():
    hours = ServiceHours()
    assert hours.is_open(datetime(2026, 10, 1, 3, 0), CALENDAR)
    assert hours.next_opening(datetime(2026, 10, 1, 3, 0), CALENDAR) is None
    assert hours.callback_slots(datetime(2026, 10, 1, 3, 0), CALENDAR) == []


@pytest.mark.parametrize(
    ("now", "opening"),
    [
        # Before the opening of a working day: the same day.
        (datetime(2026, 11, 30, 7, 30), datetime(2026, 11, 30, 9, 0)),
        # Friday evening: Monday.
        (datetime(2026, 11, 27, 19, 0), datetime(2026, 11, 30, 9, 0)),
        # Inside the hours: the next day's opening.
        (datetime(2026, 11, 30, 10, 0), datetime(2026, 12, 1, 9, 0)),
        # National Day week: the first working day after it (Thursday 8 October).
        (datetime(2026, 9, 30, 18, 30), datetime(2026, 10, 8, 9, 0)),
        # Friday 9 October evening: Saturday 10 October is worked (调休).
        (datetime(2026, 10, 9, 20, 0), datetime(2026, 10, 10, 9, 0)),
        # Spring Festival: Saturday 14 February worked, then 15-23 off.
        (datetime(2026, 2, 13, 19, 0), datetime(2026, 2, 14, 9, 0)),
        (datetime(2026, 2, 14, 18, 0), datetime(2026, 2, 24, 9, 0)),
    ],
)
def test_next_opening_skips_weekends_and_holidays(now, opening):
    assert NINE_TO_SIX.next_opening(now, CALENDAR) == opening


def test_callback_slots_are_the_first_half_hours_of_the_next_opening_day():
    slots = NINE_TO_SIX.callback_slots(datetime(2026, 9, 30, 18, 30), CALENDAR)
    assert [format_slot(slot) for slot in slots] == [
        "2026-10-08T09:00",
        "2026-10-08T09:30",
        "2026-10-08T10:00",
        "2026-10-08T10:30",
    ]
    assert slot_label(slots[0]) == "10月8日 09:00"


def test_a_short_window_gives_only_the_slots_that_fit():
    hours = ServiceHours((9 * 60, 10 * 60 + 15))
    slots = hours.callback_slots(datetime(2026, 11, 27, 19, 0), CALENDAR)
    assert [format_slot(slot) for slot in slots] == ["2026-11-30T09:00", "2026-11-30T09:30"]


def test_a_window_to_midnight():
    hours = ServiceHours((20 * 60, 24 * 60))
    assert hours.is_open(datetime(2026, 11, 30, 23, 59), CALENDAR)
    assert not hours.is_open(datetime(2026, 12, 1, 0, 0), CALENDAR)
    assert hours.label() == "20:00-24:00"


@pytest.mark.parametrize(
    "value",
    [
        "2026-10-08 09:00",
        "2026-10-08T9:00",
        "2026-13-08T09:00",
        "",
        None,
        5,
        "x" * 16,
        "../..",
        "2026-10-08T09:00Z",
    ],
)
def test_a_bad_slot_value_is_no_slot(value):
    assert parse_slot(value) is None


def test_a_slot_value_round_trips():
    assert parse_slot("2026-10-08T09:30") == datetime(2026, 10, 8, 9, 30)


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("09:00-18:00", (540, 1080)),
        ("9:30 - 17:00", (570, 1020)),
        ("00:00-24:00", (0, 1440)),
        ("always", None),
        ("ALWAYS", None),
        ("", None),
    ],
)
def test_the_hours_setting(text, window):
    assert HANDOFF_HOURS.read({HANDOFF_HOURS.env: text}) == window
    assert ServiceHours.from_env({HANDOFF_HOURS.env: text}).window == window


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("9-18", "expected the agents' hours on working days as HH:MM-HH:MM"),
        ("每天 9:00-21:00", "expected the agents' hours on working days as HH:MM-HH:MM"),
        ("18:00-09:00", "the closing time 09:00 must be after the opening time 18:00"),
        ("09:00-09:00", "the closing time 09:00 must be after the opening time 09:00"),
        ("25:00-26:00", "hours run from 00:00 to 24:00"),
        ("09:61-18:00", "hours run from 00:00 to 24:00"),
        ("09:00-24:30", "hours run from 00:00 to 24:00"),
    ],
)
def test_an_unusable_hours_setting_names_the_variable_and_the_problem(text, problem):
    with pytest.raises(SettingError) as error:
        HANDOFF_HOURS.read({HANDOFF_HOURS.env: text})
    assert str(error.value).startswith(f"POSBOT_HANDOFF_HOURS={text!r}: ")
    assert problem in str(error.value)


@pytest.mark.parametrize("text", ["-1", "abc", "nan", "inf", "99999999"])
def test_an_unusable_idle_setting_is_refused(text):
    with pytest.raises(SettingError, match="POSBOT_HANDOFF_IDLE_MINUTES"):
        HANDOFF_IDLE_MINUTES.read({HANDOFF_IDLE_MINUTES.env: text})


def test_idle_minutes_default_and_off():
    assert HANDOFF_IDLE_MINUTES.read({}) == 30.0
    assert HANDOFF_IDLE_MINUTES.read({HANDOFF_IDLE_MINUTES.env: "0"}) == 0.0
