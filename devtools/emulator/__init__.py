"""A local stand-in for Telegram's Bot API: the bot talks to it exactly as to Telegram."""

from devtools.emulator.core import ApiError, BotApiEmulator, Button, Message

__all__ = ["ApiError", "BotApiEmulator", "Button", "Message"]
