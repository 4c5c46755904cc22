"""digest published figures

The figures each digest showed, so that the next one can compare with them and show them
again exactly when they must not move.

Revision ID: 0032a
Revises: 0012b
Create Date: 2026-11-29 16:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032a"
down_revision: str | None = "0012b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("digest_posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digest_posts", schema=None) as batch_op:
        batch_op.drop_column("published")
