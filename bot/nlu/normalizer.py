"""Pipeline head: the same text normalisation for training and inference."""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.base import StatelessComponent
from bot.text import normalize_text


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class TextNormalizer(StatelessComponent):
    """Folds full-width digits/letters and joins spaced or dashed identifiers.

    Runs before the tokenizer so that ``８９８３…`` and ``138-1234-5678`` reach the tokenizer, the
    featurizers and the regex extractor as plain digits. Entity annotations of training examples
    are moved along with the text.
    """

    @staticmethod
    def normalize_message(message: Message) -> None:
        """Normalises the message text in place, moving entity offsets with it."""
        text = message.get(TEXT)
        if not text:
            return
        normalized = normalize_text(text)
        if normalized.text == text:
            return
        message.set(TEXT, normalized.text)
        for entity in message.get(ENTITIES) or []:
            start, end = normalized.normalized_span(
                entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
            )
            entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END] = start, end

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Normalises every training example."""
        for example in training_data.training_examples:
            self.normalize_message(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Normalises incoming messages."""
        for message in messages:
            self.normalize_message(message)
        return messages
