"""Lets the classifier see an identifier's kind, not its digits.

Merchant numbers, terminal numbers, phone numbers and case ids are different in every message;
their digits only teach the intent classifier noise ("a long number means inform"). This
component runs after the tokenizer and sets the lemma of such tokens to a placeholder for their
kind; the count-vector featurizers read lemmas, while the text and the entity extractors keep
the real digits.
"""

from __future__ import annotations

import re
from typing import Final

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.base import StatelessComponent

PLACEHOLDERS: Final = (
    (re.compile(r"^jc[0-9]{12}$", re.IGNORECASE), "caseidtoken"),
    (re.compile(r"^[0-9]{15}$"), "merchantidtoken"),
    (re.compile(r"^1[3-9][0-9]{9}$"), "mobiletoken"),
    (re.compile(r"^[0-9]{8}$"), "terminalidtoken"),
    (re.compile(r"^[0-9]{4}$"), "fourdigittoken"),
    (re.compile(r"^[0-9]{5,}$"), "longnumbertoken"),
)


def placeholder_for(token_text: str) -> str | None:
    """The placeholder of an identifier-like token, or ``None`` for other tokens."""
    for pattern, placeholder in PLACEHOLDERS:
        if pattern.match(token_text):
            return placeholder
    return None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class IdPlaceholderLemmas(StatelessComponent):
    """Replaces the lemma of identifier tokens with a placeholder of their kind."""

    @staticmethod
    def _apply(message: Message) -> None:
        for token in message.get(TOKENS_NAMES[TEXT]) or []:
            placeholder = placeholder_for(token.text)
            if placeholder:
                token.lemma = placeholder

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Applies the placeholders to every training example."""
        for example in training_data.training_examples:
            self._apply(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Applies the placeholders to incoming messages."""
        for message in messages:
            self._apply(message)
        return messages
