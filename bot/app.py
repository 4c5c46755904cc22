"""build_application(): all wiring of the bot in one place."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import digest, handlers
from bot import researchers as research
from bot.context import CONTEXT_TYPES, SERVICES, Context
from bot.health import Heartbeat
from bot.receiving import Polling, Receiver, Webhook
from bot.sending import ChatPacedLimiter, SendingLimits
from conversation.callbacks import Action
from conversation.services import Services, utc_now
from core.config import Settings
from core.i18n import LANGUAGES, N_, I18n
from db import repo
from db.engine import create_engine, session_factory, wipe_deleted
from survey.analysis import schema_questionnaire
from survey.targets import load_targets

log = logging.getLogger(__name__)

RESPONDENT_COMMANDS = ("start", "language", "help", "cancel", "delete")
COMMAND_DESCRIPTIONS = {
    "start": N_("Begin or continue the survey"),
    "language": N_("Switch language"),
    "help": N_("What this bot does"),
    "cancel": N_("Stop the survey"),
    "delete": N_("Erase my answers"),
}
UPDATE_ID_RETENTION = timedelta(hours=25)
"""Telegram keeps an undelivered update for 24 hours; an hour more covers a slow redelivery."""
HOUSEKEEPING_INTERVAL = timedelta(hours=1)
UNLINK_JOB = "unlink"
UNLINK_BATCH = 500
DIGEST_JOB = "digest"
LANGUAGE_BUTTON = rf"^{Action.LANGUAGE.value}:"


async def _post_init(application: Application) -> None:
    """Publish the command menu in both languages."""
    services: Services = application.bot_data[SERVICES]
    for language in (None, *LANGUAGES):
        _ = services.i18n.translator(language or services.settings.default_language)
        commands = [BotCommand(name, _(COMMAND_DESCRIPTIONS[name])) for name in RESPONDENT_COMMANDS]
        await application.bot.set_my_commands(commands, language_code=language)


async def _post_shutdown(application: Application) -> None:
    """Close the database pool and the hashing threads."""
    services: Services = application.bot_data[SERVICES]
    await services.close()


async def _post_due_digest(context: Context) -> None:
    """Job: post the digest of the period that came due (at its time, and at start for a missed one)."""
    await digest.publish_due(context.services, context.bot)


async def _forget_old_updates(context: Context) -> None:
    """Job: drop remembered update ids Telegram can no longer redeliver."""
    services = context.services
    async with services.sessions.begin() as session:
        await repo.forget_updates_before(session, services.clock() - UPDATE_ID_RETENTION)


async def _unlink_settled(context: Context) -> None:
    """Job: cut the link to every response that has not changed for UNLINK_AFTER_DAYS, and drop the
    erasure markers kept long enough."""
    services = context.services
    now = services.clock()
    cutoff = now - timedelta(days=services.settings.unlink_after_days)
    unlinked, batch = 0, UNLINK_BATCH
    while batch == UNLINK_BATCH:
        async with services.sessions.begin() as session:
            batch = await repo.unlink_settled(session, cutoff, UNLINK_BATCH)
        unlinked += batch
    async with services.sessions.begin() as session:
        expired = await repo.forget_erasures_before(session, now.astimezone(UTC).date())
    if unlinked:
        log.info("responses_unlinked", extra={"respondents": unlinked})
    if expired:
        log.info("erasure_markers_expired", extra={"markers": expired})
    if unlinked or expired:
        await wipe_deleted(services.engine)


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    clock: Callable[[], datetime] = utc_now,
    rng: random.Random | None = None,
    sending: SendingLimits | None = None,
) -> Application:
    """The bot, wired: production and tests both use this; tests pass a local `request`.

    `sending`: the outgoing paces (Telegram's limits by default; tests pass faster ones).
    """
    settings.require("bot_token", "pseudonym_key")
    assert settings.bot_token is not None
    i18n, questionnaire = I18n.load(), schema_questionnaire(settings.questionnaire_file)
    i18n.require(questionnaire.msgids())
    engine = create_engine(settings.database_url)
    services = Services(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        i18n=i18n,
        questionnaire=questionnaire,
        targets=load_targets(questionnaire),
        clock=clock,
        rng=rng or random.SystemRandom(),
    )
    builder = (
        ApplicationBuilder()
        .token(settings.bot_token.get_secret_value())
        .base_url(f"{settings.bot_api_url}/bot")
        .base_file_url(f"{settings.bot_api_url}/file/bot")
        .context_types(CONTEXT_TYPES)
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .concurrent_updates(settings.concurrent_updates)
        .updater(None)
        .rate_limiter(ChatPacedLimiter(sending or SendingLimits()))
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    application = builder.build()
    application.bot_data[SERVICES] = services

    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE, handlers.edited)
    )
    application.add_handler(CommandHandler("start", handlers.start, filters=private))
    application.add_handler(CommandHandler("language", handlers.language, filters=private))
    application.add_handler(CommandHandler("help", handlers.help_command, filters=private))
    application.add_handler(CommandHandler("cancel", handlers.cancel, filters=private))
    application.add_handler(CommandHandler("delete", handlers.delete, filters=private))
    researcher = private & filters.User(user_id=settings.researcher_ids)
    application.add_handler(CommandHandler("stats", research.stats, filters=researcher))
    application.add_handler(CommandHandler("crosstab", research.crosstab, filters=researcher))
    application.add_handler(CommandHandler("chart", research.chart, filters=researcher))
    application.add_handler(CommandHandler("export", research.export_files, filters=researcher))
    application.add_handler(CommandHandler("digest_preview", digest.preview, filters=researcher))
    application.add_handler(MessageHandler(private & filters.COMMAND, handlers.unknown_command))
    application.add_handler(MessageHandler(private & filters.TEXT, handlers.text))
    application.add_handler(MessageHandler(private, handlers.non_text))
    application.add_handler(CallbackQueryHandler(research.language_button, pattern=LANGUAGE_BUTTON))
    application.add_handler(CallbackQueryHandler(handlers.button))
    application.add_handler(
        CommandHandler(
            "start", handlers.group_start, filters=filters.ChatType.GROUPS & filters.UpdateType.MESSAGE
        )
    )
    application.add_error_handler(handlers.on_error)
    jobs = application.job_queue
    assert jobs is not None, "python-telegram-bot[job-queue] is a dependency"
    jobs.run_repeating(_forget_old_updates, interval=HOUSEKEEPING_INTERVAL, first=60)
    jobs.run_repeating(_unlink_settled, interval=HOUSEKEEPING_INTERVAL, first=30, name=UNLINK_JOB)
    if settings.digest_chat_id is not None:
        jobs.run_custom(_post_due_digest, job_kwargs={"trigger": digest.trigger(services)}, name=DIGEST_JOB)
        # At start: a digest missed while the bot was down, then one whose claim a crash left behind.
        jobs.run_once(_post_due_digest, when=0)
        jobs.run_once(_post_due_digest, when=digest.CLAIM_LEASE + timedelta(seconds=5))
    return application


ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]
POLL_TIMEOUT = 10.0
"""Seconds a getUpdates call waits for new updates."""


def build_receiver(settings: Settings, application: Application) -> Receiver:
    """How the bot receives updates: a webhook server when WEBHOOK_URL is set, else long polling."""
    # A long poll never outlasts a heartbeat, so a quiet bot stays healthy.
    source: Polling | Webhook = Polling(ALLOWED_UPDATES, min(POLL_TIMEOUT, settings.heartbeat_seconds))
    if settings.webhook_url:
        settings.require("webhook_secret")
        assert settings.webhook_secret is not None
        secret = settings.webhook_secret.get_secret_value()
        source = Webhook(settings.webhook_url, secret, settings.webhook_port, ALLOWED_UPDATES)
    return Receiver(application, source, Heartbeat.of(settings))
