"""China time, the zone of every date the bot shows or stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

Clock = Callable[[], datetime]


def china_now() -> datetime:
    """The current China time as a naive datetime (how the store keeps datetimes)."""
    return datetime.now(CHINA_TZ).replace(tzinfo=None, microsecond=0)
