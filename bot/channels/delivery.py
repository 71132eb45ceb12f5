"""How a human agent's (or the system's) message reaches a user who is not waiting for a reply.

A channel that can push messages itself (WeChat's customer-service API) registers a deliverer;
every other conversation gets the message in the web widget's inbox, the process-wide
:class:`~bot.channels.state.outbox.Outbox` that :func:`current_outbox` picks on first use
(Redis when ``POSBOT_REDIS_URL`` is set, else memory).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from bot.channels.state import factory
from bot.channels.state.errors import SharedStateUnavailable
from bot.channels.state.outbox import Outbox

logger = logging.getLogger(__name__)

INBOX_ROUTE: Final = "inbox"
UNDELIVERED_ROUTE: Final = "undelivered"

#: The process-wide outbox, chosen by :func:`current_outbox` on first use (tests replace it).
OUTBOX: Outbox | None = None


def current_outbox() -> Outbox:
    """The process-wide outbox: Redis when ``POSBOT_REDIS_URL`` is set, else memory."""
    global OUTBOX
    if OUTBOX is None:
        OUTBOX = factory.outbox()
    return OUTBOX


#: Sends ``text`` (and its ``buttons``, as the channel can show them) to a conversation's user;
#: ``False`` when it could not.
Deliverer = Callable[[str, str, Sequence[Mapping[str, Any]] | None], Awaitable[bool]]
#: Channels that push a human agent's message themselves (e.g. WeChat's customer-service
#: API), by input channel name; other conversations get it through the widget's inbox.
#: Every process registers the same functions when it builds its channels: nothing to share.
DELIVERERS: dict[str, Deliverer] = {}


async def deliver(
    input_channel: str | None,
    sender_id: str,
    text: str,
    author: str,
    buttons: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """Sends an agent's (or the system's) message to the user; returns how it went out.

    ``buttons`` (title and payload) reach the widget's inbox, and a channel that pushes text
    as it shows buttons (WeChat: numbered options answered by their digit).

    Returns:
        The channel's name, ``inbox``, or ``undelivered`` (logged as an error) when the inbox
        cannot be reached.
    """
    deliverer = DELIVERERS.get(input_channel or "")
    if deliverer is not None and await deliverer(sender_id, text, buttons):
        return input_channel or ""
    try:
        await current_outbox().put(sender_id, text, author, buttons)
    except SharedStateUnavailable as error:
        logger.error("An %s message for the widget inbox was not delivered: %s", author, error)
        return UNDELIVERED_ROUTE
    return INBOX_ROUTE
