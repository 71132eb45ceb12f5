"""Base of our stateless NLU components."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

from bot.nlu.fingerprint import CodeFingerprinted


class StatelessComponent(CodeFingerprinted, GraphComponent):
    """A component without configuration or trained state."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> StatelessComponent:
        """Creates the component (it has no state)."""
        return cls()
