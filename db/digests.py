"""Digest posts: a period is claimed in the database before anything is sent."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import DigestPost, DigestStatus
from db.repo import upsert

MAX_ATTEMPTS = 2
"""The first try, and one retry after a crash between claim and send."""


async def claim(
    session: AsyncSession, period_key: str, chat_id: int, now: datetime, lease: timedelta
) -> DigestPost | None:
    """Take the period for this process; None when it is posted, failed, or being posted elsewhere.

    A claim left unfinished for longer than `lease` (its process died before sending) may be
    taken over once more.
    """
    inserted = await session.execute(
        upsert(session, DigestPost)
        .values(
            period_key=period_key, status=DigestStatus.CLAIMED, claimed_at=now, chat_id=chat_id, attempts=1
        )
        .on_conflict_do_nothing(index_elements=["period_key"])
    )
    post = (
        await session.execute(select(DigestPost).where(DigestPost.period_key == period_key).with_for_update())
    ).scalar_one()
    if cast("CursorResult[Any]", inserted).rowcount == 1:
        return post
    stale = post.status is DigestStatus.CLAIMED and post.claimed_at <= now - lease
    if not stale or post.attempts >= MAX_ATTEMPTS:
        return None
    retaken = await session.execute(
        update(DigestPost)
        .where(DigestPost.id == post.id, DigestPost.attempts == post.attempts)
        .values(attempts=post.attempts + 1, claimed_at=now)
    )
    if cast("CursorResult[Any]", retaken).rowcount != 1:
        return None
    await session.refresh(post)
    return post


async def finish(
    session: AsyncSession,
    post_id: int,
    now: datetime,
    message_id: int | None = None,
    data_until: datetime | None = None,
    published: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Record the outcome of a claimed post: sent (message id, figures shown) or failed (the reason)."""
    await session.execute(
        update(DigestPost)
        .where(DigestPost.id == post_id)
        .values(
            status=DigestStatus.FAILED if error else DigestStatus.SENT,
            sent_at=None if error else now,
            message_id=message_id,
            data_until=data_until,
            published=published,
            error=error,
        )
    )


async def last_sent(session: AsyncSession) -> DigestPost | None:
    """The newest digest that reached the channel."""
    statement = (
        select(DigestPost)
        .where(DigestPost.status == DigestStatus.SENT)
        .order_by(DigestPost.sent_at.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def previous_outcome(session: AsyncSession, period_key: str) -> DigestStatus | None:
    """How the digest before `period_key` ended (None: there was none)."""
    statement = (
        select(DigestPost.status)
        .where(DigestPost.period_key < period_key, DigestPost.status != DigestStatus.CLAIMED)
        .order_by(DigestPost.period_key.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()
