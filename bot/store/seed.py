"""Demo data: one merchant per situation the bot handles (docs/operators.md, "Demo merchants").

Dates are relative to today so that "on time" and "overdue" stay true whenever the demo runs.
The rows go through the CSV importer, so the demo data obeys the same contract as real exports.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import china_now
from bot.store.database import CaseStore
from bot.store.importer import COLUMNS, ImportResult, import_cases_text


@dataclass(frozen=True)
class DemoTerminal:
    """One demo row: a merchant's terminal and, optionally, its application."""

    merchant_id: str
    merchant_name: str
    phone: str
    terminal_id: str
    pos_type: str
    reason: str
    suspended_days_ago: int
    status: str = ""
    submitted_days_ago: int = 0
    sequence: int = 0
    rejection_reason: str = ""
    missing_documents: str = ""
    story: str = ""


DEMO_TERMINALS: tuple[DemoTerminal, ...] = (
    DemoTerminal(
        "898310058121234",
        "张记便利店",
        "13812345678",
        "60013452",
        "e_sign",
        "license_expired",
        6,
        "under_review",
        1,
        1,
        story="审核中，未超期",
    ),
    DemoTerminal(
        "898310058125555",
        "李氏水果店",
        "13900001111",
        "60020001",
        "traditional",
        "account_arrears",
        40,
        "under_review",
        30,
        2,
        story="审核中，已超期（可催办）",
    ),
    DemoTerminal(
        "898310058126666",
        "王记川菜馆",
        "13700002222",
        "60030001",
        "smart",
        "risk_control",
        20,
        "rejected",
        15,
        3,
        rejection_reason="交易情况说明材料不全，缺少相关交易的进货单据",
        story="已驳回（材料不全）",
    ),
    DemoTerminal(
        "898310058127777",
        "赵家五金店",
        "13600003333",
        "60040001",
        "traditional",
        "settlement_account_change",
        10,
        "needs_documents",
        4,
        4,
        missing_documents="结算账户变更证明;法人身份证正反面照片",
        story="待补充材料",
    ),
    DemoTerminal(
        "898310058128888",
        "孙氏烘焙坊",
        "13500004444",
        "60050001",
        "smart",
        "account_arrears",
        25,
        "approved",
        12,
        5,
        story="已通过",
    ),
    DemoTerminal(
        "898310058129999",
        "周记数码",
        "13400005555",
        "60060001",
        "traditional",
        "account_dispute",
        3,
        story="两台终端：一台停用未申请",
    ),
    DemoTerminal(
        "898310058129999",
        "周记数码",
        "13400005555",
        "60060002",
        "e_sign",
        "network",
        5,
        "submitted",
        0,
        6,
        story="两台终端：一台刚提交",
    ),
    DemoTerminal(
        "898310058120000",
        "吴家小卖部",
        "15800006666",
        "60070001",
        "e_sign",
        "other",
        8,
        story="停用，尚未申请",
    ),
)


def demo_csv(now: datetime) -> str:
    """The demo rows as a CSV export dated relative to ``now``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in DEMO_TERMINALS:
        suspended = (now - timedelta(days=row.suspended_days_ago)).replace(
            hour=9, minute=0, second=0
        )
        case_id = submitted = updated = ""
        if row.status:
            submitted_at = (now - timedelta(days=row.submitted_days_ago)).replace(
                hour=10, minute=30, second=0
            )
            if submitted_at > now:
                submitted_at = now
            case_id = f"JC{submitted_at:%Y%m%d}{row.sequence:04d}"
            submitted = submitted_at.isoformat()
            closed = row.status in ("approved", "rejected")
            updated = (now if closed else submitted_at).isoformat()
        writer.writerow(
            {
                "case_id": case_id,
                "merchant_id": row.merchant_id,
                "merchant_name": row.merchant_name,
                "registered_phone": row.phone,
                "terminal_id": row.terminal_id,
                "pos_type": row.pos_type,
                "suspension_reason": row.reason,
                "suspended_at": suspended.isoformat(),
                "status": row.status,
                "submitted_at": submitted,
                "updated_at": updated,
                "rejection_reason": row.rejection_reason,
                "missing_documents": row.missing_documents,
            }[column]
            for column in COLUMNS
        )
    return buffer.getvalue()


def seed_demo_data(store: CaseStore, now: datetime | None = None) -> ImportResult:
    """Loads the demo merchants, terminals and cases (idempotent for the same day)."""
    moment = now or china_now()
    return import_cases_text(store, demo_csv(moment), now=moment)
