"""Logging set-up: one line per event, and no library logger that prints the bot token."""

from __future__ import annotations

import logging


def configure_logging(level: int = logging.INFO) -> None:
    """Plain one-line records; HTTP client request lines (they hold the token) are silenced."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("httpx", "httpcore", "apscheduler", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
