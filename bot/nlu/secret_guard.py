"""Pipeline tail: a message that carries a password or code is answered with a warning only."""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.base import StatelessComponent
from bot.text import SECRET_MASK, find_secrets

SHARE_SECRET_INTENT = "share_secret"
# Short numbers that a secret shared without a known pattern could be mistaken for.
SECRET_LOOKALIKE_ENTITIES = frozenset({"phone_last4"})


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SecretGuard(StatelessComponent):
    """Overrides the intent with ``share_secret`` when a secret value is present.

    The secret is masked in the parsed text and entities overlapping it are dropped, so that a
    verification code such as ``5678`` never fills ``phone_last4`` and is never echoed back.
    """

    def process(self, messages: list[Message]) -> list[Message]:
        """Flags and masks secrets in incoming messages."""
        for message in messages:
            self._guard(message)
        return messages

    @staticmethod
    def _guard(message: Message) -> None:
        text = message.get(TEXT) or ""
        spans = find_secrets(text)
        if not spans:
            if (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == SHARE_SECRET_INTENT:
                # A secret the patterns do not know ("密码告诉你 Lkl@2025"): its digits must
                # still never be taken for the last four digits of the phone.
                message.set(ENTITIES, _without_secret_lookalikes(message), add_to_output=True)
            return
        entities = [
            entity
            for entity in message.get(ENTITIES) or []
            if not any(
                entity[ENTITY_ATTRIBUTE_START] < end and start < entity[ENTITY_ATTRIBUTE_END]
                for start, end in spans
            )
        ]
        for start, end in reversed(spans):
            text = text[:start] + SECRET_MASK + text[end:]
        intent = {INTENT_NAME_KEY: SHARE_SECRET_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
        # The other intents stay in the ranking for reference, without confidence: the warning
        # comes first, and a confident second intent must not make the guess look ambiguous.
        ranking = [intent] + [
            {**item, PREDICTED_CONFIDENCE_KEY: 0.0}
            for item in message.get(INTENT_RANKING_KEY) or []
            if item.get(INTENT_NAME_KEY) != SHARE_SECRET_INTENT
        ]
        message.set(TEXT, text)
        message.set(ENTITIES, entities, add_to_output=True)
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)


def _without_secret_lookalikes(message: Message) -> list[dict]:
    return [
        entity
        for entity in message.get(ENTITIES) or []
        if entity.get(ENTITY_ATTRIBUTE_TYPE) not in SECRET_LOOKALIKE_ENTITIES
    ]
