"""The ceiling for bench/survey_speed.py: a PTB bot that answers every update with one message.

It polls the same emulator as the survey bot (BOT_TOKEN and BOT_API_URL from the environment),
or serves a webhook as the survey bot does when WEBHOOK_URL is set (with WEBHOOK_PORT and
WEBHOOK_SECRET: replicas behind one URL in bench/launch_peak.py), and does the least a bot
can do: one sendMessage per update (with one button, so the simulated respondent can press on),
plus answering each button press, as the survey bot also must.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

CONCURRENT_UPDATES = 64
"""Updates handled at once, as the survey bot's default (CONCURRENT_UPDATES): one at a time, a
crowd arriving faster than one Bot API round trip per update would queue behind each other."""
NEXT = InlineKeyboardMarkup([[InlineKeyboardButton("next", callback_data="next")]])


async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """One message for any update, and the press answered."""
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, "ok", reply_markup=NEXT)
    if update.callback_query:
        await update.callback_query.answer()


def main() -> None:
    api = os.environ["BOT_API_URL"]
    application = (
        ApplicationBuilder()
        .token(os.environ["BOT_TOKEN"])
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .concurrent_updates(CONCURRENT_UPDATES)
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, reply))
    application.add_handler(CallbackQueryHandler(reply))
    allowed = [Update.MESSAGE, Update.CALLBACK_QUERY]
    webhook = os.environ.get("WEBHOOK_URL")
    if webhook is None:
        application.run_polling(allowed_updates=allowed)
        return
    application.run_webhook(
        listen="127.0.0.1",
        port=int(os.environ["WEBHOOK_PORT"]),
        url_path=urlsplit(webhook).path.lstrip("/"),
        webhook_url=webhook,
        secret_token=os.environ["WEBHOOK_SECRET"],
        allowed_updates=allowed,
    )


if __name__ == "__main__":
    main()
