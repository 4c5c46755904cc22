"""What every handler needs, created once in build_application()."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core import privacy
from core.config import Settings
from core.i18n import I18n
from db.engine import read_session_factory
from db.repo import HeldMessage
from survey.model import Questionnaire
from survey.targets import Targets

PARTICIPANT_CACHE_SIZE = 10_000
"""Participation hashes kept in memory (never stored), so one person costs one scrypt per process."""
HASH_NICENESS = 10
"""How much lower the hashing threads' CPU priority is than the event loop's: a crowd's new arrivals
wait for their hash, the replies to everyone already answering do not wait behind it."""
UNNOTED_SIZE = 10_000
"""Sent-but-unnoted question messages kept in memory (see Services.note_later), newest last."""


def _lower_priority() -> None:
    """Give this thread HASH_NICENESS (on Linux a thread's niceness is its own)."""
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


def _hashing_threads() -> ThreadPoolExecutor:
    """The threads that compute participation hashes: one per core, below the event loop's priority
    (started at the first hash)."""
    return ThreadPoolExecutor(os.cpu_count(), "participation-hash", initializer=_lower_priority)


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
    """Population margins for weighted figures (survey/targets.yaml); None: unweighted only."""
    clock: Callable[[], datetime] = utc_now
    rng: random.Random = field(default_factory=random.SystemRandom)
    _participant_hashes: OrderedDict[str, str] = field(default_factory=OrderedDict)
    _hashing: ThreadPoolExecutor = field(default_factory=_hashing_threads)
    _unnoted: OrderedDict[str, HeldMessage] = field(default_factory=OrderedDict)

    async def close(self) -> None:
        """Close the database pool and stop the hashing threads."""
        await self.engine.dispose()
        self._hashing.shutdown(wait=False, cancel_futures=True)

    def note_later(self, pseudonym: str, question: HeldMessage) -> None:
        """Hold the id of a question sent (one that shows no answer) for the person's next turn in
        this process, which stores it with its own statements (take_unnoted)."""
        self._unnoted.pop(pseudonym, None)
        self._unnoted[pseudonym] = question
        while len(self._unnoted) > UNNOTED_SIZE:
            self._unnoted.popitem(last=False)

    def take_unnoted(self, pseudonym: str) -> HeldMessage | None:
        """The question message held by note_later for this person, forgotten here."""
        return self._unnoted.pop(pseudonym, None)

    @cached_property
    def reads(self) -> async_sessionmaker[AsyncSession]:
        """Sessions that only read (researchers' figures, the digest's): they never hold answers back."""
        return read_session_factory(self.engine)

    @property
    def keys(self) -> list[str]:
        """PSEUDONYM_KEY, then PSEUDONYM_KEY_OLD while a rotation is under way."""
        keys = [self.settings.pseudonym_key, self.settings.pseudonym_key_old]
        return [key.get_secret_value() for key in keys if key is not None and key.get_secret_value()]

    def pseudonym(self, telegram_user_id: int) -> str:
        """The keyed pseudonym that stands for a Telegram user in the database."""
        assert self.keys, "PSEUDONYM_KEY is checked at start"
        return privacy.pseudonym(self.keys[0], telegram_user_id)

    def old_pseudonym(self, telegram_user_id: int) -> str | None:
        """The pseudonym under PSEUDONYM_KEY_OLD, while a rotation is under way."""
        return privacy.pseudonym(self.keys[1], telegram_user_id) if len(self.keys) > 1 else None

    def researcher_pseudonym(self, telegram_user_id: int) -> str:
        """The pseudonym of a researcher's settings (a derivation of its own)."""
        return privacy.researcher_pseudonym(self.keys[0], telegram_user_id)

    async def participant_hashes(self, telegram_user_id: int) -> list[str]:
        """The participation hash under each key (current first), computed off the event loop at a
        lower priority (each costs about 0.1 s of a core: core.privacy.SCRYPT_COST)."""
        found = []
        for key in self.keys:
            cache_key = privacy.pseudonym(key, telegram_user_id)
            value = self._participant_hashes.pop(cache_key, None)
            if value is None:
                loop = asyncio.get_running_loop()
                value = await loop.run_in_executor(
                    self._hashing, privacy.participant_hash, key, telegram_user_id
                )
            self._participant_hashes[cache_key] = value
            found.append(value)
        while len(self._participant_hashes) > PARTICIPANT_CACHE_SIZE:
            self._participant_hashes.popitem(last=False)
        return found

    def erasure_markers(self, participation_hashes: Sequence[str]) -> list[str]:
        """The erasure marker under each key (current first), from the hashes participant_hashes gave."""
        return [privacy.erasure_marker(k, h) for k, h in zip(self.keys, participation_hashes, strict=False)]

    def is_researcher(self, telegram_user_id: int) -> bool:
        return telegram_user_id in self.settings.researcher_ids
