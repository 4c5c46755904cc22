"""Updates of different people run concurrently; the updates of one person run in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from core.config import DEFAULT_CONCURRENT_UPDATES


def ordering_key(update: object) -> int | None:
    """Whose updates must not overtake each other: the user's (or, without a user, the chat's)."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Up to `max_concurrent_updates` at once, one at a time per person, in arrival order.

    PTB starts the processing of updates in the order they arrive; an asyncio.Lock hands itself
    over first come, first served, so a person's updates keep their order. The person's lock is
    taken before a concurrency slot, so one person's queue never holds slots others could use.
    Locks of people with nothing in flight are dropped: memory does not grow with respondents.
    """

    def __init__(self, max_concurrent_updates: int = DEFAULT_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:  # type: ignore[misc]
        """Wait for the same person's earlier updates, then for a free slot, then run the handlers."""
        key = ordering_key(update)
        if key is None:
            await super().process_update(update, coroutine)
            return
        lock, waiting = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, waiting + 1)
        try:
            async with lock:
                await super().process_update(update, coroutine)
        finally:
            lock, waiting = self._locks[key]
            if waiting == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, waiting - 1)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the handlers (ordering and the slot are taken care of in process_update)."""
        await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
