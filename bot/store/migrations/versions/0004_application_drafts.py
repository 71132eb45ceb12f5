"""Application drafts: the full contact phone until the application is filed.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "application_drafts",
        sa.Column("sender_id", sa.String(255), primary_key=True),
        sa.Column("contact_phone", sa.String(11), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_application_drafts_updated_at", "application_drafts", ["updated_at"])


def downgrade() -> None:
    op.drop_table("application_drafts")
