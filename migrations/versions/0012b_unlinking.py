"""unlinking: participation hashes, and responses that outlive their respondent

Revision ID: 0012b
Revises: 0012a
Create Date: 2026-11-29 16:31:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012b"
down_revision: str | None = "0012a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_participants")),
    )
    with op.batch_alter_table("respondents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("participant_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.alter_column("respondent_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM responses WHERE respondent_id IS NULL"))
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.alter_column("respondent_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("respondents", schema=None) as batch_op:
        batch_op.drop_column("participant_hash")
    op.drop_table("participants")
