"""One open case per terminal, case ids from a counter, identity-check locks and outcomes,
filed drafts.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Written out: a migration must not change when the application's constants do.
OPEN_CASE_WHERE = sa.text("status IN ('submitted', 'under_review', 'needs_documents')")


def _refuse_duplicate_open_cases() -> None:
    """Stops with the terminals to fix when the store already has two open cases for one."""
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT terminal_id, COUNT(*) FROM cases WHERE "
                + str(OPEN_CASE_WHERE)
                + " GROUP BY terminal_id HAVING COUNT(*) > 1 ORDER BY terminal_id"
            )
        )
        .all()
    )
    if rows:
        listed = ", ".join(f"{terminal} ({count} open)" for terminal, count in rows)
        raise RuntimeError(
            "cannot add the one-open-case-per-terminal index: close the extra open cases of "
            f"these terminals first (import their real status): {listed}"
        )


def upgrade() -> None:
    _refuse_duplicate_open_cases()
    op.create_index(
        "uq_cases_open_terminal",
        "cases",
        ["terminal_id"],
        unique=True,
        sqlite_where=OPEN_CASE_WHERE,
        postgresql_where=OPEN_CASE_WHERE,
    )
    op.create_table(
        "case_id_counters",
        sa.Column("day_prefix", sa.String(10), primary_key=True),
        sa.Column("last_value", sa.Integer(), nullable=False),
    )
    op.create_table(
        "verification_locks",
        sa.Column("lock_key", sa.String(270), primary_key=True),
        sa.Column("touched_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_verification_locks_touched_at", "verification_locks", ["touched_at"])
    with op.batch_alter_table("application_drafts") as batch:
        batch.add_column(sa.Column("case_id", sa.String(14), nullable=True))
    with op.batch_alter_table("verification_attempts") as batch:
        batch.add_column(
            sa.Column("outcome", sa.String(16), nullable=False, server_default="mismatch")
        )
    op.execute("UPDATE verification_attempts SET outcome = 'verified' WHERE succeeded")


def downgrade() -> None:
    with op.batch_alter_table("verification_attempts") as batch:
        batch.drop_column("outcome")
    with op.batch_alter_table("application_drafts") as batch:
        batch.drop_column("case_id")
    op.drop_table("verification_locks")
    op.drop_table("case_id_counters")
    op.drop_index("uq_cases_open_terminal", table_name="cases")
