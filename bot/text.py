"""Text normalisation and secret detection shared by the NLU pipeline and the actions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from bot.domain_values import to_half_width

# Digit groups split by one space or dash ("138-1234-5678", "8983 1005 8121 234") are joined when
# the result has the length of one of our identifiers; other digit runs are left alone so that
# "60013452 5678" (terminal id, then the last four phone digits) keeps its two values.
_DIGIT_GROUPS: Final = re.compile(r"(?<![0-9])[0-9]{2,}(?:[ \-][0-9]{2,})+(?![0-9])")
_ID_LENGTHS: Final = frozenset({8, 11, 15})
_CASE_ID_DIGITS: Final = 12
_DATE_LIKE: Final = re.compile(r"^(?:19|20)[0-9]{2}[ \-][0-9]{1,2}[ \-][0-9]{1,2}$")
_CASE_ID_PREFIX: Final = re.compile(r"jc\s?$", re.IGNORECASE)

# A password, PIN, CVN or one-time code given with its value, e.g. "验证码是 384756".
_SECRET_WORDS: Final = (
    r"(?:支付|登录|交易|取款|银行卡|卡|账户|账号|管理员|操作员)?"
    r"(?:密码|口令|验证码|校验码|动态码|短信码|安全码|pin码|pin|cvn2|cvn|cvv2|cvv)"
)
SECRET_PATTERN: Final = re.compile(
    _SECRET_WORDS
    + r"\s*(?:是|为|:|：|=|就是|发你|给你)?\s*"
    + r"(?P<secret>(?=[a-z]*[0-9])[a-z0-9]{3,20})(?![a-z0-9])",
    re.IGNORECASE,
)
SECRET_MASK: Final = "******"


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
    """Folds full-width characters and joins digit groups that form one identifier.

    Args:
        text: the user's message.

    Returns:
        The normalised text with an index map back into ``text``.
    """
    folded = to_half_width(text)
    kept: list[int] = list(range(len(folded)))
    drop: set[int] = set()
    for match in _DIGIT_GROUPS.finditer(folded):
        if _DATE_LIKE.match(match.group()):
            continue
        digits = re.sub(r"[ \-]", "", match.group())
        after_case_prefix = bool(_CASE_ID_PREFIX.search(folded[: match.start()]))
        if len(digits) in _ID_LENGTHS or (after_case_prefix and len(digits) == _CASE_ID_DIGITS):
            drop.update(i for i in range(match.start(), match.end()) if folded[i] in " -")
    if not drop:
        return NormalizedText(folded, tuple(kept))
    kept = [i for i in kept if i not in drop]
    return NormalizedText("".join(folded[i] for i in kept), tuple(kept))


def find_secrets(text: str) -> list[tuple[int, int]]:
    """Spans of secret values (passwords, PINs, CVNs, verification codes) in ``text``."""
    return [match.span("secret") for match in SECRET_PATTERN.finditer(to_half_width(text))]


def mask_secrets(text: str) -> str:
    """Replaces every secret value in ``text`` with a mask."""
    spans = find_secrets(text)
    for start, end in reversed(spans):
        text = text[:start] + SECRET_MASK + text[end:]
    return text
