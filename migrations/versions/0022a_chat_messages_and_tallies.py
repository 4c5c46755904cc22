"""chat messages and tallies

The survey's messages in each respondent's chat (so /delete can delete them) and counts that
stand for no one. People screened out before this revision are turned into the
`screened_out` tally: their responses and pseudonyms are deleted.

Revision ID: 0022a
Revises: 0032a
Create Date: 2026-11-29 16:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022a"
down_revision: str | None = "0032a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_messages",
        sa.Column("response_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_chat_messages_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("response_id", "message_id", name=op.f("pk_chat_messages")),
    )
    tallies = op.create_table(
        "tallies",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tallies")),
    )
    screened = sa.text("SELECT count(*) FROM responses WHERE status = 'screened_out'")
    found = op.get_bind().scalar(screened) or 0
    if found:
        op.bulk_insert(tallies, [{"name": "screened_out", "count": found}])
        # The responses go too even where SQLite runs without foreign keys (no cascade).
        op.execute(
            "DELETE FROM respondents WHERE id IN "
            "(SELECT respondent_id FROM responses WHERE status = 'screened_out')"
            " AND NOT EXISTS (SELECT 1 FROM responses AS other WHERE other.respondent_id = respondents.id"
            " AND other.status != 'screened_out')"
        )
        op.execute("DELETE FROM responses WHERE status = 'screened_out'")


def downgrade() -> None:
    op.drop_table("tallies")
    op.drop_table("chat_messages")
