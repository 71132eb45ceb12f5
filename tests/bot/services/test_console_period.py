"""Date ranges of the console: accepted values and precise refusals."""

from __future__ import annotations

from datetime import date

import pytest

from bot.services.console import Period, PeriodError

TODAY = date(2026, 11, 26)


def test_defaults_to_the_last_30_days() -> None:
    assert Period.parse(None, None, TODAY) == Period(date(2026, 10, 28), TODAY)
    assert Period.parse("", "", TODAY) == Period(date(2026, 10, 28), TODAY)


def test_explicit_range() -> None:
    period = Period.parse("2026-11-20", "2026-11-22", TODAY)
    assert period.days == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2026-13-01", None, "since: '2026-13-01' is not a valid date (YYYY-MM-DD)"),
        ("20261101", None, "since: '20261101' is not a date (YYYY-MM-DD)"),
        (None, "yesterday", "until: 'yesterday' is not a date (YYYY-MM-DD)"),
        ("２０２６-11-01", None, "since: '２０２６-11-01' is not a date (YYYY-MM-DD)"),
        ("2026-11-01' OR 1=1", None, 'since: "2026-11-01\' OR 1=1" is not a date (YYYY-MM-DD)'),
        ("2026-11-05", "2026-11-01", "since 2026-11-05 is after until 2026-11-01"),
        ("2025-01-01", "2026-11-01", "the range has 670 days; at most 366 are allowed"),
        ("1900-01-01", "1900-01-02", "since: year 1900 is outside 2000-2100"),
        ("x" * 500, None, "since: 'xxxxxxxxxxxxxxxxxxxx…' is not a date (YYYY-MM-DD)"),
    ],
)
def test_bad_ranges_are_refused_precisely(
    since: str | None, until: str | None, message: str
) -> None:
    with pytest.raises(PeriodError) as error:
        Period.parse(since, until, TODAY)
    assert str(error.value) == message
