"""Writes the load-test merchants into a case store through the CSV importer (idempotent)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from bot.clock import china_now
from bot.store.database import CaseStore
from bot.store.importer import COLUMNS, ImportResult, import_cases_text
from load.merchants import CASE_STATUS, POS_TYPE, SUSPENSION_REASON, LoadMerchant

SUSPENDED_DAYS_AGO = 6
SUBMITTED_DAYS_AGO = 1


def merchants_csv(merchants: list[LoadMerchant], now: datetime) -> str:
    """The merchants as a case export (CSV contract), dated relative to ``now``."""
    suspended = (now - timedelta(days=SUSPENDED_DAYS_AGO)).replace(microsecond=0)
    submitted = (now - timedelta(days=SUBMITTED_DAYS_AGO)).replace(microsecond=0)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for merchant in merchants:
        writer.writerow(
            {
                "case_id": merchant.case_id,
                "merchant_id": merchant.merchant_id,
                "merchant_name": merchant.merchant_name,
                "registered_phone": merchant.phone,
                "terminal_id": merchant.terminal_id,
                "pos_type": POS_TYPE,
                "suspension_reason": SUSPENSION_REASON,
                "suspended_at": suspended.isoformat(),
                "status": CASE_STATUS,
                "submitted_at": submitted.isoformat(),
                "updated_at": submitted.isoformat(),
                "rejection_reason": "",
                "missing_documents": "",
            }
        )
    return buffer.getvalue()


def seed_load_merchants(
    store: CaseStore, merchants: list[LoadMerchant], now: datetime | None = None
) -> ImportResult:
    """Upserts the merchants, their terminals and cases into ``store``."""
    moment = now or china_now()
    return import_cases_text(store, merchants_csv(merchants, moment), now=moment)
