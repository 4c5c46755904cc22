"""Aggregate queries: every figure is counted by the database (GROUP BY), never row by row in Python.

They read the analysis columns of `responses` (see db.models.Response), which covering indexes
make cheap. The researchers' commands and the channel digest share them: each takes a Scope
(which status, which time window) and returns counts keyed by option codes (None: no answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from db import repo
from db.models import Response, ResponseStatus
from survey.analysis import VARIABLES

Value = str | None
TimeColumn = Literal["started_at", "completed_at"]
_TABLE = Response.__table__


@dataclass(frozen=True)
class Scope:
    """Which responses a figure counts: one status (None: all) and an optional time window.

    The window is [since, until) on `time_column`; datetimes must be timezone-aware. With
    `min_seconds`, responses completed faster than that are left out (speeders); `repeat` True
    keeps only repeats, False leaves them out, None takes both.
    """

    status: ResponseStatus | None = ResponseStatus.COMPLETE
    since: datetime | None = None
    until: datetime | None = None
    time_column: TimeColumn = "completed_at"
    min_seconds: float | None = None
    repeat: bool | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE clauses of this scope."""
        found: list[ColumnElement[bool]] = []
        if self.status is not None:
            found.append(Response.status == self.status)
        moment = _TABLE.c[self.time_column]
        if self.since is not None:
            found.append(moment >= self.since)
        if self.until is not None:
            found.append(moment < self.until)
        if self.min_seconds is not None:
            found.append(Response.duration_seconds >= self.min_seconds)
        if self.repeat is not None:
            found.append(Response.repeat == self.repeat)
        return found


COMPLETED = Scope()


def _columns(variables: Sequence[str]) -> list[str]:
    """The variables in index order: GROUP BY streams when it matches a covering index."""
    unknown = [v for v in variables if v not in VARIABLES]
    if unknown:
        raise ValueError(f"not an analysis variable: {unknown[0]!r}")
    return sorted(dict.fromkeys(variables), key=VARIABLES.index)


async def count(session: AsyncSession, scope: Scope = COMPLETED) -> int:
    """How many responses are in scope."""
    counted = await session.scalar(select(func.count()).select_from(Response).where(*scope.conditions()))
    return int(counted or 0)


async def counts(
    session: AsyncSession, variables: Sequence[str], scope: Scope = COMPLETED
) -> dict[tuple[Value, ...], int]:
    """Responses by the combination of `variables` (keys in the order given; empty cells absent)."""
    ordered = _columns(variables)
    columns = [_TABLE.c[name] for name in ordered]
    statement = select(*columns, func.count()).where(*scope.conditions()).group_by(*columns)
    result: dict[tuple[Value, ...], int] = {}
    for row in await session.execute(statement):
        by_name = dict(zip(ordered, row[:-1], strict=True))
        result[tuple(by_name[name] for name in variables)] = int(row[-1])
    return result


async def margins(
    session: AsyncSession, variables: Sequence[str], scope: Scope = COMPLETED, *, with_statuses: bool = False
) -> dict[str, dict[Value, int]]:
    """One-way counts of several variables from a single scan: a cube, summed per variable.

    With `with_statuses` the same scan also counts every status (key "status"), ignoring the
    scope's status, which then applies only to the variables' counts.
    """
    ordered = _columns(variables)
    columns: list[Any] = [_TABLE.c[name] for name in ordered]
    if with_statuses:
        columns.insert(0, Response.status)
    wanted = replace(scope, status=None) if with_statuses else scope
    cube = (
        select(*columns, func.count().label("n")).where(*wanted.conditions()).group_by(*columns).cte("cube")
    )
    among = [cube.c.status == scope.status] if with_statuses and scope.status is not None else []
    parts = [
        select(literal(name).label("variable"), cube.c[name].label("value"), func.sum(cube.c.n))
        .where(*among)
        .group_by(cube.c[name])
        for name in ordered
    ]
    if with_statuses:
        status_text = cast(cube.c.status, String)
        parts.append(select(literal("status"), status_text, func.sum(cube.c.n)).group_by(status_text))
    result: dict[str, dict[Value, int]] = {
        name: {} for name in [*variables, *(["status"] if with_statuses else [])]
    }
    for name, value, total in await session.execute(union_all(*parts)):
        result[name][value] = int(total)
    return result


async def median_duration(
    session: AsyncSession, scope: Scope = COMPLETED, total: int | None = None
) -> float | None:
    """The median of completed_at - started_at in seconds, read at the middle of an index.

    `total` is how many responses in scope have a duration, when the caller knows it already.
    """
    timed = [*scope.conditions(), Response.duration_seconds.is_not(None)]
    if total is None:
        total = int(await session.scalar(select(func.count()).select_from(Response).where(*timed)) or 0)
    if total == 0:
        return None
    middle = (
        select(Response.duration_seconds)
        .where(*timed)
        .order_by(Response.duration_seconds)
        .offset((total - 1) // 2)
        .limit(2 - total % 2)
    )
    values = (await session.scalars(middle)).all()
    return sum(value for value in values if value is not None) / len(values)


@dataclass(frozen=True)
class Overview:
    """The figures of /stats."""

    statuses: dict[ResponseStatus, int]
    started_today: int
    completed_today: int
    started_week: int
    completed_week: int
    median_seconds: float | None
    distributions: dict[str, dict[Value, int]]

    @property
    def started(self) -> int:
        return sum(self.statuses.values())

    @property
    def completed(self) -> int:
        return self.statuses[ResponseStatus.COMPLETE]

    @property
    def eligible(self) -> int:
        """Started and not screened out: those who could complete."""
        return self.started - self.statuses[ResponseStatus.SCREENED_OUT]


def local_midnight(now: datetime, zone: ZoneInfo, days_back: int = 0) -> datetime:
    """The start of the local day `days_back` days before `now`'s, as a UTC datetime."""
    day = now.astimezone(zone).date() - timedelta(days=days_back)
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


async def overview(
    session: AsyncSession, now: datetime, zone: ZoneInfo, variables: Sequence[str]
) -> Overview:
    """Counts by status, today and the last 7 days (local days), the median time and distributions."""
    today, week = local_midnight(now, zone), local_midnight(now, zone, days_back=6)
    distributions = await margins(session, variables, with_statuses=True)
    by_status = distributions.pop("status")
    statuses = {status: by_status.get(status.value, 0) for status in ResponseStatus}
    # Screened-out people leave only a tally (nothing tied to them), so no day or week either.
    statuses[ResponseStatus.SCREENED_OUT] += await repo.tally(session, repo.SCREENED_OUT_TALLY)
    completed = statuses[ResponseStatus.COMPLETE]  # each has a duration: completed_at is set with it
    return Overview(
        statuses=statuses,
        started_today=await count(session, Scope(status=None, since=today, time_column="started_at")),
        completed_today=await count(session, Scope(since=today)),
        started_week=await count(session, Scope(status=None, since=week, time_column="started_at")),
        completed_week=await count(session, Scope(since=week)),
        median_seconds=await median_duration(session, total=completed),
        distributions=distributions,
    )
