"""Canonical values fixed by the project contract (see shared/domain.md)."""

from __future__ import annotations

import re
from typing import Final

SUSPENSION_REASONS: Final = (
    "system_maintenance",
    "account_arrears",
    "account_dispute",
    "violation",
    "risk_control",
    "hardware_fault",
    "network",
    "license_expired",
    "settlement_account_change",
    "other",
)

POS_TYPES: Final = ("traditional", "e_sign", "smart")

WITHDRAWN: Final = "withdrawn"
CASE_STATUSES: Final = (
    "submitted",
    "under_review",
    "needs_documents",
    "approved",
    "rejected",
    WITHDRAWN,  # the merchant cancelled: closes the case like approved and rejected
)
OPEN_CASE_STATUSES: Final = ("submitted", "under_review", "needs_documents")

MERCHANT_ID_RE: Final = re.compile(r"^[0-9]{15}$")
TERMINAL_ID_RE: Final = re.compile(r"^[0-9]{8}$")
CASE_ID_RE: Final = re.compile(r"^JC[0-9]{12}$")
PHONE_RE: Final = re.compile(r"^1[3-9][0-9]{9}$")
PHONE_LAST4_RE: Final = re.compile(r"^[0-9]{4}$")

_WIDTH_TABLE: Final = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# Four or more Chinese digits in a row are an identifier read out digit by digit.
_CHINESE_DIGITS: Final = str.maketrans("零〇一幺二两三四五六七八九", "0011223456789")
_CHINESE_DIGIT_RUN: Final = re.compile(r"[零〇一幺二两三四五六七八九]{4,}")


def to_half_width(text: str) -> str:
    """Folds full-width ASCII (８９８, ＪＣ) and the ideographic space to half width."""
    return text.translate(_WIDTH_TABLE)


def fold_chinese_digit_runs(text: str) -> str:
    """Runs of four or more Chinese digits (尾号五六七八) as digits, character for character."""
    return _CHINESE_DIGIT_RUN.sub(lambda m: m.group().translate(_CHINESE_DIGITS), text)


def normalize_identifier(value: object) -> str:
    """Normalises an identifier typed by a user: half width, no spaces or dashes, upper case.

    Args:
        value: the raw entity or slot value (may be ``None`` or a number).

    Returns:
        The cleaned identifier, or an empty string for ``None``.
    """
    if value is None:
        return ""
    text = to_half_width(str(value)).strip()
    return re.sub(r"[\s\-－—_]", "", text).upper()


def mask_phone(phone: str | None) -> str:
    """Masks a mobile number as 138****5678."""
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def mask_name(name: str | None) -> str:
    """Masks a merchant name, keeping its first and last characters (张**店)."""
    if not name:
        return ""
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
