"""Updates of different people run concurrently; the updates of one person run in order, a bounded few."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

from telegram import Update

BACKLOG = 20
"""How many updates of one person may wait or run at once; more are dropped (see Admission)."""


def ordering_key(update: object) -> int | None:
    """Whose updates must not overtake each other: the user's (or, without a user, the chat's)."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


class Admission(Enum):
    """What becomes of an update offered to PerPersonOrder.admit()."""

    RUN = "run"
    """In the person's queue: hand it to run()."""
    DROP = "drop"
    """Surplus of a person whose backlog overflowed: confirm it to Telegram without running its handlers."""
    WARN = "warn"
    """The first surplus of this burst: drop it, and tell the person to wait (once per burst)."""


@dataclass
class _Queue:
    """One person's updates in hand: the lock that orders them, how many, and whether told to wait."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: int = 0
    warned: bool = False


class PerPersonOrder:
    """One person's updates one at a time, in arrival order; other people's meanwhile; a bounded backlog.

    The receiver admits updates in the order Telegram sent them and starts each admitted one
    through `run`; an asyncio.Lock hands itself over first come, first served, so a person's
    updates keep their order. The person's turn is waited for before `work` takes one of the
    application's concurrency slots (PTB's update processor bounds them), so one person's
    queue never holds slots others could use.

    A person has at most `backlog` updates in hand (waiting or running). Beyond that, updates
    are dropped: the receiver confirms them to Telegram as handled without running any handler,
    so they are not delivered again. The first dropped update of a burst earns one "please wait",
    and from then on the person's updates are dropped until their backlog has drained: what the
    notice says ("not read") holds for everything sent after it. Dropping loses nothing the bot
    promised (data first): an answer is acknowledged only by the reply to its own update, after
    it is stored, and a dropped update is neither stored nor answered; the person sent it before
    the bot had answered their earlier ones, and is told to send it again.

    Queues of people with nothing in hand are dropped: memory does not grow with respondents.
    """

    def __init__(self, backlog: int = BACKLOG) -> None:
        self.backlog = backlog
        self._queues: dict[int, _Queue] = {}

    @property
    def people_in_flight(self) -> int:
        """How many people have an update being handled or waiting."""
        return len(self._queues)

    def overflowed(self, update: object) -> bool:
        """True while the update's person is in a burst that overflowed (their updates are dropped)."""
        key = ordering_key(update)
        queue = self._queues.get(key) if key is not None else None
        return queue is not None and queue.warned

    def admit(self, update: object) -> Admission:
        """Take `update` into its person's queue (RUN), or not: DROP, or WARN for the first of a burst."""
        key = ordering_key(update)
        if key is None:
            return Admission.RUN
        queue = self._queues.setdefault(key, _Queue())
        if queue.pending < self.backlog and not queue.warned:
            queue.pending += 1
            return Admission.RUN
        if queue.warned:
            return Admission.DROP
        queue.warned = True
        return Admission.WARN

    async def run(self, update: object, work: Callable[[], Awaitable[None]]) -> None:
        """Wait for the same person's earlier updates, then await `work()`; `update` was admitted to RUN."""
        key = ordering_key(update)
        if key is None:
            await work()
            return
        queue = self._queues[key]
        try:
            async with queue.lock:
                await work()
        finally:
            queue.pending -= 1
            if queue.pending == 0:
                del self._queues[key]
