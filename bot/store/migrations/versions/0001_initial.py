"""Merchants, terminals, cases, case history and tickets.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("merchant_id", sa.String(15), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("registered_phone", sa.String(11), nullable=False),
    )
    op.create_table(
        "terminals",
        sa.Column("terminal_id", sa.String(8), primary_key=True),
        sa.Column(
            "merchant_id", sa.String(15), sa.ForeignKey("merchants.merchant_id"), nullable=False
        ),
        sa.Column("pos_type", sa.String(16), nullable=True),
        sa.Column("suspension_reason", sa.String(32), nullable=True),
        sa.Column("suspended_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_terminals_merchant_id", "terminals", ["merchant_id"])
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(14), primary_key=True),
        sa.Column(
            "merchant_id", sa.String(15), sa.ForeignKey("merchants.merchant_id"), nullable=False
        ),
        sa.Column(
            "terminal_id", sa.String(8), sa.ForeignKey("terminals.terminal_id"), nullable=False
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("suspension_reason", sa.String(32), nullable=True),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=False),
        sa.Column("missing_documents", sa.Text(), nullable=False),
        sa.Column("contact_phone", sa.String(11), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_index("ix_cases_merchant_id", "cases", ["merchant_id"])
    op.create_index("ix_cases_terminal_id", "cases", ["terminal_id"])
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_index("ix_cases_terminal_status", "cases", ["terminal_id", "status"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(14), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "tickets",
        sa.Column("ticket_id", sa.String(14), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("case_id", sa.String(14), sa.ForeignKey("cases.case_id"), nullable=True),
        sa.Column(
            "merchant_id", sa.String(15), sa.ForeignKey("merchants.merchant_id"), nullable=True
        ),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    for column in ("kind", "case_id", "merchant_id", "sender_id", "status"):
        op.create_index(f"ix_tickets_{column}", "tickets", [column])


def downgrade() -> None:
    for table in ("tickets", "case_events", "cases", "terminals", "merchants"):
        op.drop_table(table)
