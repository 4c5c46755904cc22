"""Quality flags of completed responses: speeders, told apart by the time they took, and repeats.

A speeder completed in under `fraction` (a third, SPEEDER_FRACTION) of the median time of completed
responses. A repeat was started by someone who had erased a response less than UNLINK_AFTER_DAYS
before (db.models.ErasureMarker): their earlier answers are gone, so it is their only response, and
who they are is never known. Flags are counted by the database; weighted figures leave speeders out
unless WEIGHT_SPEEDERS is set, and keep repeats unless WEIGHT_REPEATS is false.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from db import stats
from db.stats import COMPLETED, Scope


@dataclass(frozen=True)
class Speeders:
    """The speed below which a completed response is a speeder, and how many are."""

    seconds: float | None
    count: int

    def flag(self, duration: float | None) -> int | None:
        """1 for a speeder, 0 for anyone else who completed, None without a duration."""
        if duration is None:
            return None
        return int(self.seconds is not None and duration < self.seconds)

    def without(self, scope: Scope = COMPLETED) -> Scope:
        """The responses of `scope` that are not speeders."""
        return scope if self.seconds is None else replace(scope, min_seconds=self.seconds)


async def speeders(session: AsyncSession, fraction: float, scope: Scope = COMPLETED) -> Speeders:
    """The speeder threshold (`fraction` of the median time) and the number under it, in `scope`."""
    median = await stats.median_duration(session, scope)
    if median is None:
        return Speeders(None, 0)
    seconds = median * fraction
    total = await stats.count(session, scope)
    kept = await stats.count(session, replace(scope, min_seconds=seconds))
    return Speeders(seconds, total - kept)


async def repeats(session: AsyncSession, scope: Scope = COMPLETED) -> int:
    """How many responses of `scope` are repeats."""
    return await stats.count(session, replace(scope, repeat=True))
