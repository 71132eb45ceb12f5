"""Identity rule: merchant id (or case id) plus the last four digits of the registered phone."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.domain_values import mask_name
from bot.store.repositories import CaseRepository, MerchantRepository

MAX_VERIFY_FAILURES = 3


@dataclass(frozen=True)
class VerifiedMerchant:
    """A merchant whose identity was proven."""

    merchant_id: str
    masked_name: str


def verify_identity(
    session: Session, *, merchant_id: str | None, case_id: str | None, phone_last4: str
) -> VerifiedMerchant | None:
    """Checks the claimed merchant (directly or through a case id) against the phone digits.

    An unknown merchant or case and a wrong phone give the same answer, so that the bot does not
    tell which merchant ids exist.

    Returns:
        The verified merchant, or ``None`` when the proof does not hold.
    """
    merchants = MerchantRepository(session)
    merchant = merchants.get(merchant_id) if merchant_id else None
    if merchant is None and case_id:
        case = CaseRepository(session).get(case_id)
        merchant = case.merchant if case is not None else None
    if merchant is None or len(phone_last4) != 4:
        return None
    if not hmac.compare_digest(merchant.registered_phone[-4:], phone_last4):
        return None
    return VerifiedMerchant(merchant.merchant_id, mask_name(merchant.name))
