"""Content store: operators' live reply texts and operator facts, with their audit.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_overrides",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "content_edits",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("old_text", sa.Text(), nullable=True),
        sa.Column("new_text", sa.Text(), nullable=True),
        sa.Column("operator_id", sa.String(64), nullable=False),
        sa.Column("edited_at", sa.DateTime(), nullable=False),
        sa.Column("reverts_edit_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_content_edits_item", "content_edits", ["kind", "name", "id"])


def downgrade() -> None:
    op.drop_index("ix_content_edits_item", table_name="content_edits")
    op.drop_table("content_edits")
    op.drop_table("content_overrides")
