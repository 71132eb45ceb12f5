"""The Rasa server's response generator: domain responses with the operator facts filled in.

Configured in ``endpoints.yml`` (``nlg: type: bot.nlg.OperatorFactsNLG``); Rasa then builds it
instead of its ``TemplatedNaturalLanguageGenerator``. Every response (rules, forms, custom
actions' ``utter_message(response=…)``) gets ``{hotline}``, ``{service_hours}`` and
``{provider_name}`` from :mod:`bot.operator_facts`, whatever the slots say.
"""

from __future__ import annotations

from typing import Any

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.operator_facts import fill_operator_facts, operator_facts


class OperatorFactsNLG(TemplatedNaturalLanguageGenerator):
    """Rasa's templated generator with the operator facts as fill values."""

    def __init__(
        self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None
    ) -> None:
        super().__init__((domain or Domain.empty()).responses)

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        """The response filled from the slots, the action's values and the operator facts."""
        filled = await super().generate(
            utter_action, tracker, output_channel, **{**kwargs, **operator_facts().values()}
        )
        if filled and isinstance(filled.get("text"), str):
            # A response whose other placeholders could not be filled keeps its raw text;
            # the operator facts are still replaced in it.
            filled["text"] = fill_operator_facts(filled["text"])
        return filled


def install_as_default() -> None:
    """Makes :class:`OperatorFactsNLG` Rasa's generator when the endpoints name none.

    ``python -m bot.cli.rasa_server`` (``posbot serve``, the production profile, the tests)
    calls this, so an endpoints file written without the ``nlg`` section still never shows a
    raw ``{hotline}``. An explicit ``nlg`` endpoint is left as configured.
    """
    from rasa.core.nlg import generator

    original = generator._create_from_endpoint_config
    if getattr(original, "posbot_operator_facts", False):
        return

    def create(endpoint_config: EndpointConfig | None = None, domain: Domain | None = None) -> Any:
        if endpoint_config is None:
            return OperatorFactsNLG(domain=domain)
        return original(endpoint_config, domain)

    create.posbot_operator_facts = True  # type: ignore[attr-defined]
    generator._create_from_endpoint_config = create
