"""Finds and masks personal data: mobile numbers, ID card and bank card numbers, secrets.

One module for every place that shows or keeps text: the channels (before the NLU), logs, the
tracker store, tickets, the copilot and the agent desk. Detection is a spaCy 3.4 blank ``zh``
pipeline with a token ``Matcher`` (digit groups) and a ``PhraseMatcher`` (secret keywords),
confirmed by checksums where they exist:

- resident ID card: 18 characters, ISO 7064 MOD 11-2 check digit, a province code and a real
  birth date (also written ``110101 19900307 123X``); an old 15-digit ID only right after the
  words 身份证/证件号 and with a real birth date, since a bare 15-digit number is a merchant id;
- bank card: 16-19 digits passing Luhn, also in groups (``6222 0212 3456 7890 128``);
- mainland mobile number: ``1[3-9]`` + 9 digits, also ``138 1234 5678``, ``138-1234-5678``,
  ``+86 13812345678``;
- secrets in context: a password, PIN, CVN/CVV or SMS code given with its value
  (``密码是abc123``, ``验证码：384756``, ``cvv 123``, ``支付密码123456``).

Decisions:

- A run of 16-19 digits that fails Luhn (and is no valid ID) is still masked, as
  ``LONG_NUMBER``: none of the bot's identifiers has that length, and a mistyped card number is
  still a card number. Grouped digits are only joined when the whole passes a checksum (cards,
  IDs) or has the phone layout (3-4-4, 3-8), so "60013452 60013453" stays two terminal ids.
- Identifiers the bot needs stay readable: merchant id (15 digits), terminal id (8 digits),
  case id (``JC`` + 12 digits), the last four phone digits. A digit group of 15 is never joined
  with its neighbours, and decimal fractions ("0.9876543210123456") are not numbers to mask.
- Masks: phone 138****5678, ID (and any 18-character number) 110***********123X, card and
  other long numbers keep their first and last four digits, secrets become ``******``.

The zh default tokenizer segments by character and spaCy 3.4's ``Matcher`` has no ``{n}``
quantifier, so the pipeline gets a small deterministic tokenizer (digit runs, Latin runs, single
other characters). The pipeline is built on first use (never at import time), guarded by a lock,
and rebuilt every ``_DOCS_PER_PIPELINE`` texts so that its string store does not grow without
bound in a long-running server.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from bot.domain_values import fold_chinese_digit_runs, mask_phone, to_half_width

PHONE: Final = "PHONE"
ID_CARD: Final = "ID_CARD"
BANK_CARD: Final = "BANK_CARD"
LONG_NUMBER: Final = "LONG_NUMBER"
SECRET: Final = "SECRET"
NUMBER_KINDS: Final = frozenset({PHONE, ID_CARD, BANK_CARD, LONG_NUMBER})

SECRET_MASK: Final = "******"

# Cheap pre-checks on the detection text: only a run of 11+ digits (single separators allowed,
# not a decimal fraction) or a secret keyword next to a digit or a mask can hold a finding.
_LONG_DIGITS: Final = re.compile(r"(?<![0-9])(?<![0-9]\.)[0-9](?:[ \-—_]?[0-9]){10,}")
_SECRET_HINT: Final = re.compile(
    r"(?:密码|口令|验证码|校验码|动态码|短信码|安全码|pin|cvn|cvv).{0,4}?(?:[0-9]|\*{6})",
    re.IGNORECASE | re.DOTALL,
)
_TOKEN: Final = re.compile(r"[0-9]+|[A-Za-z]+|\S")

_ID_CARD_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CARD_CHECK: Final = "10X98765432"
# First two digits of the mainland provinces, Taiwan, Hong Kong and Macao (residence permits).
_PROVINCE_RANGES: Final = (
    (11, 15),
    (21, 23),
    (31, 37),
    (41, 46),
    (50, 54),
    (61, 65),
    (71, 71),
    (81, 83),
)
_PROVINCES: Final = frozenset(
    str(n) for low, high in _PROVINCE_RANGES for n in range(low, high + 1)
)
_OLD_ID_CONTEXT: Final = ("身份证", "证件号")
_CONTEXT_CHARS: Final = 8
_CARD_LENGTHS: Final = range(16, 20)
_MAX_GROUPS: Final = 6
_SEPARATORS: Final = ["-", "—", "_"]

# Secret keywords (a prefix such as 支付/登录/银行卡 needs no pattern: 支付密码 contains 密码).
_SECRET_KEYWORDS: Final = (
    "密码",
    "口令",
    "验证码",
    "校验码",
    "动态码",
    "短信码",
    "安全码",
    "pin码",
    "pin",
    "cvn2",
    "cvn",
    "cvv2",
    "cvv",
)
_SECRET_CONNECTORS: Final = ("是", "为", ":", "=", "就是", "发你", "给你")
_SECRET_MIN_CHARS: Final = 3
_SECRET_MAX_CHARS: Final = 20
# A code read out in groups ("验证码 123 456") is joined up to this many digits.
_SPACED_CODE_MAX_DIGITS: Final = 8

_DOCS_PER_PIPELINE: Final = 20_000


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: its kind, span in the text and replacement."""

    kind: str
    start: int
    end: int
    mask: str


# --- checksums -------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` passes the Luhn check (bank card numbers)."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def luhn_check_digit(body: str) -> str:
    """The Luhn check digit to append to ``body``."""
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return digit
    raise ValueError(body)  # pragma: no cover - one digit always fits


def id_card_check_digit(body: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits of an ID card number."""
    if len(body) != 17 or not body.isdigit():
        raise ValueError("an ID card body is 17 digits")
    return _ID_CARD_CHECK[sum(int(c) * w for c, w in zip(body, _ID_CARD_WEIGHTS, strict=True)) % 11]


def id_card_valid(value: str) -> bool:
    """Whether ``value`` is an 18-character resident ID number (province, date, check digit)."""
    value = value.upper()
    if len(value) != 18 or not value[:17].isdigit() or value[:2] not in _PROVINCES:
        return False
    return _real_date(value[6:14]) and id_card_check_digit(value[:17]) == value[17]


def old_id_card_valid(value: str) -> bool:
    """Whether ``value`` looks like a 15-digit first-generation ID (province, 19yy date)."""
    return (
        len(value) == 15
        and value.isdigit()
        and value[:2] in _PROVINCES
        and _real_date("19" + value[6:12])
    )


def _real_date(yyyymmdd: str) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2100


# --- masks -----------------------------------------------------------------------------------


def _keep_ends(value: str, head: int, tail: int) -> str:
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def _number_mask(kind: str, value: str) -> str:
    if kind == PHONE:
        return value[:-11] + mask_phone(value[-11:])
    if kind == ID_CARD or len(value) == 18:  # an unverified 18 is most likely a mistyped ID
        return _keep_ends(value, 3, 4)
    return _keep_ends(value, 4, 4)


# --- the spaCy pipeline ----------------------------------------------------------------------


def _detection_text(text: str) -> str:
    """Half-width, Chinese digit runs as digits; same length as ``text``."""
    return fold_chinese_digit_runs(to_half_width(text))


class _Tokenizer:
    """Digit runs, Latin runs and every other character as tokens; spaces kept exactly."""

    def __init__(self, vocab: Any) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Any:
        from spacy.tokens import Doc

        words: list[str] = []
        spaces: list[bool] = []
        position = 0
        for match in _TOKEN.finditer(text):
            self._gap(text[position : match.start()], words, spaces)
            words.append(match.group())
            spaces.append(False)
            position = match.end()
        self._gap(text[position:], words, spaces)
        return Doc(self.vocab, words=words, spaces=spaces)

    @staticmethod
    def _gap(gap: str, words: list[str], spaces: list[bool]) -> None:
        if not gap:
            return
        if words and gap[0] == " ":
            spaces[-1] = True
            gap = gap[1:]
        if gap:
            words.append(gap)
            spaces.append(False)


def _number_patterns() -> list[list[dict[str, Any]]]:
    digits = {"IS_DIGIT": True}
    separator = {"ORTH": {"IN": _SEPARATORS}, "OP": "?"}
    patterns = []
    for groups in range(1, _MAX_GROUPS + 1):
        pattern: list[dict[str, Any]] = [digits]
        for _ in range(groups - 1):
            pattern += [separator, digits]
        patterns.append(pattern)
    return patterns


def _load_spacy() -> Any:
    """Imports spaCy. In a process without TensorFlow (the action server) thinc is kept from
    importing it: that costs ~2 s and ~500 MB of memory and a blank pipeline never uses it."""
    if "spacy" in sys.modules or "tensorflow" in sys.modules:
        import spacy

        return spacy
    sys.modules["tensorflow"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import spacy
    finally:
        del sys.modules["tensorflow"]
    return spacy


class _Detector:
    """The spaCy pipeline and the rules that turn matches into findings."""

    def __init__(self) -> None:
        spacy = _load_spacy()
        from spacy.matcher import Matcher, PhraseMatcher

        self.nlp = spacy.blank("zh")
        self.nlp.tokenizer = _Tokenizer(self.nlp.vocab)
        self.numbers = Matcher(self.nlp.vocab)
        self.numbers.add("NUMBER", _number_patterns())
        self.keywords = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self.keywords.add("SECRET_KEYWORD", [self.nlp.make_doc(k) for k in _SECRET_KEYWORDS])
        self.connectors = [
            [token.lower_ for token in self.nlp.make_doc(c)] for c in _SECRET_CONNECTORS
        ]
        self.docs = 0

    def find(
        self, detection: str, *, numbers_too: bool, secrets_too: bool, phones: bool
    ) -> list[Finding]:
        """Findings in ``detection`` (the text folded by ``_detection_text``)."""
        doc = self.nlp(detection)
        self.docs += 1
        numbers: list[Finding] = []
        secrets: list[Finding] = []
        if numbers_too:
            for _key, start, end in self.numbers(doc):
                finding = _number(doc, detection, start, end)
                if finding and (phones or finding.kind != PHONE):
                    numbers.append(finding)
        if secrets_too:
            for _key, _start, end in self.keywords(doc):
                finding = self._secret(doc, end)
                if finding:
                    secrets.append(finding)
        return _non_overlapping(secrets, numbers)

    def _secret(self, doc: Any, end: int) -> Finding | None:
        """The secret value after a keyword ending at token ``end``, past a connector if any."""
        for connector in self.connectors:
            following = [token.lower_ for token in doc[end : end + len(connector)]]
            if following == connector:
                finding = _secret_after(doc, end + len(connector))
                if finding:
                    return finding
        return _secret_after(doc, end)


def _non_overlapping(secrets: list[Finding], numbers: list[Finding]) -> list[Finding]:
    """Secrets first, then the longest numbers; sorted by position."""
    chosen: list[Finding] = []
    ordered = sorted(secrets, key=lambda f: (f.start, -f.end)) + sorted(
        numbers, key=lambda f: (-(f.end - f.start), f.start)
    )
    for finding in ordered:
        if all(finding.end <= c.start or c.end <= finding.start for c in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)


def _number(doc: Any, text: str, start: int, end: int) -> Finding | None:
    tokens = doc[start:end]
    groups = [t.text for t in tokens if t.is_digit]
    first = doc[start]
    if _is_fraction(doc, start):
        return None
    after = doc[end] if end < len(doc) else None
    check_x = after is not None and after.lower_ == "x" and not doc[end - 1].whitespace_
    context = text[max(0, first.idx - _CONTEXT_CHARS) : first.idx]
    kind, value = _classify(groups, check_x, context)
    if kind is None:
        return None
    stop = tokens.end_char + (1 if value.endswith("X") else 0)
    return Finding(kind, first.idx, stop, _number_mask(kind, value))


def _is_fraction(doc: Any, start: int) -> bool:
    """Whether the digits at ``start`` are the fraction of a decimal number ("0.98765")."""
    return (
        start >= 2
        and doc[start - 1].text == "."
        and doc[start - 2].is_digit
        and not doc[start - 2].whitespace_
        and not doc[start - 1].whitespace_
    )


def _classify(groups: list[str], check_x: bool, context: str) -> tuple[str | None, str]:
    """The kind of a run of digit groups, and its value (digits joined, ``X`` appended)."""
    joined = "".join(groups)
    lengths = [len(g) for g in groups]
    if len(joined) == 17 and check_x and id_card_valid(joined + "X"):
        return ID_CARD, joined + "X"
    if len(groups) == 1 and len(joined) == 17 and check_x:
        return LONG_NUMBER, joined + "X"
    if len(groups) == 1:
        if re.fullmatch(r"(?:86)?1[3-9][0-9]{9}", joined):
            return PHONE, joined
        if len(joined) == 18 and id_card_valid(joined):
            return ID_CARD, joined
        if len(joined) in _CARD_LENGTHS:
            return (BANK_CARD if luhn_valid(joined) else LONG_NUMBER), joined
        if any(word in context for word in _OLD_ID_CONTEXT) and old_id_card_valid(joined):
            return ID_CARD, joined
        return None, joined
    if 15 in lengths:
        return None, joined  # a merchant id is never part of a longer number
    if lengths in ([3, 4, 4], [3, 8]) and re.fullmatch(r"1[3-9][0-9]{9}", joined):
        return PHONE, joined
    if len(joined) == 18 and id_card_valid(joined):
        return ID_CARD, joined
    card_layout = (
        lengths[0] in (4, 6)
        and all(length == 4 for length in lengths[1:-1])
        and 1 <= lengths[-1] <= 4
        and joined[0] in "345689"
    )
    if card_layout and len(joined) in _CARD_LENGTHS and luhn_valid(joined):
        return BANK_CARD, joined
    return None, joined


def _secret_after(doc: Any, position: int) -> Finding | None:
    """The value that follows a secret keyword (and connector) at token ``position``."""
    while position < len(doc) and doc[position].is_space:
        position += 1
    stars = doc[position : position + len(SECRET_MASK)]
    if stars.text == SECRET_MASK:
        return Finding(SECRET, stars.start_char, stars.end_char, SECRET_MASK)
    end = position
    while end < len(doc) and _alphanumeric(doc[end]):
        end += 1
        if doc[end - 1].whitespace_:
            break
    value = doc[position:end].text.strip()
    # A code read out in groups: "验证码 123 456".
    while (
        len(value) >= _SECRET_MIN_CHARS
        and value.isdigit()
        and end < len(doc)
        and doc[end].is_digit
        and doc[end - 1].whitespace_ == " "
        and len(value) + len(doc[end].text) <= _SPACED_CODE_MAX_DIGITS
    ):
        value += doc[end].text
        end += 1
    if not _SECRET_MIN_CHARS <= len(value) <= _SECRET_MAX_CHARS:
        return None
    if not any(char.isdigit() for char in value):
        return None
    return Finding(SECRET, doc[position].idx, doc[end - 1].idx + len(doc[end - 1]), SECRET_MASK)


def _alphanumeric(token: Any) -> bool:
    return token.text.isascii() and token.text.isalnum()


_lock = threading.RLock()
_state = threading.local()
_detector: _Detector | None = None


def _detector_instance() -> _Detector:
    global _detector
    if _detector is None or _detector.docs >= _DOCS_PER_PIPELINE:
        _detector = _Detector()
    return _detector


def find_pii(text: str, *, phones: bool = True) -> list[Finding]:
    """Every piece of personal data in ``text``, by position (``phones=False`` skips phones)."""
    detection = _detection_text(text or "")
    numbers_too = bool(_LONG_DIGITS.search(detection))
    secrets_too = bool(_SECRET_HINT.search(detection))
    if not (numbers_too or secrets_too) or getattr(_state, "busy", False):
        return []  # nothing to find, or a log line written while the pipeline runs or is built
    with _lock:
        _state.busy = True
        try:
            return _detector_instance().find(
                detection, numbers_too=numbers_too, secrets_too=secrets_too, phones=phones
            )
        finally:
            _state.busy = False


def _apply(text: str, findings: list[Finding]) -> str:
    for finding in reversed(findings):
        text = text[: finding.start] + finding.mask + text[finding.end :]
    return text


# --- public API ------------------------------------------------------------------------------


def find_secrets(text: str) -> list[tuple[int, int]]:
    """Spans of secret values (passwords, PINs, CVNs, verification codes) in ``text``."""
    return [(f.start, f.end) for f in find_pii(text, phones=False) if f.kind == SECRET]


def mask_secrets(text: str) -> str:
    """Replaces every secret value in ``text`` with ``******``."""
    return _apply(text, [f for f in find_pii(text, phones=False) if f.kind == SECRET])


def mask_sensitive(text: str) -> str:
    """Masks what must never be stored (secrets, ID card, bank card and long numbers).

    Mobile numbers stay: the bot needs them (contact phone of an application). This runs in the
    channels, before a message reaches the NLU, the tracker store or any log.
    """
    return _apply(text, find_pii(text, phones=False))


def mask_pii(text: str) -> str:
    """Masks secrets, ID card numbers, bank card numbers and mobile numbers in ``text``."""
    return _apply(text, find_pii(text))


def contains_pii(text: str) -> bool:
    """Whether ``text`` holds anything :func:`mask_pii` would mask."""
    return bool(find_pii(text))


# Keys of serialised events whose values are names, ids or numbers, never free text.
_STRUCTURAL_KEYS: Final = frozenset(
    {"event", "timestamp", "message_id", "input_channel", "name", "policy", "entity", "extractor"}
)


def redact_value(value: Any) -> Any:
    """``value`` (JSON-like: str, list, dict, scalars) with every string masked."""
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_value(item) for item in value)
    if isinstance(value, dict):
        return {
            key: item if key in _STRUCTURAL_KEYS else redact_value(item)
            for key, item in value.items()
        }
    return value


def redact_event(event: dict) -> dict:
    """A copy of a serialised tracker event with personal data masked, for persisting.

    Every string in the event is masked (user and bot text, parse data, entity values, slot
    values of any type, buttons, metadata) except its structural fields (event type, names,
    timestamps, message id). Identifiers the bot needs (merchant, terminal and case ids) stay
    readable. The tracker store calls this on every event it saves.
    """
    return redact_value(event)


def iter_strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON-like value (for checks and tests)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from iter_strings(item)
