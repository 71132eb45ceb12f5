"""Documents merchants send in the chat (photos, PDFs), attached to their case.

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(14), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("mime", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("missing_item", sa.String(200), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("uploader", sa.String(64), nullable=False),
    )
    for column in ("case_id", "sha256", "uploaded_at", "uploader"):
        op.create_index(f"ix_documents_{column}", "documents", [column])


def downgrade() -> None:
    op.drop_table("documents")
