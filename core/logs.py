"""Logging: one JSON object per line, per event, with no Telegram identity, answer text or secret in it.

The bot's own records are events: the message is the event's name and the fields come as
`extra`, e.g. `log.info("answer_stored", extra={"question": "age"})` becomes
`{"time": "...", "level": "info", "logger": "conversation", "event": "answer_stored", "question": "age"}`.
Records of libraries (PTB, APScheduler, Alembic...) keep their text under "message" (event "log").
An exception is one field (its type) and its traceback in another, so a record stays one line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*")
LIBRARY_EVENT = "log"
WITHHELD = "[withheld]"
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 16
"""A secret shorter than this is refused at start-up (core.config): redacting it would blank out
ordinary words and digits all over the logs, and its length alone makes it guessable."""
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "alembic.runtime.plugins")
"""Libraries whose INFO records are one line per request or job run (httpx's hold the bot token)."""
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
PAYLOADS = (Mapping, list, tuple, set, bytes)


def _safe_argument(value: object) -> object:
    """A library's format argument, unless it is an update or raw data (names and texts are inside)."""
    return WITHHELD if isinstance(value, PAYLOADS) or hasattr(value, "to_dict") else value


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; `secrets` (the bot token...) never appear in it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.msg if isinstance(record.msg, str) else str(record.msg)
        if not record.args and EVENT_NAME.fullmatch(message):
            entry["event"] = message
        else:
            entry["event"] = LIBRARY_EVENT
            entry["message"] = _library_message(message, record.args)
        entry.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS})
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = type(record.exc_info[1]).__name__
            entry["traceback"] = self.formatException(record.exc_info)
        line = json.dumps(entry, ensure_ascii=False, default=str)
        for secret in self.secrets:
            line = line.replace(secret, REDACTED)
        return line


def _library_message(message: str, args: Any) -> str:
    """A library record's text with payload arguments withheld."""
    if not args:
        return message
    if isinstance(args, dict):
        safe: Any = {key: _safe_argument(value) for key, value in args.items()}
    else:
        safe = tuple(_safe_argument(value) for value in args)
    try:
        formatted: str = message % safe
        return formatted
    except (TypeError, ValueError):
        return message


def configure_logging(level: int = logging.INFO, secrets: Iterable[str] = ()) -> None:
    """JSON lines on stderr for every logger; call again once the secrets to redact are known.

    Like logging.basicConfig, it leaves alone a root logger that something else (a test
    runner) has already given handlers.
    """
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if isinstance(handler.formatter, JsonFormatter)]
    if not root.handlers:
        ours = [logging.StreamHandler(sys.stderr)]
        root.addHandler(ours[0])
        root.setLevel(level)
    for handler in ours:
        handler.setFormatter(JsonFormatter(secrets))
    for quiet in QUIET_LOGGERS:
        logging.getLogger(quiet).setLevel(logging.WARNING)
