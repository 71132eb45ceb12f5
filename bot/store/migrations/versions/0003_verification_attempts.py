"""Identity checks, for the per-merchant brute-force limit.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("merchant_key", sa.String(15), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_verification_attempts_sender_id", "verification_attempts", ["sender_id"])
    op.create_index(
        "ix_verification_attempts_key_time",
        "verification_attempts",
        ["merchant_key", "attempted_at"],
    )


def downgrade() -> None:
    op.drop_table("verification_attempts")
