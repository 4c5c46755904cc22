"""Outgoing requests: paced per chat as Telegram limits them, never capped for the bot as a whole.

Telegram limits a bot per chat (about one message a second in a private chat, short bursts
allowed; 20 a minute in a group or channel) and, for messages the bot sends on its own to many
chats (broadcasts, the digest), about 30 a second over all of them. Replies to a person's own
actions have no overall cap, so this limiter has none: each chat's new messages are paced on their
own (edits are not: one message per answer edits the pressed message), and only messages marked
BULK (`rate_limit_args=BULK`) also share the bulk pace. A "retry after" answer
holds back only the chat (and, for a bulk message, the bulk pace) it came for, and the request is
sent again, however often it takes: a message is never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

BULK = "bulk"
"""rate_limit_args of a message the bot sends on its own (not in reply to the person's action)."""
SWEEP_AT = 1024
"""Chats remembered before idle ones are forgotten (then twice the number still busy)."""


def _is_message(endpoint: str) -> bool:
    """True for a request that puts a new message in a chat (what Telegram's per-chat limits count).

    Edits, deletions and button answers are not paced, but wait out a "retry after" of their chat.
    """
    return endpoint.startswith(("send", "copyMessage", "forwardMessage")) and endpoint != "sendChatAction"


@dataclass
class Pace:
    """At most `burst` messages at once, then one every `interval` seconds (a token bucket, GCRA).

    `due` is when the next message would go if the bucket were empty; a reservation moves it on.
    `held_until`: Telegram said "retry after"; nothing goes to this chat (or scope) before then.
    """

    interval: float
    burst: int
    due: float = 0.0
    held_until: float = 0.0

    def reserve(self, now: float) -> float:
        """Book the next slot for a message; the seconds to wait for it."""
        due = max(self.due, self.held_until, now)
        self.due = due + self.interval
        return max(0.0, due - (self.burst - 1) * self.interval - now, self.held_until - now)

    def held_for(self, now: float) -> float:
        """The seconds left of a "retry after" (what a request that is not a message waits)."""
        return max(0.0, self.held_until - now)

    def hold(self, now: float, seconds: float) -> None:
        """Telegram said "retry after `seconds`"."""
        self.held_until = max(self.held_until, now + seconds)

    def idle(self, now: float) -> bool:
        """True when the bucket is full again and nothing is held (forgetting it changes nothing)."""
        return self.due <= now and self.held_until <= now


@dataclass(frozen=True)
class SendingLimits:
    """The paces (seconds between requests, burst): per private chat, per group or channel, bulk.

    A pace lets through at most burst + window / interval requests in any window, so the group
    pace sends at most 20 in any minute and the bulk pace at most 30 in any second.
    """

    private: tuple[float, int] = (1.0, 4)
    group: tuple[float, int] = (60 / 17, 3)
    bulk: tuple[float, int] = (1 / 27, 3)

    def pace(self, kind: str) -> Pace:
        interval, burst = getattr(self, kind)
        return Pace(interval, burst)


@dataclass
class ChatPacedLimiter(BaseRateLimiter[str]):
    """PTB's rate-limiter interface: per-chat paces, a bulk pace for marked messages, 429s per chat."""

    limits: SendingLimits = field(default_factory=SendingLimits)
    monotonic: Callable[[], float] = time.monotonic
    chats: dict[int | str, Pace] = field(default_factory=dict)
    bulk: Pace = field(init=False)
    sweep_at: int = SWEEP_AT

    def __post_init__(self) -> None:
        self.bulk = self.limits.pace("bulk")

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Wait for the request's paces, send it, and after a 429 hold its paces and send it again."""
        message = _is_message(endpoint)
        paces = self._paces(data.get("chat_id"), rate_limit_args == BULK)
        while True:
            now = self.monotonic()
            waits = [pace.reserve(now) if message else pace.held_for(now) for pace in paces]
            wait = max(waits, default=0.0)
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                log.warning("flood_wait", extra={"endpoint": endpoint, "seconds": seconds})
                now = self.monotonic()
                for pace in paces:
                    pace.hold(now, seconds)
                if not paces:
                    await asyncio.sleep(seconds)

    def _paces(self, chat_id: object, bulk: bool) -> list[Pace]:
        """The paces a request to `chat_id` waits for: its chat's, and the bulk one if marked."""
        paces = [self.bulk] if bulk else []
        if chat_id is None:
            return paces
        key: int | str = str(chat_id)
        with contextlib.suppress(ValueError):
            key = int(str(chat_id))
        pace = self.chats.get(key)
        if pace is None:
            self._forget_idle()
            group = isinstance(key, str) or key < 0  # "@name" or a negative id: a group or channel
            pace = self.chats[key] = self.limits.pace("group" if group else "private")
        return [pace, *paces]

    def _forget_idle(self) -> None:
        """Keep memory bounded: past `sweep_at` chats, drop those whose bucket is full again."""
        if len(self.chats) < self.sweep_at:
            return
        now = self.monotonic()
        self.chats = {key: pace for key, pace in self.chats.items() if not pace.idle(now)}
        self.sweep_at = max(SWEEP_AT, 2 * len(self.chats))


def retry_after_seconds(error: RetryAfter) -> float:
    """How long Telegram asked to wait (PTB v22 gives an int with a deprecation warning, or a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
