"""Identity rule: merchant id (or case id) plus the last four digits of the registered phone.

Guessing is limited twice: three wrong answers end one conversation's attempt (the form), and
``MAX_FAILURES_PER_MERCHANT`` wrong answers within ``LOCKOUT_WINDOW`` lock the merchant for
every conversation. Every check is recorded in ``verification_attempts``, and the lock-out is
logged as a warning for monitoring. Checks refused during a lock-out are recorded as failures
and count: the merchant stays locked until an hour passes with fewer than
``MAX_FAILURES_PER_MERCHANT`` failed or refused checks (fail closed while someone keeps trying).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain_values import CASE_ID_RE, MERCHANT_ID_RE, mask_name, normalize_identifier
from bot.store.models import Merchant, VerificationAttempt
from bot.store.repositories import CaseRepository, MerchantRepository

logger = logging.getLogger(__name__)

MAX_VERIFY_FAILURES: Final = 3
MAX_FAILURES_PER_MERCHANT: Final = 10
LOCKOUT_WINDOW: Final = timedelta(hours=1)


class Outcome(str, Enum):
    """How an identity check ended."""

    VERIFIED = "verified"
    MISMATCH = "mismatch"
    MERCHANT_LOCKED = "merchant_locked"


@dataclass(frozen=True)
class VerifiedMerchant:
    """A merchant whose identity was proven."""

    merchant_id: str
    masked_name: str


@dataclass(frozen=True)
class IdentityCheck:
    """The outcome, and the merchant when verified."""

    outcome: Outcome
    merchant: VerifiedMerchant | None = None


def canonical_claim(merchant_id: object, case_id: object) -> tuple[str | None, str | None]:
    """The claimed ids as the store writes them (``JC`` upper case, half width, no spaces).

    An id of the wrong form is dropped: it can belong to nobody. A case id filed in the chat
    and one imported from the back office are then checked the same way, however typed.
    """
    merchant = normalize_identifier(merchant_id)
    case = normalize_identifier(case_id)
    return (
        merchant if MERCHANT_ID_RE.match(merchant) else None,
        case if CASE_ID_RE.match(case) else None,
    )


def _claimed_merchant(
    session: Session, merchant_id: str | None, case_id: str | None
) -> tuple[str, Merchant | None]:
    raw_key = normalize_identifier(merchant_id or case_id)
    merchant_id, case_id = canonical_claim(merchant_id, case_id)
    merchant = MerchantRepository(session).get(merchant_id) if merchant_id else None
    if merchant is None and case_id:
        case = CaseRepository(session).get(case_id)
        if case is not None:
            merchant = case.merchant
    key = merchant.merchant_id if merchant else (merchant_id or case_id or raw_key)[:15]
    return key, merchant


def recent_failures(session: Session, merchant_key: str, now: datetime) -> int:
    """Failed checks for a merchant within the lock-out window."""
    return session.execute(
        select(func.count())
        .select_from(VerificationAttempt)
        .where(
            VerificationAttempt.merchant_key == merchant_key,
            VerificationAttempt.succeeded.is_(False),
            VerificationAttempt.attempted_at > now - LOCKOUT_WINDOW,
        )
    ).scalar_one()


def check_identity(
    session: Session,
    *,
    merchant_id: str | None,
    case_id: str | None,
    phone_last4: str,
    sender_id: str,
    now: datetime,
) -> IdentityCheck:
    """Checks the claim and records the attempt.

    An unknown merchant or case and a wrong phone give the same answer, so that the bot does not
    tell which merchant ids exist. A locked merchant is refused even with the right digits.
    """
    key, merchant = _claimed_merchant(session, merchant_id, case_id)
    failures = recent_failures(session, key, now)
    if failures >= MAX_FAILURES_PER_MERCHANT:
        logger.warning(
            "Identity check refused: merchant %s is locked (%d failed checks within %s)",
            key,
            failures,
            LOCKOUT_WINDOW,
        )
        session.add(VerificationAttempt(merchant_key=key, sender_id=sender_id[:255],
                                        succeeded=False, attempted_at=now))  # fmt: skip
        return IdentityCheck(Outcome.MERCHANT_LOCKED)
    matches = (
        merchant is not None
        and len(phone_last4) == 4
        and hmac.compare_digest(merchant.registered_phone[-4:], phone_last4)
    )
    session.add(VerificationAttempt(merchant_key=key, sender_id=sender_id[:255],
                                    succeeded=matches, attempted_at=now))  # fmt: skip
    if not matches:
        if failures + 1 == MAX_FAILURES_PER_MERCHANT:
            logger.warning(
                "Merchant %s locked for %s after %d failed identity checks",
                key,
                LOCKOUT_WINDOW,
                MAX_FAILURES_PER_MERCHANT,
            )
        return IdentityCheck(Outcome.MISMATCH)
    return IdentityCheck(
        Outcome.VERIFIED, VerifiedMerchant(merchant.merchant_id, mask_name(merchant.name))
    )
