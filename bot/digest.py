"""Posting the channel digest: its schedule, the claim of each period, sending with retries.

What the digest says and shows is written by research.digest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from html import escape
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from telegram import Message, Update
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError
from telegram.ext import ExtBot

from bot.context import Context
from bot.refusals import log_refusal
from bot.sending import BULK
from conversation.services import Services
from db import digests
from db.models import DigestStatus
from research.digest import DigestWriter, Figures, gather

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=2)
NETWORK_RETRIES = 5
FIRST_RETRY_DELAY = 1.0
"""Seconds before the first retry of a network error; each further retry waits twice as long."""


class DigestChannelError(Exception):
    """The digest chat refuses the bot (not an admin, not found...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot post the digest: {reason}")
        self.reason = reason


# ---- when ---------------------------------------------------------------------------------------


def trigger(services: Services) -> CronTrigger:
    """The digest schedule in the configured time zone."""
    settings = services.settings
    return CronTrigger.from_crontab(settings.digest_schedule, timezone=ZoneInfo(settings.timezone))


def latest_due(services: Services, now: datetime) -> datetime | None:
    """The newest scheduled time at or before `now`, if it is within the grace window."""
    schedule, grace = trigger(services), timedelta(hours=services.settings.digest_grace_hours)
    moment = schedule.get_next_fire_time(None, now - grace)
    due = None
    while moment is not None and moment <= now:
        due = moment
        moment = schedule.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return due


def period_key(moment: datetime, services: Services) -> str:
    """The unique key of a scheduled time: its local date and time."""
    return moment.astimezone(ZoneInfo(services.settings.timezone)).strftime("%Y-%m-%dT%H:%M")


def _writer(services: Services) -> DigestWriter:
    return DigestWriter(services.settings, services.i18n, services.questionnaire)


async def _figures(services: Services, now: datetime) -> Figures:
    return await gather(services.reads, services.questionnaire, services.settings.min_cell, now, services.rng)


# ---- posting ------------------------------------------------------------------------------------


async def _with_retries(action: Callable[[], Awaitable[Message]]) -> Message:
    """Retry network errors with backoff; a chat that refuses the bot is final.

    Flood control ("retry after") is waited out by the application's rate limiter, for every call.
    """
    delay, failures = FIRST_RETRY_DELAY, 0
    while True:
        try:
            return await action()
        except (Forbidden, BadRequest) as error:
            raise DigestChannelError(error.message) from error
        except NetworkError:
            failures += 1
            if failures > NETWORK_RETRIES:
                raise
            await asyncio.sleep(delay)
            delay *= 2


async def send(bot: ExtBot[str], chat_id: int, messages: list[str], image: bytes | None, caption: str) -> int:
    """Send the digest (as bulk: the bot sends it on its own); returns the id of its first message."""
    first: int | None = None
    for text in messages:
        sent = await _with_retries(partial(bot.send_message, chat_id, text, rate_limit_args=BULK))
        first = first or sent.message_id
    if image is not None:
        await _with_retries(
            lambda: bot.send_photo(
                chat_id, image, caption=escape(caption[: MessageLimit.CAPTION_LENGTH]), rate_limit_args=BULK
            )
        )
    assert first is not None
    return first


async def preview(update: Update, context: Context) -> None:
    """/digest_preview: the digest as the channel would get it, sent privately; no period is claimed."""
    assert update.effective_chat is not None
    services = context.services
    figures = await _figures(services, services.clock())
    rendered = await asyncio.to_thread(_writer(services).render, figures, context.bot.username)
    await send(context.bot, update.effective_chat.id, *rendered)


async def publish_due(services: Services, bot: ExtBot[str]) -> DigestStatus | None:
    """Post the digest of the latest scheduled time, if it is within the grace window."""
    due = latest_due(services, services.clock())
    return None if due is None else await publish(services, bot, due)


async def publish(services: Services, bot: ExtBot[str], due: datetime) -> DigestStatus | None:
    """Post the digest of the period `due` unless it is posted (or being posted) already."""
    chat_id = services.settings.digest_chat_id
    if chat_id is None:
        return None
    key, now = period_key(due, services), services.clock()
    async with services.sessions.begin() as session:
        post = await digests.claim(session, key, chat_id, now, CLAIM_LEASE)
    if post is None:
        log.info("digest_skipped", extra={"period": key, "reason": "already_claimed"})
        return None
    figures = await _figures(services, now)
    rendered = await asyncio.to_thread(_writer(services).render, figures, bot.username)
    try:
        message_id = await send(bot, chat_id, *rendered)
    except DigestChannelError as error:
        await _record_failure(services, bot, post.id, key, error.reason)
        return DigestStatus.FAILED
    async with services.sessions.begin() as session:
        await digests.finish(
            session,
            post.id,
            services.clock(),
            message_id=message_id,
            data_until=figures.as_of,
            published=figures.to_json(),
        )
    log.info("digest_sent", extra={"period": key})
    return DigestStatus.SENT


async def _record_failure(services: Services, bot: ExtBot[str], post_id: int, key: str, reason: str) -> None:
    """Mark the period failed, log it, and tell the researchers (once, not at every period)."""
    log.error("digest_failed", extra={"period": key, "reason": reason})
    async with services.sessions.begin() as session:
        previous = await digests.previous_outcome(session, key)
        await digests.finish(session, post_id, services.clock(), error=reason)
    if previous is DigestStatus.FAILED:
        return
    for researcher in services.settings.researcher_ids:
        _ = services.i18n.translator(services.settings.default_language)
        try:
            notice = _(
                "The digest could not be posted to the channel: {reason}. "
                "Please make the bot an administrator of the channel, or check DIGEST_CHAT_ID.",
                reason=reason,
            )
            await bot.send_message(researcher, escape(notice), rate_limit_args=BULK)
        except Forbidden as error:
            log.warning("researcher_unreachable", extra={"reason": error.message})
        except BadRequest as error:
            log_refusal(log, "researcher_unreachable", error)
