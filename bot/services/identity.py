"""Identity rule: merchant id (or case id) plus the last four digits of the registered phone.

Guessing is limited per client and per merchant (docs/personal-data.md, "Identity"):

* **Client** (the conversation's sender id: a REST/widget session, a WeChat OpenID, a copilot
  call): ``MAX_VERIFY_FAILURES`` wrong answers within ``LOCKOUT_WINDOW`` end its attempts (the
  bot offers a human). The count is kept here, keyed by the sender id, so ``/restart``,
  ``/session_start`` or ``/back`` do not give new tries; a successful check starts it again.
* **Merchant**: ``MAX_FAILURES_PER_MERCHANT`` wrong answers within the window, from any clients,
  lock the merchant. While it is locked a wrong answer is refused with the lock message (and
  ends that client's attempt), but the *right* answer from a client that is not locked still
  verifies: a stranger guessing cannot lock the merchant out of its own status. So that this
  does not turn into unlimited guessing with ever new conversations, at
  ``HARD_FAILURES_PER_MERCHANT`` wrong answers within the window everything is refused (a
  human verifies by phone). Only answers that were compared count; refusals do not, so a
  locked client cannot keep a merchant locked by poking at it.

Every check is recorded in ``verification_attempts``. Counting and recording happen while the
client's and the merchant's rows in ``verification_locks`` are locked (see
``VerificationLockRepository``), so parallel checks are counted one after another: 40 at once
evaluate exactly as many guesses as 40 in a row. Lock-outs are logged as warnings.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Final

from sqlalchemy.orm import Session

from bot.domain_values import CASE_ID_RE, MERCHANT_ID_RE, mask_name, normalize_identifier
from bot.services.base import StoreService
from bot.store.models import Merchant
from bot.store.repositories import (
    CaseRepository,
    MerchantRepository,
    VerificationAttemptRepository,
    VerificationLockRepository,
)

logger = logging.getLogger(__name__)

MAX_VERIFY_FAILURES: Final = 3
MAX_FAILURES_PER_MERCHANT: Final = 10
HARD_FAILURES_PER_MERCHANT: Final = 50
LOCKOUT_WINDOW: Final = timedelta(hours=1)


class Outcome(str, Enum):
    """How an identity check ended (also stored in ``verification_attempts.outcome``)."""

    VERIFIED = "verified"
    MISMATCH = "mismatch"
    MERCHANT_LOCKED = "merchant_locked"
    CLIENT_LOCKED = "client_locked"


# Outcomes of answers that were compared with the phone and were wrong: these are counted.
COUNTED_FAILURES: Final = (Outcome.MISMATCH.value, Outcome.MERCHANT_LOCKED.value)
# A refusal without comparing (client locked, merchant past the hard limit): not counted.
REFUSED: Final = "refused"


@dataclass(frozen=True)
class VerifiedMerchant:
    """A merchant whose identity was proven."""

    merchant_id: str
    masked_name: str


@dataclass(frozen=True)
class IdentityCheck:
    """The outcome, the merchant when verified, and the client's failures in the window."""

    outcome: Outcome
    merchant: VerifiedMerchant | None = None
    client_failures: int = 0


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
    merchants = MerchantRepository(session)
    merchant = merchants.get(merchant_id) if merchant_id else None
    if merchant is None and case_id:
        case = CaseRepository(session).get(case_id)
        if case is not None:
            merchant = merchants.get(case.merchant_id)
    key = merchant.merchant_id if merchant else (merchant_id or case_id or raw_key)[:15]
    return key, merchant


def recent_failures(session: Session, merchant_key: str, now: datetime) -> int:
    """Counted failed checks for a merchant within the lock-out window."""
    return VerificationAttemptRepository(session).merchant_failures(
        merchant_key, since=now - LOCKOUT_WINDOW, outcomes=COUNTED_FAILURES
    )


def check_identity(
    session: Session,
    *,
    merchant_id: str | None,
    case_id: str | None,
    phone_last4: str,
    sender_id: str,
    now: datetime,
) -> IdentityCheck:
    """Checks the claim and records the attempt (see the module docstring for the limits).

    An unknown merchant or case and a wrong phone give the same answer, so that the bot does not
    tell which merchant ids exist. The caller commits: the lock rows stay locked until then.
    """
    key, merchant = _claimed_merchant(session, merchant_id, case_id)
    sender_id = sender_id[:255]
    VerificationLockRepository(session).lock([f"client:{sender_id}", f"merchant:{key}"], now=now)
    attempts = VerificationAttemptRepository(session)
    since = now - LOCKOUT_WINDOW
    client = attempts.client_state(sender_id, since=since, outcomes=COUNTED_FAILURES)
    if client.failures >= MAX_VERIFY_FAILURES or client.ended_by_lock:
        attempts.record(key, sender_id, REFUSED, now)
        return IdentityCheck(Outcome.CLIENT_LOCKED, client_failures=MAX_VERIFY_FAILURES)
    failures = recent_failures(session, key, now)
    if failures >= HARD_FAILURES_PER_MERCHANT:
        logger.warning(
            "Identity check refused: merchant %s is locked for everyone "
            "(%d failed checks within %s)",
            key,
            failures,
            LOCKOUT_WINDOW,
        )
        attempts.record(key, sender_id, REFUSED, now)
        return IdentityCheck(Outcome.MERCHANT_LOCKED, client_failures=MAX_VERIFY_FAILURES)
    matches = (
        merchant is not None
        and len(phone_last4) == 4
        and hmac.compare_digest(merchant.registered_phone[-4:], phone_last4)
    )
    if matches and merchant is not None:
        attempts.record(key, sender_id, Outcome.VERIFIED.value, now)
        return IdentityCheck(
            Outcome.VERIFIED, VerifiedMerchant(merchant.merchant_id, mask_name(merchant.name))
        )
    if failures >= MAX_FAILURES_PER_MERCHANT:
        logger.warning(
            "Identity check refused: merchant %s is locked (%d failed checks within %s)",
            key,
            failures,
            LOCKOUT_WINDOW,
        )
        attempts.record(key, sender_id, Outcome.MERCHANT_LOCKED.value, now)
        return IdentityCheck(Outcome.MERCHANT_LOCKED, client_failures=MAX_VERIFY_FAILURES)
    attempts.record(key, sender_id, Outcome.MISMATCH.value, now)
    if failures + 1 == MAX_FAILURES_PER_MERCHANT:
        logger.warning(
            "Merchant %s locked for %s after %d failed identity checks",
            key,
            LOCKOUT_WINDOW,
            MAX_FAILURES_PER_MERCHANT,
        )
    return IdentityCheck(Outcome.MISMATCH, client_failures=client.failures + 1)


class IdentityService(StoreService):
    """Identity checks (async, one transaction per check: the lock rows are held until the
    attempt is recorded)."""

    async def check(
        self,
        *,
        merchant_id: str | None,
        case_id: str | None,
        phone_last4: str,
        sender_id: str,
        now: datetime,
    ) -> IdentityCheck:
        """See :func:`check_identity`."""
        return await self.transaction(
            lambda session: check_identity(
                session,
                merchant_id=merchant_id,
                case_id=case_id,
                phone_last4=phone_last4,
                sender_id=sender_id,
                now=now,
            )
        )
