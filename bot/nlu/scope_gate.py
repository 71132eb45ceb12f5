"""Keeps messages on topics the bot never learned out of its POS intents.

A bag-of-words classifier sees a message on an unseen topic ("告诉我西安的位置") as its few known
words only ("告诉 我 的 位置") and routes it, often confidently, to the POS intent those words
suggest. The gate looks at what the classifier cannot see: the share of the message's topic
words that never occur in the in-domain training examples. Common words of general Chinese
(jieba's own dictionary frequencies: 的, 我, 怎么, 告诉…) carry no topic and are left out of the
share; punctuation, numbers and identifiers too. Words of the domain dictionary are always known.

- share ≥ ``out_of_scope_share``: the message is ``out_of_scope`` (the bot says what it covers);
- share ≥ ``fallback_share``: the message is ``nlu_fallback`` (the bot asks "您是想问…吗？"
  with the classifier's two best intents, so a merchant who used new words still gets there).

Familiar is not the same as of the domain: "怎么操作", "要多长时间" or "办护照需要什么材料" use
only words our examples use too, yet none that says "POS". A second rule asks for evidence: a
guess below ``evidence_confidence`` in a message without an entity and without a *domain word*
becomes ``nlu_fallback``, marked with the guess (:mod:`bot.nlu.evidence`), so that the dialogue,
which sees the conversation, can keep the guess for a follow-up ("要多长时间" after a status).
Domain words: the words of the domain dictionary, and the words in-domain examples use at
least ``evidence_ratio`` times as often as out-of-scope examples (document frequency, add-one
for the out-of-scope count, at least ``evidence_min_count`` in-domain examples). Intents in
``evidence_free_intents`` (asking for a person) need no domain word.

Social intents (greetings, thanks, yes/no), ``out_of_scope`` itself and a detected secret are
never touched. A model trained without ``out_of_scope`` examples has no notion of scope (e.g. a
closed-set benchmark): the gate then does nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.evidence import LOW_EVIDENCE_KEY, low_evidence_mark
from bot.nlu.fingerprint import CodeFingerprinted, hash_text
from bot.nlu.id_placeholders import placeholder_for

logger = logging.getLogger(__name__)

NLU_FALLBACK: Final = "nlu_fallback"
STATE_FILE: Final = "scope_gate.json"
# Punctuation, symbols, bare numbers and Latin-only fragments carry no topic on their own.
_NO_TOPIC: Final = re.compile(r"^[\W_0-9]+$")


def topic_words(tokens: Iterable[Token], common: set[str]) -> list[str]:
    """Lower-cased words that can carry a topic: no punctuation, ids or common words."""
    words = []
    for token in tokens:
        word = token.text.lower()
        if _NO_TOPIC.match(word) or placeholder_for(token.text) or word in common:
            continue
        words.append(word)
    return words


def read_dictionary_words(path: Path) -> set[str]:
    """Words of a jieba user dictionary (a file, or a folder of ``*.txt`` files)."""
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    words = set()
    for file in files:
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                words.add(line.split()[0].lower())
    return words


def common_chinese_words(min_frequency: int) -> set[str]:
    """Words of jieba's general dictionary at least ``min_frequency`` times in its corpus."""
    import jieba

    path = Path(os.path.dirname(jieba.__file__)) / "dict.txt"
    common = set()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 2 and int(parts[1]) >= min_frequency:
                common.add(parts[0].lower())
    return common


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class ScopeGate(CodeFingerprinted, GraphComponent, IntentClassifier):
    """Sends POS-intent predictions made of unfamiliar words to out_of_scope or fallback."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Needs tokens."""
        return [Tokenizer]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Its code and the words of its dictionary (read when training)."""
        words = ""
        if config.get("dictionary_path"):
            path = Path(config["dictionary_path"])
            if path.exists():
                words = "\n".join(sorted(read_dictionary_words(path)))
        return f"{super().fingerprint_addon(config)}:{hash_text(words)}"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Defaults; ``config.yml`` explains the values it uses."""
        return {
            "fallback_share": 0.5,
            "out_of_scope_share": 0.75,
            "common_word_frequency": 50000,
            "out_of_scope_intent": "out_of_scope",
            "open_intents": [],
            "dictionary_path": None,
            "evidence_confidence": 0.0,
            "evidence_ratio": 3.0,
            "evidence_min_count": 2,
            "evidence_free_intents": [],
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        known: set[str] | None = None,
        common: set[str] | None = None,
        domain: set[str] | None = None,
    ) -> None:
        """Creates the gate with what it learned (nothing known: the gate is off)."""
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self.known = known or set()
        self.common = common or set()
        self.domain = domain or set()
        self.untouched = {config["out_of_scope_intent"], NLU_FALLBACK, *config["open_intents"]}
        self.evidence_free = self.untouched | set(config["evidence_free_intents"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ScopeGate:
        """Creates an untrained gate."""
        if not 0 < config["fallback_share"] <= config["out_of_scope_share"] <= 1:
            raise ValueError("ScopeGate: need 0 < fallback_share <= out_of_scope_share <= 1")
        if not 0 <= config["evidence_confidence"] <= 1 or config["evidence_ratio"] <= 0:
            raise ValueError("ScopeGate: need 0 <= evidence_confidence <= 1, evidence_ratio > 0")
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ScopeGate:
        """Loads the known and common words learned in training."""
        with model_storage.read_from(resource) as directory:
            state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        return cls(
            config,
            model_storage,
            resource,
            set(state["known"]),
            set(state["common"]),
            set(state.get("domain", [])),
        )

    def train(self, training_data: TrainingData) -> Resource:
        """Learns the words of the in-domain examples (none without out-of-scope examples)."""
        out_of_scope = self._config["out_of_scope_intent"]
        examples = training_data.intent_examples
        known: set[str] = set()
        common: set[str] = set()
        domain: set[str] = set()
        if any(example.get(INTENT) == out_of_scope for example in examples):
            common = common_chinese_words(self._config["common_word_frequency"])
            in_domain: Counter[str] = Counter()
            elsewhere: Counter[str] = Counter()
            in_domain_examples = out_of_scope_examples = 0
            for example in examples:
                words = topic_words(example.get(TOKENS_NAMES[TEXT]) or [], common)
                intent = example.get(INTENT)
                if intent == out_of_scope:
                    elsewhere.update(set(words))
                    out_of_scope_examples += 1
                    continue
                known.update(words)
                if intent not in self.untouched:
                    in_domain.update(set(words))
                    in_domain_examples += 1
            dictionary: set[str] = set()
            if self._config["dictionary_path"]:
                dictionary = read_dictionary_words(Path(self._config["dictionary_path"]))
            known |= dictionary
            domain = dictionary | self._characteristic_words(
                in_domain, in_domain_examples, elsewhere, out_of_scope_examples
            )
        else:
            logger.info("ScopeGate: no '%s' examples in the training data; off", out_of_scope)
        self.known, self.common, self.domain = known, common, domain
        state = {"known": sorted(known), "common": sorted(common), "domain": sorted(domain)}
        with self._model_storage.write_to(self._resource) as directory:
            (directory / STATE_FILE).write_text(
                json.dumps(state, ensure_ascii=False), encoding="utf-8"
            )
        return self._resource

    def _characteristic_words(
        self, in_domain: Counter[str], n_in: int, elsewhere: Counter[str], n_out: int
    ) -> set[str]:
        """Words in-domain examples use ``evidence_ratio`` times as often as out-of-scope ones."""
        ratio, min_count = self._config["evidence_ratio"], self._config["evidence_min_count"]
        return {
            word
            for word, count in in_domain.items()
            if count >= min_count and count / n_in >= ratio * (elsewhere[word] + 1) / n_out
        }

    def unfamiliar_share(self, words: list[str]) -> float:
        """Share of a message's topic words that no in-domain example uses."""
        if not words:
            return 0.0
        return sum(word not in self.known for word in words) / len(words)

    def lacks_evidence(self, message: Message, words: list[str]) -> bool:
        """A low-confidence guess in a message (topic ``words``) with no entity and no domain
        word."""
        intent = message.get(INTENT) or {}
        if intent.get(INTENT_NAME_KEY) in self.evidence_free or message.get(ENTITIES):
            return False
        if (intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0) >= self._config["evidence_confidence"]:
            return False
        return not any(word in self.domain for word in words)

    def process(self, messages: list[Message]) -> list[Message]:
        """Re-labels POS-intent predictions made of unfamiliar words or without evidence."""
        if not self.known:
            return messages
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) in self.untouched or not intent.get(INTENT_NAME_KEY):
                continue
            words = topic_words(message.get(TOKENS_NAMES[TEXT]) or [], self.common)
            share = self.unfamiliar_share(words)
            if share >= self._config["out_of_scope_share"]:
                self._relabel(message, self._config["out_of_scope_intent"], share)
            elif share >= self._config["fallback_share"]:
                self._relabel(message, NLU_FALLBACK, share)
            elif self.domain and self.lacks_evidence(message, words):
                confidence = intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0
                mark = low_evidence_mark(intent[INTENT_NAME_KEY], confidence)
                self._relabel(message, NLU_FALLBACK, self._config["evidence_confidence"])
                message.set(LOW_EVIDENCE_KEY, mark, add_to_output=True)
        return messages

    @staticmethod
    def _relabel(message: Message, name: str, share: float) -> None:
        """Puts ``name`` first, with the share as its confidence; keeps the ranking below it."""
        ranking = [
            item for item in message.get(INTENT_RANKING_KEY) or [] if item.get("name") != name
        ]
        label = {INTENT_NAME_KEY: name, "confidence": round(share, 4)}
        message.set(INTENT, label, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [label, *ranking], add_to_output=True)
