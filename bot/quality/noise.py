"""Perturbed copies of test messages, as merchants type them on a phone."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Final

from bot.text import opencc_character_table

FILLERS: Final = ("啊", "呢", "吧", "哈", "呀")
_HAN: Final = re.compile(r"[\u4e00-\u9fff]")
_PUNCTUATION: Final = re.compile(r"[，。！？、,.!?；;：:~～…\s]+")
_IDENTIFIER: Final = re.compile(r"[0-9a-zA-Z]{4,}")


def homophone_table(vocabulary: Iterable[str]) -> dict[str, list[str]]:
    """For each Han character of ``vocabulary``, the others with the same toneless pinyin."""
    from pypinyin import lazy_pinyin

    by_sound: dict[str, set[str]] = defaultdict(set)
    for char in {c for text in vocabulary for c in text if _HAN.match(c)}:
        by_sound[lazy_pinyin(char)[0]].add(char)
    table = {}
    for chars in by_sound.values():
        for char in chars:
            others = sorted(chars - {char})
            if others:
                table[char] = others
    return table


def _han_positions(text: str) -> list[int]:
    protected = {i for m in _IDENTIFIER.finditer(text) for i in range(m.start(), m.end())}
    return [i for i, c in enumerate(text) if _HAN.match(c) and i not in protected]


def perturbations(
    homophones: dict[str, list[str]],
) -> dict[str, Callable[[str, random.Random], str]]:
    """Named perturbations; each keeps identifiers intact."""

    def homophone(text: str, rng: random.Random) -> str:
        positions = [i for i in _han_positions(text) if text[i] in homophones]
        if not positions:
            return text
        i = rng.choice(positions)
        return text[:i] + rng.choice(homophones[text[i]]) + text[i + 1 :]

    def drop_char(text: str, rng: random.Random) -> str:
        positions = _han_positions(text)
        if len(positions) < 3:
            return text
        i = rng.choice(positions)
        return text[:i] + text[i + 1 :]

    def double_char(text: str, rng: random.Random) -> str:
        positions = _han_positions(text)
        if not positions:
            return text
        i = rng.choice(positions)
        return text[: i + 1] + text[i] + text[i + 1 :]

    def filler(text: str, rng: random.Random) -> str:
        return text.rstrip("。！？!?.") + rng.choice(FILLERS)

    def no_punctuation(text: str, rng: random.Random) -> str:
        return _PUNCTUATION.sub(" ", text).strip()

    def traditional(text: str, rng: random.Random) -> str:
        table = opencc_character_table("STCharacters")
        return "".join(table.get(c, c) for c in text)

    def full_width(text: str, rng: random.Random) -> str:
        return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)

    return {
        "homophone": homophone,
        "drop_char": drop_char,
        "double_char": double_char,
        "filler": filler,
        "no_punctuation": no_punctuation,
        "traditional": traditional,
        "full_width": full_width,
    }
