"""repeat flag and erasure markers

/delete leaves a keyed marker of who erased (no answer, the UTC day until which it is kept), and a
response started while that person's marker is kept is flagged `repeat`. Existing responses are
not repeats: no erasure before this revision left anything to tell.

Revision ID: 0014a
Revises: 0022a
Create Date: 2026-11-29 19:02:18
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014a"
down_revision: str | None = "0022a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasure_markers",
        sa.Column("marker", sa.String(length=64), nullable=False),
        sa.Column("kept_until", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("marker", name=op.f("pk_erasure_markers")),
    )
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repeat", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("repeat")
    op.drop_table("erasure_markers")
