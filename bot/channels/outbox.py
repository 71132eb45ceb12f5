"""Messages from human agents waiting to be picked up by the web widget.

Kept in the Rasa server's memory: with several server processes, the widget must reach the
process that holds its messages (the production profile replaces this with a shared store).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any, Final

MAX_SENDERS: Final = 2000
MAX_MESSAGES_PER_SENDER: Final = 50


class HumanOutbox:
    """Per-sender queues of agent messages, bounded in size."""

    def __init__(self) -> None:
        self._queues: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, sender_id: str, text: str, author: str) -> None:
        """Queues a message for the sender's widget."""
        with self._lock:
            queue = self._queues.pop(sender_id, None) or deque(maxlen=MAX_MESSAGES_PER_SENDER)
            queue.append({"text": text, "from": author, "at": time.time()})
            self._queues[sender_id] = queue
            while len(self._queues) > MAX_SENDERS:
                self._queues.popitem(last=False)

    def take(self, sender_id: str) -> list[dict[str, Any]]:
        """Returns and removes the sender's queued messages."""
        with self._lock:
            queue = self._queues.pop(sender_id, None)
            return list(queue) if queue else []


OUTBOX: Final = HumanOutbox()


Deliverer = Callable[[str, str], Awaitable[bool]]
#: Channels that push a human agent's message themselves (e.g. WeChat's customer-service
#: API), by input channel name; other conversations get it through the widget's inbox.
DELIVERERS: dict[str, Deliverer] = {}


async def deliver(input_channel: str | None, sender_id: str, text: str, author: str) -> str:
    """Sends an agent's (or the system's) message to the user; returns how it went out."""
    deliverer = DELIVERERS.get(input_channel or "")
    if deliverer is not None and await deliverer(sender_id, text):
        return input_channel or ""
    OUTBOX.put(sender_id, text, author)
    return "inbox"
