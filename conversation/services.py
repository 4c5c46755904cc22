"""What every handler needs, created once in build_application()."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.config import Settings
from core.i18n import I18n
from core.privacy import pseudonym
from research.weights import Targets
from survey.model import Questionnaire


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


@dataclass
class Services:
    """Settings, storage, catalogs and questionnaire shared by all handlers and jobs."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    i18n: I18n
    questionnaire: Questionnaire
    targets: Targets | None = None
    """Population margins for weighted figures (research/targets.yaml); None: unweighted only."""
    clock: Callable[[], datetime] = utc_now
    rng: random.Random = field(default_factory=random.SystemRandom)

    def pseudonym(self, telegram_user_id: int) -> str:
        """The keyed pseudonym that stands for a Telegram user in the database."""
        key = self.settings.pseudonym_key
        assert key is not None, "PSEUDONYM_KEY is checked at start"
        return pseudonym(key.get_secret_value(), telegram_user_id)

    def is_researcher(self, telegram_user_id: int) -> bool:
        return telegram_user_id in self.settings.researcher_ids
