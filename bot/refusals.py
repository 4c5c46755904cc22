"""Telegram's refusals (BadRequest): the expected ones are quiet, any other is an error of ours."""

from __future__ import annotations

import logging

from telegram.error import BadRequest

EXPECTED_REFUSALS = (
    "message is not modified",
    "message to edit not found",
    "query is too old",
    "query id is invalid",
)
"""Telegram's answers to an edit or a button's answer that is late or redundant: no error of ours."""


def log_refusal(log: logging.Logger, event: str, error: BadRequest) -> None:
    """Log a BadRequest with its description: an expected one at info, any other at error."""
    expected = any(phrase in error.message.lower() for phrase in EXPECTED_REFUSALS)
    log.log(logging.INFO if expected else logging.ERROR, event, extra={"reason": error.message})


def is_redundant(error: BadRequest) -> bool:
    """Telegram refused an edit because the message already shows exactly that."""
    return "message is not modified" in error.message.lower()
