"""Finds and masks personal data: mobile numbers, ID card and bank card numbers, secrets.

One module for every place that shows or keeps text: the channels (before the NLU), logs, the
tracker store, tickets, the copilot and the agent desk. Numbers are found by regular expressions
over digit groups, secret keywords by a spaCy 3.4 blank ``zh`` ``PhraseMatcher``, and numbers are
confirmed by checksums where they exist:

- resident ID card: 18 characters, ISO 7064 MOD 11-2 check digit, a province code and a real
  birth date (also written ``110101 19900307 123X``); an old 15-digit ID only right after the
  words 身份证/证件号 and with a real birth date, since a bare 15-digit number is a merchant id;
- bank card: 16-19 digits passing Luhn, also in groups of any length (``6222 0212 3456 7890 128``,
  ``62220212 34567890 128``, ``622202 1234567890128``);
- mainland mobile number: ``1[3-9]`` + 9 digits, also as 3-4-4, 3-8 or 7-4 groups or digit by
  digit (``138 1234 5678``, ``(138)1234-5678``, ``1 3 8 1 2 3 4 5 6 7 8``), ``+86 13812345678``;
- secrets in context: a password, PIN, CVN/CVV or SMS code after its keyword (also spaced,
  Traditional or English: ``密 码``, ``驗證碼``, ``password``, ``pwd``), past a connector
  (``是``, ``为``, ``：``, ``=``, ``，``, ``（``, quotes, ``发你了``, ``告诉你``), written whole or
  digit by digit (``验证码 8 8 8 8 8 8``, ``验证码是123-456``, ``pwd=x``).

Digit groups may be separated by one or two spaces or by one of ``- — _ . / , 、 · ( ) [ ]``
(with a space on either side); full-width forms (``１３８－１２３４``, ``（１３８）``, the
ideographic space) are folded first, and Chinese digits (一三八 一二三四 五六七八, 〇/零/幺/两)
are read as digits where at least three of them are part of a number of four digits or more.

Decisions:

- A run of 16-19 digits that fails Luhn (and is no valid ID) is still masked, as
  ``LONG_NUMBER``: none of the bot's identifiers has that length, and a mistyped card number is
  still a card number. Grouped digits are only joined when the whole passes a checksum (cards,
  IDs) or has the phone layout, so "60013452 60013453" stays two terminal ids (two groups of 8
  are never a card) and a 15-digit group (a merchant id) is never joined with its neighbours.
- Identifiers the bot needs stay readable: merchant id (15 digits), terminal id (8 digits),
  case id (``JC`` + 12 digits, also after a secret keyword), the last four phone digits,
  response codes, amounts, dates. Decimal fractions ("0.9876543210123456", timestamps) are not
  numbers to mask: two digit groups joined by a bare dot, the first of one to three digits, are
  one decimal number (unless they have a phone's layout: better a float masked in a log line
  than a phone kept). "6222.021234567890128" is a card; timestamps start with 1, never a card.
- A secret after a keyword and ``:``, ``=``, ``是``, ``为`` or a quote can be anything
  (``password: x``); otherwise (``密码 902716``, ``密码，abc123``) it needs a digit and three
  characters, and is never another keyword ("密码、验证码、CVN") nor followed by a unit
  ("验证码 500块就能解冻" is an amount, "验证码 120秒内有效" a duration); digits only need three,
  so "密码错误3次" and "密码是6位吗" keep their numbers, and a message that only mentions a
  password ("申请要填密码吗") has nothing to mask.
- Masks: phone 138****5678, ID (and any 18-character number) 110***********123X, card and
  other long numbers keep their first and last four digits, secrets become ``******``.

The zh default tokenizer segments by character, so the pipeline gets a small deterministic
tokenizer (digit runs, Latin runs, single other characters). The pipeline is built on first use
(never at import time), guarded by a lock, only run on texts with a secret keyword, and rebuilt
every ``_DOCS_PER_PIPELINE`` texts so that its string store does not grow without bound in a
long-running server.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from bot.domain_values import mask_phone, to_half_width

PHONE: Final = "PHONE"
ID_CARD: Final = "ID_CARD"
BANK_CARD: Final = "BANK_CARD"
LONG_NUMBER: Final = "LONG_NUMBER"
SECRET: Final = "SECRET"
NUMBER_KINDS: Final = frozenset({PHONE, ID_CARD, BANK_CARD, LONG_NUMBER})

SECRET_MASK: Final = "******"

# Between the digit groups of one number: one or two spaces, or one punctuation mark with at
# most one space on either side (full-width forms are folded to these before matching).
_SEPARATOR: Final = r"(?: {1,2}| ?[\-—_./,、·()\[\]] ?)"
_NUMBER_RUN: Final = re.compile(rf"[0-9]+(?:{_SEPARATOR}[0-9]+)*")
_DIGIT_GROUP: Final = re.compile(r"[0-9]+")
# Cheap pre-checks (a superset of what they guard, written for speed: no case folding, simple
# character classes): only 11 or more digits in one run can be a phone, ID or card number; only
# a text with full-width characters or Chinese digits needs folding.
_LONG_DIGITS: Final = re.compile(r"[0-9](?:[ \-—_./,、·()\[\]]{0,3}[0-9]){10,}")
_FULL_WIDTH: Final = re.compile("[\uff01-\uff5e\u3000]")
_ANY_CHINESE_DIGIT: Final = re.compile("[零〇一幺二两三四五六七八九]")
_MIN_NUMBER_DIGITS: Final = 11
_MAX_NUMBER_DIGITS: Final = 19
_MAX_GROUPS: Final = 19  # a card read out digit by digit
_DECIMAL_INTEGER_DIGITS: Final = 3

_CHINESE_DIGITS: Final = "零〇一幺二两三四五六七八九"
_CHINESE_DIGIT_TABLE: Final = str.maketrans(_CHINESE_DIGITS, "0011223456789")
_CHINESE_NUMBER: Final = re.compile(
    rf"[0-9{_CHINESE_DIGITS}](?:{_SEPARATOR}?[0-9{_CHINESE_DIGITS}])+"
)
_MIN_CHINESE_DIGITS: Final = 3
_MIN_FOLDED_DIGITS: Final = 4

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
_OLD_ID_CONTEXT: Final = ("身份证", "證件號", "证件号", "身份證")
_CONTEXT_CHARS: Final = 8
_CARD_LENGTHS: Final = range(16, 20)
_CARD_FIRST_DIGITS: Final = "345689"
_PHONE: Final = re.compile(r"1[3-9][0-9]{9}")
_PHONE_WITH_CODE: Final = re.compile(r"(?:86)?1[3-9][0-9]{9}")
_PHONE_LAYOUTS: Final = ((3, 4, 4), (3, 8), (7, 4))
_MERCHANT_ID_DIGITS: Final = 15
_TWO_TERMINAL_IDS: Final = (8, 8)

# Secret keywords (a prefix such as 支付/登录/银行卡 needs no pattern: 支付密码 contains 密码).
# The PhraseMatcher compares lower-case tokens and ignores single spaces: "密 码", "PIN" match.
_SECRET_KEYWORDS: Final = (
    "密码",
    "密碼",
    "口令",
    "验证码",
    "驗證碼",
    "校验码",
    "校驗碼",
    "动态码",
    "動態碼",
    "短信码",
    "短信碼",
    "安全码",
    "安全碼",
    "卡密",
    "背面三位数",
    "背面3位数",
    "pin码",
    "pin碼",
    "pin",
    "pwd",
    "passwd",
    "password",
    "passcode",
    "otp",
    "cvn2",
    "cvn",
    "cvv2",
    "cvv",
    "cvc",
)
# Cheap pre-check for a secret keyword (every keyword above holds one of these).
_SECRET_HINT: Final = re.compile(
    r"[码碼令密背]|[pP](?:[iI][nN]|[wW][dD]|[aA][sS][sS])|[oO][tT][pP]|[cC][vV][nNvVcC]"
)
# What may stand between a keyword and its value ("是：", "，", "（", "发你了 ", " is ").
_SECRET_FILLER: Final = re.compile(
    r"(?:[ \t:=,，(\[【\"“”'‘’「『<《>→~\-—]|是的|就是|都是|应该是|應該是|是|为|為|如下"
    r"|发给你了|发给你|發給你|发你了|發你了|发你|给你了|给你|給你|我告诉你|告诉你|告訴你"
    r"|(?:is|was)(?= ))*",
    re.IGNORECASE,
)
# A value without a digit ("password: x", "pwd=x") only counts after one of these.
_STRONG_CONNECTOR: Final = re.compile("[:=是为為\"“”'‘’「『]")
_KEYWORD_VALUES: Final = frozenset(k for k in _SECRET_KEYWORDS if k.isascii())
_MAX_FILLER_CHARS: Final = 12
_SECRET_WORD: Final = re.compile(r"[A-Za-z0-9@#$%^&*!_+\-.~]+")
_SECRET_WORD_TRAILING: Final = ".-~!_"
_SECRET_MIN_CHARS: Final = 3
_SECRET_MIN_DIGITS: Final = 3
# A code read out in groups ("验证码 123 456", "8-8-8-8-8-8") is joined up to this many digits.
_SPACED_CODE_MAX_DIGITS: Final = 8
_CASE_ID: Final = re.compile(r"JC[0-9]{12}", re.IGNORECASE)
_QUANTITY_UNITS: Final = frozenset("元块圆万千百次天个位号年月日岁分秒%")
_TOKEN: Final = re.compile(r"[0-9]+|[A-Za-z]+|\S")

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


# --- detection text --------------------------------------------------------------------------


def _fold_chinese_number(match: re.Match[str]) -> str:
    number = match.group()
    chinese = sum(char in _CHINESE_DIGITS for char in number)
    digits = chinese + sum(char.isdigit() for char in number)
    if chinese >= _MIN_CHINESE_DIGITS and digits >= _MIN_FOLDED_DIGITS:
        return number.translate(_CHINESE_DIGIT_TABLE)
    return number


def _detection_text(text: str) -> str:
    """Half-width, Chinese digits of a number as digits; same length as ``text``."""
    if _FULL_WIDTH.search(text):
        text = to_half_width(text)
    if _ANY_CHINESE_DIGIT.search(text):
        text = _CHINESE_NUMBER.sub(_fold_chinese_number, text)
    return text


# --- numbers ---------------------------------------------------------------------------------


def _find_numbers(text: str, phones: bool) -> list[Finding]:
    """Phone, ID card, bank card and long numbers in ``text`` (the detection text)."""
    findings: list[Finding] = []
    for run in _NUMBER_RUN.finditer(text):
        groups = [(m.start(), m.end()) for m in _DIGIT_GROUP.finditer(text, run.start(), run.end())]
        for first in range(len(groups)):
            if _after_decimal_point(text, groups[first][0]):
                continue
            digits = 0
            for last in range(first, min(len(groups), first + _MAX_GROUPS)):
                digits += groups[last][1] - groups[last][0]
                if digits > _MAX_NUMBER_DIGITS:
                    break
                if digits >= _MIN_NUMBER_DIGITS:
                    finding = _number(text, groups[first : last + 1])
                    if finding and (phones or finding.kind != PHONE):
                        findings.append(finding)
    return findings


def _after_decimal_point(text: str, start: int) -> bool:
    """Whether the digits at ``start`` are the fraction of a decimal number ("0.98765")."""
    return start >= 2 and text[start - 1] == "." and text[start - 2].isdigit()


def _number(text: str, groups: list[tuple[int, int]]) -> Finding | None:
    values = [text[start:end] for start, end in groups]
    start, end = groups[0][0], groups[-1][1]
    # Two groups joined by a bare dot, the first of at most three digits, are a decimal number
    # ("0.9876543210123456", "3.141592653589793"), unless they have a phone's layout.
    decimal = (
        len(groups) == 2
        and len(values[0]) <= _DECIMAL_INTEGER_DIGITS
        and text[groups[0][1] : groups[1][0]] == "."
    )
    check_x = text[end : end + 1] in ("x", "X") and not text[end + 1 : end + 2].isalpha()
    context = text[max(0, start - _CONTEXT_CHARS) : start]
    kind, value = _classify(values, check_x, context)
    if kind is None or (decimal and kind != PHONE):
        return None
    stop = end + (1 if value.endswith("X") else 0)
    return Finding(kind, start, stop, _number_mask(kind, value))


def _classify(groups: list[str], check_x: bool, context: str) -> tuple[str | None, str]:
    """The kind of a run of digit groups, and its value (digits joined, ``X`` appended)."""
    joined = "".join(groups)
    lengths = tuple(len(g) for g in groups)
    if len(joined) == 17 and check_x and id_card_valid(joined + "X"):
        return ID_CARD, joined + "X"
    if len(groups) == 1 and len(joined) == 17 and check_x:
        return LONG_NUMBER, joined + "X"
    if len(groups) == 1:
        if _PHONE_WITH_CODE.fullmatch(joined):
            return PHONE, joined
        if len(joined) == 18 and id_card_valid(joined):
            return ID_CARD, joined
        if len(joined) in _CARD_LENGTHS:
            return (BANK_CARD if luhn_valid(joined) else LONG_NUMBER), joined
        if any(word in context for word in _OLD_ID_CONTEXT) and old_id_card_valid(joined):
            return ID_CARD, joined
        return None, joined
    if _MERCHANT_ID_DIGITS in lengths:
        return None, joined  # a merchant id is never part of a longer number
    if _PHONE.fullmatch(joined) and (lengths in _PHONE_LAYOUTS or max(lengths) == 1):
        return PHONE, joined
    if len(joined) == 18 and id_card_valid(joined):
        return ID_CARD, joined
    if (
        len(joined) in _CARD_LENGTHS
        and lengths != _TWO_TERMINAL_IDS
        and joined[0] in _CARD_FIRST_DIGITS
        and luhn_valid(joined)
    ):
        return BANK_CARD, joined
    return None, joined


# --- secrets ---------------------------------------------------------------------------------


def _secret_at(text: str, position: int) -> Finding | None:
    """The secret value after a keyword ending at ``position`` (the detection text)."""
    filler = _SECRET_FILLER.match(text, position)
    if filler is None or len(filler.group()) > _MAX_FILLER_CHARS:
        return None
    strong = bool(_STRONG_CONNECTOR.search(filler.group()))
    start = filler.end()
    if text.startswith(SECRET_MASK, start):
        return Finding(SECRET, start, start + len(SECRET_MASK), SECRET_MASK)
    word_end = start
    word = _SECRET_WORD.match(text, start)
    if word:
        word_end = start + len(word.group().rstrip(_SECRET_WORD_TRAILING))
    code_end = _code_end(text, start)
    end = max(word_end, code_end)
    value = text[start:end]
    if not value or _CASE_ID.fullmatch(value) or value.lower() in _KEYWORD_VALUES:
        return None  # nothing, a case id, or another keyword ("密码、验证码、CVN")
    digits = sum(char.isdigit() for char in value)
    if code_end >= word_end or value.isdigit():
        if digits < _SECRET_MIN_DIGITS or digits == _MERCHANT_ID_DIGITS:
            return None
        if text[end : end + 1] in _QUANTITY_UNITS:
            return None  # an amount or a count ("验证码 500块就能解冻"), not a code
    elif not strong and (digits == 0 or len(value) < _SECRET_MIN_CHARS):
        return None
    return Finding(SECRET, start, end, SECRET_MASK)


def _code_end(text: str, start: int) -> int:
    """End of a code read out in digit groups at ``start`` (joined up to 8 digits)."""
    run = _NUMBER_RUN.match(text, start)
    if run is None:
        return start
    groups = list(_DIGIT_GROUP.finditer(text, start, run.end()))
    end = groups[0].end()
    digits = len(groups[0].group())
    for group in groups[1:]:
        digits += len(group.group())
        if digits > _SPACED_CODE_MAX_DIGITS:
            break
        end = group.end()
    return end


# --- the spaCy pipeline (secret keywords) ----------------------------------------------------


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
    """The spaCy pipeline that finds secret keywords, and the values after them."""

    def __init__(self) -> None:
        spacy = _load_spacy()
        from spacy.matcher import PhraseMatcher

        self.nlp = spacy.blank("zh")
        self.nlp.tokenizer = _Tokenizer(self.nlp.vocab)
        self.keywords = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self.keywords.add("SECRET_KEYWORD", [self.nlp.make_doc(k) for k in _SECRET_KEYWORDS])
        self.docs = 0

    def find_secrets(self, detection: str) -> list[Finding]:
        """Secret values in ``detection`` (the text folded by ``_detection_text``)."""
        doc = self.nlp(detection)
        self.docs += 1
        findings = []
        for _key, _start, end in self.keywords(doc):
            keyword_end = doc[end - 1].idx + len(doc[end - 1])
            finding = _secret_at(detection, keyword_end)
            if finding:
                findings.append(finding)
        return findings


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


_lock = threading.RLock()
_state = threading.local()
_detector: _Detector | None = None


def _detector_instance() -> _Detector:
    global _detector
    if _detector is None or _detector.docs >= _DOCS_PER_PIPELINE:
        _detector = _Detector()
    return _detector


def _find_secrets(detection: str) -> list[Finding]:
    if getattr(_state, "busy", False):
        return []  # a log line written while the pipeline runs or is built
    with _lock:
        _state.busy = True
        try:
            return _detector_instance().find_secrets(detection)
        finally:
            _state.busy = False


def find_pii(text: str, *, phones: bool = True) -> list[Finding]:
    """Every piece of personal data in ``text``, by position (``phones=False`` skips phones)."""
    detection = _detection_text(text or "")
    numbers = _find_numbers(detection, phones) if _LONG_DIGITS.search(detection) else []
    secrets = _find_secrets(detection) if _SECRET_HINT.search(detection) else []
    if not (numbers or secrets):
        return []
    return _non_overlapping(secrets, numbers)


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


#: Texts in which :func:`mask_pii` found nothing (the same bot replies, intent names and
#: questions recur in every conversation's events). Only texts without personal data are
#: kept, so the cache holds none, and only from a full check (not a log line written while the
#: secret detector runs in this thread, which it skips); it is emptied when full.
_PII_FREE: dict[str, None] = {}
PII_FREE_KEPT: Final = 8192
#: Longer texts are not kept (a pasted document).
PII_FREE_MAX_LENGTH: Final = 500


def mask_pii(text: str) -> str:
    """Masks secrets, ID card numbers, bank card numbers and mobile numbers in ``text``."""
    if text in _PII_FREE:
        return text
    findings = find_pii(text)
    if findings:
        return _apply(text, findings)
    checked_fully = not getattr(_state, "busy", False)
    if checked_fully and isinstance(text, str) and len(text) <= PII_FREE_MAX_LENGTH:
        if len(_PII_FREE) >= PII_FREE_KEPT:
            _PII_FREE.clear()
        _PII_FREE[text] = None
    return text


def contains_pii(text: str) -> bool:
    """Whether ``text`` holds anything :func:`mask_pii` would mask."""
    return bool(find_pii(text))


# Keys of serialised events whose values are names, ids or numbers, never free text.
_STRUCTURAL_KEYS: Final = frozenset(
    {"event", "timestamp", "message_id", "input_channel", "name", "policy", "entity", "extractor"}
)


def redact_value(value: Any) -> Any:
    """``value`` (JSON-like: str, list, dict, scalars) with every string and number masked.

    A number that holds personal data (``/inform{"phone_number": 13987650001}`` gives an int
    entity and slot value) becomes its masked text ("139****0001"); other numbers stay numbers.
    """
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, float) and 0.0 <= value <= 1.0:
        return value  # a confidence: one digit before the point, and digits after one stay
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
        masked = mask_pii(text)
        return value if masked == text else masked
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

    Every string and number in the event is masked (user and bot text, parse data, entity
    values, slot values of any type, buttons, metadata) except its structural fields (event
    type, names, timestamps, message id). Identifiers the bot needs (merchant, terminal and
    case ids) stay readable. The tracker store calls this on every event it saves.
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
