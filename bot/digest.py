"""The channel digest: safe figures, told in plain words, posted once per scheduled period."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from io import BytesIO
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from telegram import Bot, Message, Update
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError
from telegram.ext import ContextTypes

from bot.handlers import services_of
from bot.i18n import N_, Translator
from bot.services import Services
from db import digests, stats
from db.models import DigestStatus
from survey.analysis import AGE_BANDS
from survey.disclosure import TOTAL, SafeTable, protect_together, round_shares
from survey.flow import label_of
from survey.model import SKIP

log = logging.getLogger(__name__)

NOT_STATED = "not_stated"
STANCES = ("russia", "ukraine", "peace", "unsure", SKIP)
SHOWN_STANCES = ("ukraine", "russia", "peace")
STANCE_WORDS = {
    "ukraine": N_("Ukraine is the victim"),
    "russia": N_("Russia is right"),
    "peace": N_("for peace, no side"),
}
CHART_TITLE = N_("Views of the war by age (n = {n})")
TITLE = N_("Survey on views of the war in Ukraine: results as of {date}")
CLAIM_LEASE = timedelta(minutes=2)
NETWORK_RETRIES = 5


class DigestChannelError(Exception):
    """The digest chat refuses the bot (not an admin, not found...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot post the digest: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Figures:
    """What a digest publishes, already protected: stance by age band and by main news source."""

    as_of: datetime
    new: int | None
    unchanged: bool
    tables: dict[str, SafeTable]

    @property
    def total(self) -> int | None:
        return next(iter(self.tables.values())).count(TOTAL, TOTAL)


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


# ---- what ---------------------------------------------------------------------------------------


def _rows(
    counts: dict[tuple[str | None, ...], int], groups: Sequence[str]
) -> dict[Hashable, dict[Hashable, int]]:
    """Stance counts per group; answers outside `groups` (skipped, unanswered) form one row."""
    rows: dict[Hashable, dict[Hashable, int]] = {code: {} for code in groups}
    rows[NOT_STATED] = {}
    for (group, stance), n in counts.items():
        row = rows[group if group in rows else NOT_STATED]
        column = stance if stance in STANCES else SKIP
        row[column] = row.get(column, 0) + n
    return rows


async def gather(services: Services, now: datetime) -> Figures:
    """Count, by the database, what the digest shows, and protect it.

    Figures move on only when at least MIN_CELL people completed since the last digest;
    otherwise the previous digest's cut-off is kept, so that comparing two digests never
    isolates a small group.
    """
    k = services.settings.min_cell
    async with services.sessions.begin() as session:
        previous = await digests.last_sent(session)
        since = previous.data_until if previous else None
        new = await stats.count(session, stats.Scope(since=since, until=now)) if since else None
        unchanged = new is not None and new < k
        until = since if unchanged and since is not None else now
        scope = stats.Scope(until=until)
        by_age = await stats.counts(session, ["age_band", "stance"], scope)
        by_source = await stats.counts(session, ["main_source", "stance"], scope)
    bands = [code for code, _low, _high in AGE_BANDS]
    sources = services.questionnaire["sources"].codes_without_skip
    tables = protect_together(
        {"age_band": _rows(by_age, bands), "main_source": _rows(by_source, sources)}, STANCES, k
    )
    return Figures(until, None if unchanged else new, unchanged, tables)


def _group_label(_: Translator, services: Services, variable: str, code: Hashable) -> str:
    if code == NOT_STATED:
        return _("not stated")
    if variable == "age_band":
        return _("aged {band}", band=str(code).replace("-", "–"))
    return _(label_of(services.questionnaire["sources"], services.questionnaire, str(code)))


def _row_sentence(_: Translator, table: SafeTable, row: Hashable) -> str:
    """The group's shares of the main views; a group showing nothing but zeros says too few."""
    shares = round_shares({column: table.share(row, column) for column in STANCES})
    shown = {c: shares[c] for c in SHOWN_STANCES if shares.get(c) is not None}
    if not any(shown.values()):
        return _("too few answers to show")
    return ", ".join(f"{share}% {_(STANCE_WORDS[c])}" for c, share in shown.items())


def compose_language(_: Translator, services: Services, figures: Figures, link: str) -> str:
    """The digest in one language: plain sentences, nothing under the minimum cell size."""
    k = services.settings.min_cell
    moment = figures.as_of.astimezone(ZoneInfo(services.settings.timezone)).strftime("%d.%m.%Y %H:%M")
    title = _(TITLE, date=moment)
    invitation = _("Take part anonymously: {link}", link=link)
    total = figures.total
    if total is None:
        body = [_("Not enough people have taken part yet to publish results safely."), invitation]
        return "\n".join([_bold(title), *map(escape, body)])
    lines = [_bold(title)]
    if figures.new is not None:
        taken_part = _.ngettext(
            "{n} person has taken part so far, {new} of them since the last digest.",
            "{n} people have taken part so far, {new} of them since the last digest.",
            total,
            new=figures.new,
        )
    else:
        taken_part = _.ngettext(
            "{n} person has taken part so far.", "{n} people have taken part so far.", total
        )
    lines.append(escape(taken_part))
    if figures.unchanged:
        unchanged = _(
            "Fewer than {k} people have taken part since the last digest, so the figures are unchanged.", k=k
        )
        lines.append(escape(unchanged))
    overall = next(iter(figures.tables.values()))
    lines += ["", escape(_("Views of the war: {parts}.", parts=_row_sentence(_, overall, TOTAL)))]
    for variable, heading in (("age_band", N_("By age:")), ("main_source", N_("By main news source:"))):
        table = figures.tables[variable]
        lines += ["", _bold(_(heading))]
        for row in table.rows:
            if table.count(row, TOTAL) == 0:
                continue
            label = _group_label(_, services, variable, row)
            lines.append(escape(f"• {label}: {_row_sentence(_, table, row)}"))
    footnote = _(
        "Shares are rounded. Groups of fewer than {k} people are not shown, "
        "so that nobody can be singled out.",
        k=k,
    )
    lines += ["", escape(footnote), escape(invitation)]
    return "\n".join(lines)


def _bold(text: str) -> str:
    return f"<b>{escape(text)}</b>"


def compose(services: Services, figures: Figures, link: str) -> list[str]:
    """The digest in the configured languages: one message, or one per language if too long."""
    parts = [
        compose_language(services.i18n.translator(lang), services, figures, link)
        for lang in services.settings.digest_languages
    ]
    joined = "\n\n———\n\n".join(parts)
    return [joined] if len(joined) <= MessageLimit.MAX_TEXT_LENGTH else parts


def chart(services: Services, figures: Figures) -> bytes | None:
    """A bar chart of stance shares by age band (hidden groups left out), as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    table = figures.tables["age_band"]
    if figures.total is None:
        return None
    _ = services.i18n.translator(services.settings.digest_languages[0])
    rows = [TOTAL, *(r for r in table.rows if r != NOT_STATED and table.count(r, TOTAL))]
    labels = [_("everyone") if r == TOTAL else str(r).replace("-", "–") for r in rows]
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    left = [0.0] * len(rows)
    for column, color in zip(SHOWN_STANCES, ("#1f77b4", "#d62728", "#7f7f7f"), strict=True):
        values = [(round_shares({c: table.share(r, c) for c in STANCES}).get(column) or 0) for r in rows]
        axes.barh(labels, values, left=left, color=color, label=_(STANCE_WORDS[column]))
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_xlim(0, 100)
    axes.set_xlabel("%")
    axes.invert_yaxis()
    axes.set_title(_(CHART_TITLE, n=figures.total))
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


# ---- posting ------------------------------------------------------------------------------------


async def _with_retries(action: Callable[[], Awaitable[Message]]) -> Message:
    """Retry network errors with backoff; a chat that refuses the bot is final.

    Flood control ("retry after") is waited out by the application's rate limiter, for every call.
    """
    delay, failures = 1.0, 0
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


async def send(bot: Bot, chat_id: int, messages: list[str], image: bytes | None, caption: str) -> int:
    """Send the digest; returns the id of its first message."""
    first: int | None = None
    for text in messages:
        sent = await _with_retries(
            lambda text=text: bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
        )
        first = first or sent.message_id
    if image is not None:
        await _with_retries(
            lambda: bot.send_photo(chat_id, image, caption=caption[: MessageLimit.CAPTION_LENGTH])
        )
    assert first is not None
    return first


def render(services: Services, figures: Figures, bot_username: str) -> tuple[list[str], bytes | None, str]:
    """The digest's messages, chart and chart caption."""
    messages = compose(services, figures, f"https://t.me/{bot_username}")
    languages = services.settings.digest_languages
    caption = " / ".join(services.i18n.gettext(lang, CHART_TITLE, n=figures.total) for lang in languages)
    return messages, chart(services, figures), caption


async def preview(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/digest_preview: the digest as the channel would get it, sent privately; no period is claimed."""
    assert update.effective_chat is not None
    services = services_of(context)
    figures = await gather(services, services.clock())
    await send(context.bot, update.effective_chat.id, *render(services, figures, context.bot.username))


async def publish_due(services: Services, bot: Bot) -> DigestStatus | None:
    """Post the digest of the latest scheduled time, if it is within the grace window."""
    due = latest_due(services, services.clock())
    return None if due is None else await publish(services, bot, due)


async def publish(services: Services, bot: Bot, due: datetime) -> DigestStatus | None:
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
    figures = await gather(services, now)
    try:
        message_id = await send(bot, chat_id, *render(services, figures, bot.username))
    except DigestChannelError as error:
        await _record_failure(services, bot, post.id, key, error.reason)
        return DigestStatus.FAILED
    async with services.sessions.begin() as session:
        await digests.finish(
            session, post.id, services.clock(), message_id=message_id, data_until=figures.as_of
        )
    log.info("digest_sent", extra={"period": key})
    return DigestStatus.SENT


async def _record_failure(services: Services, bot: Bot, post_id: int, key: str, reason: str) -> None:
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
            await bot.send_message(
                researcher,
                _(
                    "The digest could not be posted to the channel: {reason}. "
                    "Please make the bot an administrator of the channel, or check DIGEST_CHAT_ID.",
                    reason=reason,
                ),
            )
        except (Forbidden, BadRequest) as error:
            log.warning("researcher_unreachable", extra={"reason": error.message})
