"""The ceiling for bench/survey_speed.py: a PTB bot that answers every update with one message.

It polls the same emulator as the survey bot (BOT_TOKEN and BOT_API_URL from the environment)
and does the least a bot can do: one sendMessage per update (with one button, so the simulated
respondent can press on), plus answering each button press, as the survey bot also must.
"""

from __future__ import annotations

import os

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

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
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, reply))
    application.add_handler(CallbackQueryHandler(reply))
    application.run_polling(allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY])


if __name__ == "__main__":
    main()
