"""Status notifications: the outbox ``notifications`` and ``notification_opt_outs``.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(80), nullable=False, unique=True),
        sa.Column("case_event_id", sa.Integer(), sa.ForeignKey("case_events.id"), nullable=True),
        sa.Column("case_id", sa.String(14), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("merchant_id", sa.String(15), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("recipient_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("seen_at", sa.DateTime(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
    )
    for column in (
        "case_event_id",
        "case_id",
        "merchant_id",
        "channel",
        "recipient_key",
        "status",
        "next_attempt_at",
        "created_at",
    ):
        op.create_index(f"ix_notifications_{column}", "notifications", [column])
    op.create_table(
        "notification_opt_outs",
        sa.Column("subject", sa.String(80), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notification_opt_outs")
    op.drop_table("notifications")
