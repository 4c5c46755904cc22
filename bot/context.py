"""The callback context every handler and job receives: PTB's, with the bot's services on it."""

from __future__ import annotations

from typing import Any

from telegram.ext import CallbackContext, ContextTypes, ExtBot

from conversation.services import Services

SERVICES = "services"


class Context(CallbackContext[ExtBot[str], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's CallbackContext; `services` is what build_application() created for this bot."""

    @property
    def services(self) -> Services:
        services: Services = self.bot_data[SERVICES]
        return services


CONTEXT_TYPES = ContextTypes(context=Context)
