"""researcher settings under their own derivation

researcher_settings was keyed by the researchers' respondent pseudonyms, so RESEARCHER_IDS and the
table formed (Telegram id, HMAC) pairs that test a guessed PSEUDONYM_KEY. The rows only hold a
language, and the migration has no key to re-key them with: they are dropped, and each researcher
picks the language again (/language) under core.privacy.researcher_pseudonym.

Revision ID: 0012a
Revises: 0003
Create Date: 2026-11-29 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012a"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM researcher_settings"))


def downgrade() -> None:
    """Nothing to restore: the dropped rows held only a language."""
