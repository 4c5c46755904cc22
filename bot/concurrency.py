"""Updates of different people run concurrently; the updates of one person run in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from telegram import Update


def ordering_key(update: object) -> int | None:
    """Whose updates must not overtake each other: the user's (or, without a user, the chat's)."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


class PerPersonOrder:
    """One person's updates one at a time, in arrival order; other people's meanwhile.

    The receiver starts handling updates in the order Telegram sent them, each through
    `run`; an asyncio.Lock hands itself over first come, first served, so a person's updates
    keep their order. The person's turn is waited for before `work` takes one of the
    application's concurrency slots (PTB's update processor bounds them), so one person's
    queue never holds slots others could use. Locks of people with nothing in flight are
    dropped: memory does not grow with respondents.
    """

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @property
    def people_in_flight(self) -> int:
        """How many people have an update being handled or waiting."""
        return len(self._locks)

    async def run(self, update: object, work: Callable[[], Awaitable[None]]) -> None:
        """Wait for the same person's earlier updates, then await `work()`."""
        key = ordering_key(update)
        if key is None:
            await work()
            return
        lock, waiting = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, waiting + 1)
        try:
            async with lock:
                await work()
        finally:
            lock, waiting = self._locks[key]
            if waiting == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, waiting - 1)
