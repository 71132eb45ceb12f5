"""Agents' case-access audit and the messages the bot missed.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_access_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("merchant_id", sa.String(15), nullable=True),
        sa.Column("case_id", sa.String(14), nullable=True),
        sa.Column("accessed_at", sa.DateTime(), nullable=False),
    )
    for column in ("agent_id", "call_id", "merchant_id", "case_id", "accessed_at"):
        op.create_index(f"ix_case_access_audit_{column}", "case_access_audit", [column])
    op.create_table(
        "nlu_misses",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("guess", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_nlu_misses_sender_id", "nlu_misses", ["sender_id"])
    op.create_index("ix_nlu_misses_recorded_at", "nlu_misses", ["recorded_at"])


def downgrade() -> None:
    op.drop_table("nlu_misses")
    op.drop_table("case_access_audit")
