"""Text normalisation shared by the NLU pipeline and the actions.

Secret detection lives in :mod:`bot.redaction`; ``find_secrets``, ``mask_secrets`` and
``SECRET_MASK`` are re-exported here for the NLU components.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from bot.cantonese import cantonese_to_mandarin
from bot.domain_values import fold_chinese_digit_runs, to_half_width
from bot.redaction import SECRET_MASK, find_secrets, mask_secrets

__all__ = ["SECRET_MASK", "NormalizedText", "find_secrets", "mask_secrets", "normalize_text"]

# Digit groups split by one space or dash ("138-1234-5678", "8983 1005 8121 234") are joined when
# the result has the length of one of our identifiers; other digit runs are left alone so that
# "60013452 5678" (terminal id, then the last four phone digits) keeps its two values.
_DIGIT_GROUPS: Final = re.compile(r"(?<![0-9])[0-9]{2,}(?:[ \-][0-9]{2,})+(?![0-9])")
_ID_LENGTHS: Final = frozenset({8, 11, 15})
_CASE_ID_DIGITS: Final = 12
# Punctuation, emoji and filler repeated three or more times are kept once.
_REPEATS: Final = re.compile(
    r"([!?.,~。！？，、…～—\-啊呀哈呢吧嗯哦噢唉]|[\U0001F300-\U0001FAFF\u2600-\u27BF])\1{2,}"
)
_DATE_LIKE: Final = re.compile(r"^(?:19|20)[0-9]{2}[ \-][0-9]{1,2}[ \-][0-9]{1,2}$")
_CASE_ID_PREFIX: Final = re.compile(r"jc[\s\-]?$", re.IGNORECASE)
# A case id once digit groups are joined: "jc202611180023", "jc 202611180023", "jc-2026…".
_CASE_ID: Final = re.compile(r"(?<![a-z])jc([ \-]?)(?=[0-9]{12}(?![0-9]))")


@dataclass(frozen=True)
class NormalizedText:
    """A normalised text and, for each of its characters, the index in the original."""

    text: str
    origin: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Maps a span of the normalised text back to the original text."""
        if start >= end:
            position = self.origin[start] if start < len(self.origin) else len(self.origin)
            return position, position
        return self.origin[start], self.origin[end - 1] + 1

    def normalized_span(self, start: int, end: int) -> tuple[int, int]:
        """Maps a span of the original text onto the normalised text."""
        new_start = next((i for i, o in enumerate(self.origin) if o >= start), len(self.origin))
        new_end = next((i for i, o in enumerate(self.origin) if o >= end), len(self.origin))
        return new_start, new_end


def normalize_text(text: str) -> NormalizedText:
    """Normalises a message the same way for training and inference.

    Full width to half width, then written Cantonese words to Mandarin (點解 -> 为什么, 唔 -> 不,
    see :mod:`bot.cantonese`). Character for character: Traditional to Simplified, Latin to
    lower case, runs of four or more Chinese digits (尾号五六七八) to digits. Then removals:
    spaces and dashes inside an identifier ("138-1234-5678"), repeated punctuation, emoji and
    filler characters ("！！！", "啊啊啊") kept once. Last, a case id is written the one way the
    case store knows it: ``JC`` + 12 digits ("jc 2026 1118 0023" -> "JC202611180023").

    Args:
        text: the user's message.

    Returns:
        The normalised text with an index map back into ``text``.
    """
    mandarin, cantonese_origin = cantonese_to_mandarin(to_half_width(text))
    chars = list(mandarin)
    simplified = traditional_to_simplified_map()
    chars = [simplified.get(char, char) for char in chars]
    folded = "".join(chars).lower() if text.isascii() else _lower_ascii("".join(chars))
    folded = fold_chinese_digit_runs(folded)
    drop: set[int] = set()
    for match in _DIGIT_GROUPS.finditer(folded):
        if _DATE_LIKE.match(match.group()):
            continue
        digits = re.sub(r"[ \-]", "", match.group())
        after_case_prefix = bool(_CASE_ID_PREFIX.search(folded[: match.start()]))
        if len(digits) in _ID_LENGTHS or (after_case_prefix and len(digits) == _CASE_ID_DIGITS):
            drop.update(i for i in range(match.start(), match.end()) if folded[i] in " -")
    for match in _REPEATS.finditer(folded):
        drop.update(range(match.start() + 1, match.end()))
    kept = [i for i in range(len(folded)) if i not in drop]
    return _canonical_case_ids(
        "".join(folded[i] for i in kept), [cantonese_origin[i] for i in kept]
    )


def _canonical_case_ids(text: str, origin: list[int]) -> NormalizedText:
    """Upper-cases the ``jc`` of a case id and drops a space before its digits.

    The entity extractor copies the id from the text, and the case store has it in upper case:
    a lower-case id would never match (shared/domain.md: ``JC`` + 12 digits).
    """
    chars, kept = list(text), list(origin)
    for match in reversed(list(_CASE_ID.finditer(text))):
        chars[match.start()], chars[match.start() + 1] = "J", "C"
        if match.group(1):
            del chars[match.start(1)], kept[match.start(1)]
    return NormalizedText("".join(chars), tuple(kept))


def _lower_ascii(text: str) -> str:
    return "".join(char.lower() if char.isascii() else char for char in text)


@lru_cache(maxsize=4)
def opencc_character_table(name: str) -> dict[str, str]:
    """One of OpenCC's one-character-to-one tables, e.g. ``TSCharacters`` (Traditional ->
    Simplified) or ``STCharacters``; the first candidate wins."""
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / f"{name}.txt"
    table: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        source, _, targets = line.partition("\t")
        target = targets.split(" ")[0] if targets else ""
        if len(source) == 1 and len(target) == 1:
            table[source] = target
    return table


def traditional_to_simplified_map() -> dict[str, str]:
    """Traditional -> Simplified, character by character."""
    return opencc_character_table("TSCharacters")
