"""PTB handlers: each opens one transaction, lets the conversation decide, commits, then replies.

Every text is HTML (the application's default parse mode): the views' text as rendered, any other
text escaped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import BulkRequestLimit
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError

from bot.context import Context
from bot.refusals import is_redundant, log_refusal
from conversation import turns as conversation
from conversation.callbacks import decode
from conversation.render import View
from conversation.turns import DeleteMessages, Edit, Send, StripButtons, Toast, Turn
from core.i18n import N_, Translator, supported_language
from db import repo
from db.engine import autocommit, wipe_deleted, writing

log = logging.getLogger(__name__)

TRY_AGAIN = N_("Something went wrong. Please try again in a moment.")
PLEASE_WAIT = N_(
    "Please wait: I am still answering your earlier messages. The messages you sent meanwhile "
    "were not read; send them again once I have answered."
)
Step = Callable[[Turn], Awaitable[None]]


def markup(view: View) -> InlineKeyboardMarkup | None:
    """The view's buttons as Telegram's inline keyboard (None: no keyboard)."""
    if not view.buttons:
        return None
    rows = [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in view.buttons]
    return InlineKeyboardMarkup(rows)


async def _handle(
    update: Update, context: Context, step: Step, by_step: bool = False, plain: bool = False
) -> None:
    """Run `step` for this update in one transaction, then perform its replies.

    `by_step`: a press that the response's step claims (conversation.claimed_by_step). `plain`: a
    message that is no command (conversation.open_turn).
    """
    services = context.services
    user, message = update.effective_user, update.effective_message
    assert user is not None
    shown = (message.message_id, message.date) if message is not None else None
    # The memory-hard hash is computed before the transaction, so no lock waits for it.
    hashes = await services.participant_hashes(user.id)
    async with writing(services.engine), services.sessions.begin() as session:
        turn = await conversation.open_turn(
            services,
            session,
            user.id,
            user.language_code,
            update.update_id,
            hashes,
            shown,
            new_message=update.message is not None,
            by_step=by_step,
            plain=plain,
        )
        if turn.fresh:
            await step(turn)
        else:
            log.info("duplicate_update")
            await conversation.redelivered(turn)
        await conversation.close_turn(turn)
    if turn.erased:
        await wipe_deleted(services.engine)
    await _perform(turn, update, context)


async def _perform(turn: Turn, update: Update, context: Context) -> None:
    """Send, edit and toast what the turn decided, after its transaction committed."""
    chat = update.effective_chat
    assert chat is not None
    bot, toast = context.bot, None
    for reply in turn.replies:
        if isinstance(reply, Toast):
            toast = reply.text
        elif isinstance(reply, Send):
            message = await bot.send_message(chat.id, reply.view.text, reply_markup=markup(reply.view))
            await _remember(turn, reply, message.message_id, message.date)
        elif isinstance(reply, DeleteMessages):
            await _delete(reply, chat.id, context)
        else:
            await _edit(turn, reply, chat.id, context)
    await answer_query(update, toast)


async def _remember(turn: Turn, reply: Send, message_id: int, sent_at: datetime) -> None:
    """Note a sent message of the survey's chat: as the current question's if tracked (later, by
    the person's next turn, if lazy), else as one of the chat's."""
    response, track = turn.response, reply.track
    if response is None:
        return
    if reply.lazy and track is not None:
        turn.services.note_later(
            turn.pseudonym, repo.HeldMessage(track.response_id, track.step, message_id, sent_at)
        )
        return
    step = track.step if track is not None else None
    async with autocommit(turn.services.engine) as connection:
        await repo.note_sent_message(connection, response.id, (message_id, sent_at), step)


async def _delete(reply: DeleteMessages, chat_id: int, context: Context) -> None:
    """Delete messages, at most 100 per call.

    A refused or failed call is logged and the turn goes on: what it decided is committed, and
    its notice (what was erased, what Telegram keeps) must still reach the respondent.
    """
    ids = reply.message_ids
    for start in range(0, len(ids), BulkRequestLimit.MAX_LIMIT):
        try:
            await context.bot.delete_messages(chat_id, ids[start : start + BulkRequestLimit.MAX_LIMIT])
        except NetworkError as error:  # BadRequest included
            log.warning("delete_skipped", extra={"reason": error.message})


async def answer_query(update: Update, toast: str | None) -> None:
    """Close the button's spinner; a query Telegram already expired is no error for anyone."""
    if update.callback_query is None:
        return
    try:
        await update.callback_query.answer(toast)
    except BadRequest as error:
        log_refusal(log, "callback_answer_skipped", error)


async def _edit(turn: Turn, reply: Edit | StripButtons, chat_id: int, context: Context) -> None:
    """Edit an earlier message; one that is gone or already so is not an error for the respondent.

    The current question refused as an edit (its message deleted, or Telegram refusing it for
    another reason) is sent as a new message instead, so the respondent can go on. An edit that
    only shows the answer given (no buttons to press) is skipped on a network error too.
    """
    try:
        if isinstance(reply, Edit):
            await context.bot.edit_message_text(
                reply.view.text,
                chat_id,
                reply.message_id,
                reply_markup=markup(reply.view),
            )
        else:
            await context.bot.edit_message_reply_markup(chat_id, reply.message_id, reply_markup=None)
    except BadRequest as error:
        log_refusal(log, "edit_skipped", error)
        if isinstance(reply, Edit) and reply.track is not None and not is_redundant(error):
            message = await context.bot.send_message(
                chat_id, reply.view.text, reply_markup=markup(reply.view)
            )
            await _remember(turn, Send(reply.view, reply.track), message.message_id, message.date)
    except NetworkError as error:
        if isinstance(reply, Edit) and reply.view.buttons:
            raise
        log.warning("edit_skipped", extra={"reason": error.message})


async def start(update: Update, context: Context) -> None:
    """/start: begin, or continue where the respondent left off."""
    await _handle(update, context, conversation.start)


async def language(update: Update, context: Context) -> None:
    """/language: choose Kazakh or Russian."""
    await _handle(update, context, conversation.choose_language_prompt)


async def help_command(update: Update, context: Context) -> None:
    """/help: explain the survey and the commands."""
    await _handle(update, context, conversation.help_text)


async def cancel(update: Update, context: Context) -> None:
    """/cancel: stop, keeping the answers so far."""
    await _handle(update, context, conversation.cancel)


async def delete(update: Update, context: Context) -> None:
    """/delete: erase the respondent's answers, after confirmation."""
    await _handle(update, context, conversation.ask_erase)


async def unknown_command(update: Update, context: Context) -> None:
    """Any other /command."""
    await _handle(update, context, conversation.unknown_command)


async def text(update: Update, context: Context) -> None:
    """A typed message in the private chat."""
    assert update.message is not None and update.message.text is not None
    message_text = update.message.text
    await _handle(update, context, lambda turn: conversation.on_text(turn, message_text), plain=True)


async def non_text(update: Update, context: Context) -> None:
    """A sticker, photo, voice note, location, contact, document... in the private chat."""
    await _handle(update, context, conversation.on_non_text, plain=True)


async def edited(update: Update, context: Context) -> None:
    """An edited message: answers are not changed by editing."""
    await _handle(update, context, conversation.on_edited)


async def button(update: Update, context: Context) -> None:
    """An inline button press."""
    query = update.callback_query
    assert query is not None
    callback = decode(query.data)
    message = query.message
    if callback is None or message is None:
        await _handle(update, context, conversation.forged_button)
        return
    message_id = message.message_id
    await _handle(
        update,
        context,
        lambda turn: conversation.on_button(turn, callback, message_id),
        by_step=conversation.claimed_by_step(callback),
    )


async def group_start(update: Update, context: Context) -> None:
    """/start in a group: invite to a private chat; the survey never runs in groups."""
    assert update.effective_message is not None
    _ = _translator(update, context)
    link = f"https://t.me/{context.bot.username}?start=survey"
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(_("Open a private chat"), url=link)]])
    try:
        await update.effective_message.reply_text(
            escape(_("The survey runs only in a private chat with me.")), reply_markup=keyboard
        )
    except Forbidden:
        log.info("group_reply_forbidden")


async def on_error(update: object, context: Context) -> None:
    """Log the failure without personal data, and tell the respondent to try again."""
    error = context.error
    log.error("handler_error", exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None or update.effective_user is None:
        return
    if update.effective_chat.type != "private":
        return
    _ = _translator(update, context)
    try:
        if update.callback_query:
            await update.callback_query.answer(_(TRY_AGAIN))
        else:
            await context.bot.send_message(update.effective_chat.id, escape(_(TRY_AGAIN)))
    except Exception as notify_error:
        log.warning("error_notice_failed", extra={"error": type(notify_error).__name__})


async def dropped(update: Update, context: Context, warn: bool) -> None:
    """An update dropped unread (its person's backlog was full): close a press's spinner, and with
    `warn` (once per burst) ask the person in a private chat to wait."""
    chat = update.effective_chat
    try:
        await answer_query(update, None)
        if warn and chat is not None and chat.type == "private":
            await context.bot.send_message(chat.id, escape(_translator(update, context)(PLEASE_WAIT)))
    except TelegramError as error:
        log.warning("wait_notice_failed", extra={"error": type(error).__name__})


def _translator(update: Update, context: Context) -> Translator:
    """The texts in the language of the person's Telegram app, if the bot speaks it (no database read)."""
    assert update.effective_user is not None
    language = supported_language(update.effective_user.language_code)
    return context.services.i18n.translator(language or context.services.settings.default_language)
