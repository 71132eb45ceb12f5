"""Masks personal data in free text before it is stored in a ticket or shown to an agent.

Identifiers the bot needs (15-digit merchant id, 8-digit terminal id, case id) stay readable.
"""

from __future__ import annotations

import re
from typing import Final

from bot.domain_values import mask_phone, to_half_width
from bot.text import mask_secrets

_ID_CARD: Final = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")
_BANK_CARD: Final = re.compile(r"(?<![0-9])[0-9]{16,19}(?![0-9])")
_MOBILE: Final = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def mask_sensitive(text: str) -> str:
    """Masks what must never be stored (secrets, ID card and bank card numbers).

    Mobile numbers stay: the bot needs them (contact phone of an application). This runs in the
    channels, before a message reaches the NLU, the tracker store or any log.
    """
    text = mask_secrets(text)
    text = _ID_CARD.sub(lambda m: _keep_ends(m.group(), 3, 4), text)
    return _BANK_CARD.sub(lambda m: _keep_ends(m.group(), 4, 4), text)


def mask_pii(text: str) -> str:
    """Masks secrets, ID card numbers, bank card numbers and mobile numbers in ``text``."""
    text = mask_secrets(to_half_width(text))
    text = _ID_CARD.sub(lambda m: _keep_ends(m.group(), 3, 4), text)
    text = _BANK_CARD.sub(
        lambda m: m.group()[:4] + "*" * (len(m.group()) - 8) + m.group()[-4:], text
    )
    return _MOBILE.sub(lambda m: mask_phone(m.group()), text)


def _keep_ends(value: str, head: int, tail: int) -> str:
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def redact_event(event: dict) -> dict:
    """A copy of a serialised tracker event with personal data masked, for persisting.

    Masks the text of user and bot messages, entity values and slot values; the identifiers the
    bot needs (merchant, terminal and case ids) stay readable. The tracker store calls this on
    every event it saves.
    """
    redacted = dict(event)
    if isinstance(redacted.get("text"), str):
        redacted["text"] = mask_pii(redacted["text"])
    parse_data = redacted.get("parse_data")
    if isinstance(parse_data, dict):
        parse_data = dict(parse_data)
        if isinstance(parse_data.get("text"), str):
            parse_data["text"] = mask_pii(parse_data["text"])
        parse_data["entities"] = [
            _redact_entity(e) for e in parse_data.get("entities") or [] if isinstance(e, dict)
        ]
        redacted["parse_data"] = parse_data
    if redacted.get("event") == "slot" and isinstance(redacted.get("value"), str):
        redacted["value"] = mask_pii(redacted["value"])
    return redacted


def _redact_entity(entity: dict) -> dict:
    entity = dict(entity)
    if isinstance(entity.get("value"), str):
        entity["value"] = mask_pii(entity["value"])
    return entity
