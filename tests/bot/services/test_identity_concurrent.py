"""Issue 11, item 5: identity checks are counted atomically, per client and per merchant.

Real threads, each with its own session, against a store migrated with Alembic: a SQLite file
and PostgreSQL (skipped when PostgreSQL is not reachable; in CI, CI=true, that fails instead).
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from bot.services.identity import (
    HARD_FAILURES_PER_MERCHANT,
    MAX_FAILURES_PER_MERCHANT,
    MAX_VERIFY_FAILURES,
    IdentityCheck,
    Outcome,
    check_identity,
)
from bot.store.database import CaseStore
from bot.store.models import VerificationAttempt
from tests.security.concurrency import NOW, in_parallel

ZHANG, ZHANG_LAST4 = "898310058121234", "5678"
PARALLEL = 40


def check(store: CaseStore, sender: str, last4: str, merchant_id: str = ZHANG) -> IdentityCheck:
    with store.session() as session:
        return check_identity(
            session,
            merchant_id=merchant_id,
            case_id=None,
            phone_last4=last4,
            sender_id=sender,
            now=NOW,
        )


def outcomes(results: list[IdentityCheck]) -> Counter:
    return Counter(result.outcome for result in results)


def stored_outcomes(store: CaseStore) -> Counter:
    with store.session() as session:
        rows = session.execute(
            select(VerificationAttempt.outcome, func.count()).group_by(VerificationAttempt.outcome)
        )
        return Counter(dict(rows.all()))


def test_forty_parallel_wrong_checks_evaluate_exactly_ten(migrated_store):
    results = in_parallel(PARALLEL, lambda n: check(migrated_store, f"guesser-{n}", f"{n:04d}"))

    assert outcomes(results) == {
        Outcome.MISMATCH: MAX_FAILURES_PER_MERCHANT,
        Outcome.MERCHANT_LOCKED: PARALLEL - MAX_FAILURES_PER_MERCHANT,
    }
    assert stored_outcomes(migrated_store) == {
        "mismatch": MAX_FAILURES_PER_MERCHANT,
        "merchant_locked": PARALLEL - MAX_FAILURES_PER_MERCHANT,
    }
    # Locked by others, the merchant still verifies from a client that is not locked.
    verified = check(migrated_store, "the-owner", ZHANG_LAST4)
    assert verified.outcome is Outcome.VERIFIED
    assert verified.merchant.merchant_id == ZHANG
    # A client refused by the merchant's lock has no more tries; one with a counted mismatch
    # before the lock still has its own.
    refused = next(n for n, r in enumerate(results) if r.outcome is Outcome.MERCHANT_LOCKED)
    counted = next(n for n, r in enumerate(results) if r.outcome is Outcome.MISMATCH)
    assert check(migrated_store, f"guesser-{refused}", ZHANG_LAST4).outcome is (
        Outcome.CLIENT_LOCKED
    )
    assert check(migrated_store, f"guesser-{counted}", ZHANG_LAST4).outcome is Outcome.VERIFIED


def test_parallel_wrong_checks_of_one_client_evaluate_exactly_three(migrated_store):
    # Against different merchants, so that only the client's own limit applies.
    merchants = ["898310058125555", "898310058126666", "898310058127777", "898310058128888"]
    results = in_parallel(
        PARALLEL,
        lambda n: check(migrated_store, "one-client", "0000", merchants[n % len(merchants)]),
    )

    assert outcomes(results) == {
        Outcome.MISMATCH: MAX_VERIFY_FAILURES,
        Outcome.CLIENT_LOCKED: PARALLEL - MAX_VERIFY_FAILURES,
    }
    assert stored_outcomes(migrated_store) == {
        "mismatch": MAX_VERIFY_FAILURES,
        "refused": PARALLEL - MAX_VERIFY_FAILURES,
    }
    # The right answer does not help a locked client.
    assert check(migrated_store, "one-client", ZHANG_LAST4).outcome is Outcome.CLIENT_LOCKED


def test_past_the_hard_limit_nothing_is_compared_even_in_parallel(migrated_store):
    count = HARD_FAILURES_PER_MERCHANT + 10
    results = in_parallel(count, lambda n: check(migrated_store, f"swarm-{n}", f"{n:04d}"))

    assert outcomes(results) == {
        Outcome.MISMATCH: MAX_FAILURES_PER_MERCHANT,
        Outcome.MERCHANT_LOCKED: count - MAX_FAILURES_PER_MERCHANT,
    }
    assert stored_outcomes(migrated_store) == {
        "mismatch": MAX_FAILURES_PER_MERCHANT,
        "merchant_locked": HARD_FAILURES_PER_MERCHANT - MAX_FAILURES_PER_MERCHANT,
        "refused": count - HARD_FAILURES_PER_MERCHANT,
    }
    assert check(migrated_store, "the-owner", ZHANG_LAST4).outcome is Outcome.MERCHANT_LOCKED
