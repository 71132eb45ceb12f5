"""Answer feedback (helpful / not helpful) and satisfaction ratings of human conversations.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("intent", sa.String(64), nullable=False),
        sa.Column("response", sa.String(128), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("masked_text", sa.Text(), nullable=False),
        sa.Column("sender_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    for column in ("intent", "response", "sender_hash", "created_at"):
        op.create_index(f"ix_answer_feedback_{column}", "answer_feedback", [column])
    op.create_table(
        "satisfaction_ratings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sender_hash", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    for column in ("sender_hash", "agent_id", "created_at"):
        op.create_index(f"ix_satisfaction_ratings_{column}", "satisfaction_ratings", [column])


def downgrade() -> None:
    op.drop_table("satisfaction_ratings")
    op.drop_table("answer_feedback")
