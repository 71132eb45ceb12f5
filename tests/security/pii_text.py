"""Helpers of the redaction tests: digit sequences after normalisation, stored strings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from bot.domain_values import to_half_width

CHINESE_DIGITS: Final = str.maketrans("零〇一幺二两三四五六七八九", "0011223456789")
# Everything that may separate the digits of one number or code; removed before comparing.
_SEPARATORS: Final = re.compile(r"[\s\-—_./,、·()\[\]（）]")
# Keys whose values are ids, times or names, never user data (they may hold any digits).
_SKIPPED_KEYS: Final = frozenset(
    {"message_id", "timestamp", "event", "name", "entity", "extractor"}
)


def digits_of(text: str) -> str:
    """``text`` half-width, Chinese digits as digits, separators removed, upper case."""
    return _SEPARATORS.sub("", to_half_width(text).translate(CHINESE_DIGITS)).upper()


def _walk(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in _SKIPPED_KEYS:
                yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield str(value)


def stored_strings(events: list[dict]) -> list[str]:
    """Every string and number of stored events, as text (structural names and ids left out)."""
    return [text for event in events for text in _walk(event)]
