"""The load merchants in a real SQLite case store: importable, verifiable, idempotent."""

from __future__ import annotations

from bot.services.cases import lookup_for_merchant
from bot.services.identity import Outcome, check_identity
from bot.store.seed import seed_demo_data
from load.merchants import load_merchant, load_merchants
from load.seed import seed_load_merchants
from tests.conftest import NOW


def test_load_merchants_verify_and_show_their_own_case(store, calendar):
    seed_demo_data(store, now=NOW)
    first = seed_load_merchants(store, load_merchants(3), now=NOW)
    assert (first.merchants_created, first.cases_created) == (3, 3)
    merchant = load_merchant(2)
    with store.session() as session:
        identity = check_identity(
            session,
            merchant_id=merchant.merchant_id,
            case_id=None,
            phone_last4=merchant.phone_last4,
            sender_id="load-test",
            now=NOW,
        )
        lookup = lookup_for_merchant(
            session, merchant_id=merchant.merchant_id, calendar=calendar, today=NOW.date()
        )
    assert identity.outcome is Outcome.VERIFIED
    assert lookup.case.case_id == merchant.case_id
    assert lookup.terminal.terminal_id == merchant.terminal_id
    again = seed_load_merchants(store, load_merchants(3), now=NOW)
    assert (again.cases_created, again.cases_unchanged, again.merchants_created) == (0, 3, 0)


def test_merchant_identifiers_follow_the_contract_and_stay_apart():
    first, last = load_merchant(1), load_merchant(9999)
    assert (len(first.merchant_id), len(first.terminal_id), len(first.case_id)) == (15, 8, 14)
    assert first.phone_last4 == "0001" and last.phone_last4 == "9999"
    assert len({m.merchant_id for m in load_merchants(50)}) == 50
