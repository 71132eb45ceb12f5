"""The Rasa server's response generators: the content store's texts, operator facts filled in.

Configured in ``endpoints.yml`` (``nlg: type: bot.nlg.ContentNLG``); Rasa then builds it
instead of its ``TemplatedNaturalLanguageGenerator``. Every response (rules, forms, custom
actions' ``utter_message(response=…)``) gets its live text from the content store
(:mod:`bot.services.content`: an operator's edit, else domain.yml) and ``{hotline}``,
``{service_hours}`` and ``{provider_name}`` from the same store over :mod:`bot.operator_facts`,
whatever the slots say. The lookup stays in the process (a cache checked every
``POSBOT_CONTENT_CHECK_SECONDS``); ``/ops/content/nlg`` serves the same texts over HTTP in
Rasa's NLG protocol, and :class:`SlimCallbackNLG` calls such an endpoint with the slots only
(docs/content.md says why and what it costs).
"""

from __future__ import annotations

from typing import Any

from rasa.core.nlg import CallbackNaturalLanguageGenerator, TemplatedNaturalLanguageGenerator
from rasa.core.nlg.callback import DEFAULT_REQUEST_TIMEOUT
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

from bot.operator_facts import OperatorFacts, fill_operator_facts, operator_facts
from bot.services.content import ContentCache, ContentSnapshot, content_cache


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
        return self.fill(
            utter_action, tracker.current_slot_values(), output_channel, operator_facts(), kwargs
        )

    def fill(
        self,
        utter_action: str,
        slots: dict[str, Any],
        output_channel: str,
        facts: OperatorFacts,
        arguments: dict[str, Any],
    ) -> dict[str, Any] | None:
        """The response filled from ``slots``, ``arguments`` and ``facts``."""
        filled = self.generate_from_slots(
            utter_action, slots, output_channel, **{**arguments, **facts.values()}
        )
        if filled and isinstance(filled.get("text"), str):
            # A response whose other placeholders could not be filled keeps its raw text;
            # the operator facts are still replaced in it.
            filled["text"] = fill_operator_facts(filled["text"], facts)
        return filled


class ContentNLG(OperatorFactsNLG):
    """The content store's live texts (cached in the process), operator facts filled."""

    def __init__(
        self,
        endpoint_config: EndpointConfig | None = None,
        domain: Domain | None = None,
        cache: ContentCache | None = None,
    ) -> None:
        self._cache = cache
        self._applied: ContentSnapshot | None = None
        super().__init__(endpoint_config, domain)

    @property
    def responses(self) -> dict[str, list[dict[str, Any]]]:
        """The responses served: domain.yml's with the content store's texts."""
        return self._live

    @responses.setter
    def responses(self, value: dict[str, list[dict[str, Any]]]) -> None:
        # Rasa sets the loaded model's responses after building the generator (Agent).
        self.defaults = value
        self._live = value
        self._applied = None

    @property
    def cache(self) -> ContentCache:
        """The process's content cache (or the one given)."""
        if self._cache is None:
            self._cache = content_cache()
        return self._cache

    async def render(
        self,
        utter_action: str,
        slots: dict[str, Any],
        output_channel: str,
        arguments: dict[str, Any],
    ) -> dict[str, Any] | None:
        """The live response filled from ``slots`` and ``arguments`` (the HTTP endpoint's)."""
        snapshot = await self.cache.current()
        if snapshot is not self._applied:
            # One dict per content version, built when the version changes, not per turn.
            self._live = snapshot.apply(self.defaults)
            self._applied = snapshot
        return self.fill(utter_action, slots, output_channel, snapshot.operator_facts(), arguments)

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        """The live response filled from the slots, the action's values and the facts."""
        return await self.render(
            utter_action, tracker.current_slot_values(), output_channel, kwargs
        )


def slim_request(
    utter_action: str, tracker: DialogueStateTracker, output_channel: str, **kwargs: Any
) -> dict[str, Any]:
    """Rasa's NLG request body with only what a response needs: the tracker part holds the
    sender and the slots (Rasa's own body carries every event of the conversation)."""
    response_id = kwargs.pop("response_id", None)
    return {
        "response": utter_action,
        "id": response_id,
        "arguments": kwargs,
        "tracker": {"sender_id": tracker.sender_id, "slots": tracker.current_slot_values()},
        "channel": {"name": output_channel},
    }


class SlimCallbackNLG(CallbackNaturalLanguageGenerator):
    """Rasa's callback generator (``nlg: {type: bot.nlg.SlimCallbackNLG, url: …}``) posting
    :func:`slim_request` instead of the full tracker, so a turn's cost does not grow with the
    conversation."""

    def __init__(
        self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None
    ) -> None:
        if endpoint_config is None or not endpoint_config.url:
            raise RasaException("bot.nlg.SlimCallbackNLG needs the url of an NLG endpoint")
        super().__init__(endpoint_config)

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The response from the endpoint."""
        kwargs.pop("domain_responses", None)
        body = slim_request(utter_action, tracker, output_channel, **kwargs)
        response = await self.nlg_endpoint.request(
            method="post", json=body, timeout=DEFAULT_REQUEST_TIMEOUT
        )
        if isinstance(response, dict) and self.validate_response(response):
            return response
        raise RasaException("NLG web endpoint returned an invalid response.")


def install_as_default() -> None:
    """Makes :class:`ContentNLG` Rasa's generator when the endpoints name none.

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
            return ContentNLG(domain=domain)
        return original(endpoint_config, domain)

    create.posbot_operator_facts = True  # type: ignore[attr-defined]
    generator._create_from_endpoint_config = create
