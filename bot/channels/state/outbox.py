"""Messages from human agents waiting to be picked up by the web widget.

:class:`HumanOutbox` keeps them in the Rasa server's memory (one process); with
``POSBOT_REDIS_URL`` set every process shares
:class:`bot.channels.state.redis_backend.RedisOutbox`, so a widget poll may reach
any process. :func:`bot.channels.delivery.current_outbox` picks one on first use.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from typing import Any, Final

MAX_SENDERS: Final = 2000
MAX_MESSAGES_PER_SENDER: Final = 50


def outbox_message(
    text: str, author: str, buttons: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """One queued message as the widget receives it (with ``buttons`` when given)."""
    message: dict[str, Any] = {"text": text, "from": author, "at": time.time()}
    if buttons:
        message["buttons"] = [
            {"title": str(b.get("title") or ""), "payload": str(b.get("payload") or "")}
            for b in buttons
        ]
    return message


class Outbox(ABC):
    """Per-sender queues of agent messages, bounded in size."""

    @abstractmethod
    async def put(
        self,
        sender_id: str,
        text: str,
        author: str,
        buttons: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Queues a message (and its buttons) for the sender's widget.

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

    async def put(
        self,
        sender_id: str,
        text: str,
        author: str,
        buttons: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """See :meth:`Outbox.put`."""
        with self._lock:
            queue = self._queues.pop(sender_id, None) or deque(maxlen=MAX_MESSAGES_PER_SENDER)
            queue.append(outbox_message(text, author, buttons))
            self._queues[sender_id] = queue
            while len(self._queues) > MAX_SENDERS:
                self._queues.popitem(last=False)

    async def take(self, sender_id: str) -> list[dict[str, Any]]:
        """See :meth:`Outbox.take`."""
        with self._lock:
            queue = self._queues.pop(sender_id, None)
            return list(queue) if queue else []
