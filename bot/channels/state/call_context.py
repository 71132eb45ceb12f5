"""The copilot's call contexts behind one interface: in memory (one process) or shared."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from bot.services.copilot import CALL_IDS, CallContext, CallRegistry


def call_ids(entities: Iterable[dict[str, Any]]) -> dict[str, str]:
    """The call identifiers among ``entities`` (upper-cased, the last of a kind wins)."""
    return {
        entity["entity"]: str(entity["value"]).upper()
        for entity in entities
        if entity.get("entity") in CALL_IDS and entity.get("value")
    }


class CallContexts(ABC):
    """What is known about each phone call, across the copilot's turns."""

    @abstractmethod
    async def add_turn(
        self, call_id: str, agent_id: str, masked_text: str, entities: Iterable[dict[str, Any]]
    ) -> CallContext:
        """Records what the caller said; identifiers accumulate across the call.

        A call taken over by another agent starts afresh.

        Raises:
            SharedStateUnavailable: the shared store cannot be reached.
        """


class InMemoryCallContexts(CallContexts):
    """Per-process contexts (:class:`CallRegistry`); enough for a single Rasa server process."""

    def __init__(self, registry: CallRegistry | None = None) -> None:
        self._registry = registry or CallRegistry()

    async def add_turn(
        self, call_id: str, agent_id: str, masked_text: str, entities: Iterable[dict[str, Any]]
    ) -> CallContext:
        """See :meth:`CallContexts.add_turn`."""
        return self._registry.add_turn(call_id, agent_id, masked_text, entities)
