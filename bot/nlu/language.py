"""Pipeline tail: a message written in English (or another Latin-script language) is flagged.

The bot answers in Chinese only. A classifier trained on Chinese reads an English message as its
few familiar tokens ("pos", "ok") and guesses, or the scope gate calls it out of scope and the
merchant gets a Chinese refusal they cannot read. This component looks at the script instead:
a message whose letters are mostly Latin (at most three Chinese characters), with real words
beyond the Latin tokens Chinese merchants use every day (POS, wifi, SIM, OK, hi, ids and
response codes), becomes ``other_language``: the bot answers in English that the service is
in Chinese, with the hotline. Mixed messages ("pos机连不上wifi") stay Chinese. A detected
secret is never re-labelled.
"""

from __future__ import annotations

import re
from typing import Final

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.base import StatelessComponent

OTHER_LANGUAGE: Final = "other_language"
KEPT_INTENTS: Final = frozenset({"share_secret"})
#: Share of Latin letters among Latin letters and Chinese characters from which a message is
#: foreign: "my pos is blocked 停用" (0.87) is, "pos机连不上wifi" (0.44) is not.
LATIN_SHARE: Final = 0.7
#: Letters of real words needed ("help" yes, "pls" no).
MIN_WORD_LETTERS: Final = 4
#: Someone who writes this many Chinese characters reads the Chinese reply ("帮我翻译一下
#: nice to meet you" is a Chinese request about English).
MAX_CHINESE_CHARACTERS: Final = 3

_CJK: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD: Final = re.compile(r"[a-z]+")
#: Identifiers such as an intent name ("ask_suspend_reason", a stale button payload read as
#: text) are not a language.
_IDENTIFIER: Final = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)+")
#: Latin tokens of everyday Chinese merchant talk, brands and models: no sign of a language.
NEUTRAL_WORDS: Final = frozenset(
    {
        # greetings and fillers typed by Chinese users
        "ok", "okay", "hi", "hello", "emm", "emmm", "em", "en", "hh", "hhh", "haha", "hehe",
        "lol", "ps", "pls", "plz", "thx", "tks", "thanks", "thank", "sorry", "bye",
        # the machine and its parts
        "pos", "wifi", "wi", "fi", "sim", "ic", "nfc", "app", "apn", "gprs", "usb", "led", "lcd",
        "logo", "qr", "id", "jc", "mac", "pin", "cvn", "sms", "vip", "bug", "ui", "pad",
        # payment brands and apps (拼音 abbreviations too)
        "wx", "vx", "zfb", "unionpay", "alipay", "wechat", "pay", "visa", "master", "mastercard",
        # terminal makers and models
        "pax", "newland", "landi", "verifone", "ingenico", "sunmi", "centerm", "lkl", "lakala",
    }
)  # fmt: skip


def is_foreign_text(text: str) -> bool:
    """Whether ``text`` is written mostly in Latin letters with real (non-neutral) words."""
    lowered = _IDENTIFIER.sub(" ", text.lower())
    latin = sum(len(word) for word in _LATIN_WORD.findall(lowered))
    chinese = len(_CJK.findall(lowered))
    if chinese > MAX_CHINESE_CHARACTERS or latin == 0 or latin / (latin + chinese) < LATIN_SHARE:
        return False
    words = [
        word
        for word in _LATIN_WORD.findall(lowered)
        if len(word) >= 2 and word not in NEUTRAL_WORDS
    ]
    return sum(map(len, words)) >= MIN_WORD_LETTERS


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class LanguageGate(StatelessComponent):
    """Sets ``other_language`` for foreign-script messages, and only for them.

    The classifier is trained on a few English examples too; when it says ``other_language``
    for a message that is not foreign, the next intent of its ranking is taken instead.
    """

    def process(self, messages: list[Message]) -> list[Message]:
        """Re-labels the messages' intents where needed."""
        for message in messages:
            self._label(message)
        return messages

    @staticmethod
    def _label(message: Message) -> None:
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        if intent in KEPT_INTENTS:
            return
        ranking = [
            item
            for item in message.get(INTENT_RANKING_KEY) or []
            if item.get(INTENT_NAME_KEY) != OTHER_LANGUAGE
        ]
        if is_foreign_text(message.get(TEXT) or ""):
            label = {INTENT_NAME_KEY: OTHER_LANGUAGE, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.set(INTENT, label, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [label, *ranking], add_to_output=True)
        elif intent == OTHER_LANGUAGE:
            fallback = ranking[0] if ranking else {INTENT_NAME_KEY: "nlu_fallback"}
            message.set(INTENT, dict(fallback), add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
