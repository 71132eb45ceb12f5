"""Indexes of the operators' console: handoff tickets and bot-filed cases by date.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_kind_created", "tickets", ["kind", "created_at"])
    op.create_index("ix_cases_source_submitted", "cases", ["source", "submitted_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_source_submitted", table_name="cases")
    op.drop_index("ix_tickets_kind_created", table_name="tickets")
