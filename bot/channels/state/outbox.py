"""Messages from human agents waiting to be picked up by the web widget.

:class:`HumanOutbox` keeps them in the Rasa server's memory (one process); with
``POSBOT_REDIS_URL`` set every process shares
:class:`bot.channels.state.redis_backend.RedisOutbox`, so a widget poll may reach
any process. :func:`current_outbox` picks one on first use.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any, Final

logger = logging.getLogger(__name__)

MAX_SENDERS: Final = 2000
MAX_MESSAGES_PER_SENDER: Final = 50
INBOX_ROUTE: Final = "inbox"
UNDELIVERED_ROUTE: Final = "undelivered"


def outbox_message(text: str, author: str) -> dict[str, Any]:
    """One queued message as the widget receives it."""
    return {"text": text, "from": author, "at": time.time()}


class Outbox(ABC):
    """Per-sender queues of agent messages, bounded in size."""

    @abstractmethod
    async def put(self, sender_id: str, text: str, author: str) -> None:
        """Queues a message for the sender's widget.

        Raises:
            SharedStateUnavailable: the shared store cannot be reached.
        """

    @abstractmethod
    async def take(self, sender_id: str) -> list[dict[str, Any]]:
        """Returns and removes the sender's queued messages, oldest first.

        Raises:
            SharedStateUnavailable: the shared store cannot be reached.
        """


class HumanOutbox(Outbox):
    """In-memory queues; enough for a single Rasa server process."""

    def __init__(self) -> None:
        self._queues: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    async def put(self, sender_id: str, text: str, author: str) -> None:
        """See :meth:`Outbox.put`."""
        with self._lock:
            queue = self._queues.pop(sender_id, None) or deque(maxlen=MAX_MESSAGES_PER_SENDER)
            queue.append(outbox_message(text, author))
            self._queues[sender_id] = queue
            while len(self._queues) > MAX_SENDERS:
                self._queues.popitem(last=False)

    async def take(self, sender_id: str) -> list[dict[str, Any]]:
        """See :meth:`Outbox.take`."""
        with self._lock:
            queue = self._queues.pop(sender_id, None)
            return list(queue) if queue else []


#: The process-wide outbox, chosen by :func:`current_outbox` on first use (tests replace it).
OUTBOX: Outbox | None = None


def current_outbox() -> Outbox:
    """The process-wide outbox: Redis when ``POSBOT_REDIS_URL`` is set, else memory."""
    global OUTBOX
    if OUTBOX is None:
        from bot.channels.state.factory import outbox

        OUTBOX = outbox()
    return OUTBOX


Deliverer = Callable[[str, str], Awaitable[bool]]
#: Channels that push a human agent's message themselves (e.g. WeChat's customer-service
#: API), by input channel name; other conversations get it through the widget's inbox.
#: Every process registers the same functions when it builds its channels: nothing to share.
DELIVERERS: dict[str, Deliverer] = {}


async def deliver(input_channel: str | None, sender_id: str, text: str, author: str) -> str:
    """Sends an agent's (or the system's) message to the user; returns how it went out.

    Returns:
        The channel's name, ``inbox``, or ``undelivered`` (logged as an error) when the inbox
        cannot be reached.
    """
    from bot.channels.state.factory import SharedStateUnavailable

    deliverer = DELIVERERS.get(input_channel or "")
    if deliverer is not None and await deliverer(sender_id, text):
        return input_channel or ""
    try:
        await current_outbox().put(sender_id, text, author)
    except SharedStateUnavailable as error:
        logger.error("An %s message for the widget inbox was not delivered: %s", author, error)
        return UNDELIVERED_ROUTE
    return INBOX_ROUTE
