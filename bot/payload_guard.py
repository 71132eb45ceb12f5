"""Users may send intent payloads (``/intent{...}``) only by pressing a button just offered.

Rasa takes any message starting with ``/`` as an intent with entities, bypassing the NLU: a
user could type ``/restart``, ``/session_start`` or ``/inform{"merchant_id": ...}`` to set
slots or reset a conversation. :func:`install` patches ``MessageProcessor.parse_message`` (the
one place every channel's message, the copilot and the FAQ search are parsed) so that a payload
is honoured only when it is one of the buttons of the bot's messages since the user's previous
message; anything else is parsed as the plain text the user typed, with the leading slash and
the entities JSON removed. It is installed by :mod:`bot.channels` (imported by every Rasa server
loading ``credentials.yml``) and by ``bot.cli.rasa_server``.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final, TypeGuard

logger = logging.getLogger(__name__)

PAYLOAD_PREFIX: Final = "/"
_APPLIED_MARK: Final = "_posbot_payload_guard"
# The intent part of a payload ends where its confidence (@0.9) or entities ({...}) begin.
_INTENT_END: Final = re.compile(r"[{@\[]")
_PLACEHOLDER: Final = "？"


def is_payload(text: str | None) -> TypeGuard[str]:
    """Whether Rasa would read ``text`` as an intent payload."""
    return text is not None and text.lstrip().startswith(PAYLOAD_PREFIX)


def offered_payloads(tracker: Any) -> set[str]:
    """Payloads of the buttons in the bot's messages since the user's last message."""
    from rasa.shared.core.events import BotUttered, UserUttered

    payloads: set[str] = set()
    for event in reversed(getattr(tracker, "events", None) or []):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            for button in (event.data or {}).get("buttons") or []:
                payload = button.get("payload") if isinstance(button, dict) else None
                if isinstance(payload, str):
                    payloads.add(payload.strip())
    return payloads


def as_plain_text(text: str) -> str:
    """A typed payload as text: no leading slashes, no confidence, no entities JSON."""
    body = text.strip().lstrip(PAYLOAD_PREFIX).strip()
    words = _INTENT_END.split(body, maxsplit=1)[0].strip()
    return words or _PLACEHOLDER


def guard_message(message: Any, tracker: Any) -> bool:
    """Turns ``message.text`` into plain text unless it is a payload just offered.

    Returns:
        Whether the text was changed.
    """
    text = getattr(message, "text", None)
    if not is_payload(text):
        return False
    if tracker is not None and text.strip() in offered_payloads(tracker):
        return False
    message.text = as_plain_text(text)
    logger.info("A typed intent payload was not offered as a button: parsed as text")
    return True


def install() -> None:
    """Patches Rasa's ``MessageProcessor.parse_message`` (idempotent)."""
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor.parse_message
    if getattr(original, _APPLIED_MARK, False):
        return

    async def parse_message(
        self: MessageProcessor,
        message: Any,
        tracker: Any = None,
        only_output_properties: bool = True,
    ) -> dict[str, Any]:
        guard_message(message, tracker)
        return await original(self, message, tracker, only_output_properties)

    setattr(parse_message, _APPLIED_MARK, True)
    MessageProcessor.parse_message = parse_message
