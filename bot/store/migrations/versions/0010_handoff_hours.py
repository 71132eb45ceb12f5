"""Handoff timings (pick-up, last agent answer, close) and after-hours requests.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff_timings",
        sa.Column("ticket_id", sa.String(14), sa.ForeignKey("tickets.ticket_id"), primary_key=True),
        sa.Column("picked_up_at", sa.DateTime(), nullable=True),
        sa.Column("last_agent_reply_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_handoff_timings_closed_at", "handoff_timings", ["closed_at"])
    op.create_table(
        "after_hours_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.String(14),
            sa.ForeignKey("tickets.ticket_id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("merchant_id", sa.String(15), nullable=True),
        sa.Column("callback_at", sa.DateTime(), nullable=True),
        sa.Column("phone", sa.String(11), nullable=True),
        sa.Column("message", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_after_hours_requests_sender_id", "after_hours_requests", ["sender_id"])
    op.create_index("ix_after_hours_requests_callback_at", "after_hours_requests", ["callback_at"])


def downgrade() -> None:
    op.drop_index("ix_after_hours_requests_callback_at", "after_hours_requests")
    op.drop_index("ix_after_hours_requests_sender_id", "after_hours_requests")
    op.drop_table("after_hours_requests")
    op.drop_index("ix_handoff_timings_closed_at", "handoff_timings")
    op.drop_table("handoff_timings")
