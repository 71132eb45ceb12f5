"""Lets the intent classifier see an identifier's kind, not its digits.

Merchant numbers, terminal numbers, phone numbers and case ids are different in every message;
their digits only teach the intent classifier noise ("a long number means inform"). The
classifier and the scope gate see such tokens as a placeholder of their kind; the text and the
entity extractors keep the real digits.
"""

from __future__ import annotations

import re
from typing import Final

PLACEHOLDERS: Final = (
    (re.compile(r"^jc[0-9]{12}$", re.IGNORECASE), "caseidtoken"),
    (re.compile(r"^[0-9]{15}$"), "merchantidtoken"),
    (re.compile(r"^1[3-9][0-9]{9}$"), "mobiletoken"),
    (re.compile(r"^[0-9]{8}$"), "terminalidtoken"),
    (re.compile(r"^[0-9]{4}$"), "fourdigittoken"),
    (re.compile(r"^[0-9]{5,}$"), "longnumbertoken"),
)


def placeholder_for(token_text: str) -> str | None:
    """The placeholder of an identifier-like token, or ``None`` for other tokens."""
    for pattern, placeholder in PLACEHOLDERS:
        if pattern.match(token_text):
            return placeholder
    return None
