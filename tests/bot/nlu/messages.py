"""Hand-tokenised messages for component tests (no tokenizer needed)."""

from __future__ import annotations

from typing import Any

from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


def tokenized(words: str, **data: Any) -> Message:
    """A message whose tokens are the space-separated words of ``words``."""
    tokens, start = [], 0
    for word in words.split():
        tokens.append(Token(word, start))
        start += len(word)
    return Message(data={"text": words.replace(" ", ""), "text_tokens": tokens, **data})
