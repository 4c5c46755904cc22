"""Respondents answering while the bot does heavy work: their reply times and the event loop's lag.

Shared by bench/loop_stalls.py (figures) and tests/test_loop_lag.py (the bound): a probe on the
bot's own event loop sleeps 10 ms again and again and records by how much each sleep overshot
(the time some callback held the loop); a crowd of respondents, on the same loop, takes the survey
through the real Application on the in-process emulator, one action after another, and records
how long the bot took to handle each (from handing over the update to the bot's last call for it).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import Application

from core.i18n import I18n
from devtools.emulator import BotApiEmulator
from devtools.sandbox.scripted import percentile, survey_script

PROBE_INTERVAL = 0.010
THANKS = "Thank you for taking part! Your answers:"
"""The start of the summary a respondent gets after the last question."""


@dataclass
class LoopLag:
    """How late each of the probe's sleeps woke up, in seconds (the loop was held that long)."""

    lags: list[float] = field(default_factory=list)

    @property
    def longest(self) -> float:
        return max(self.lags, default=0.0)

    def __str__(self) -> str:
        return (
            f"loop lag over {len(self.lags)} probes of {PROBE_INTERVAL * 1000:.0f} ms: max "
            f"{self.longest * 1000:.0f} ms, p99 {percentile(self.lags, 0.99) * 1000:.0f} ms, "
            f"p50 {percentile(self.lags, 0.5) * 1000:.1f} ms"
        )


@asynccontextmanager
async def loop_lag(interval: float = PROBE_INTERVAL) -> AsyncIterator[LoopLag]:
    """Probe the running loop while the block runs: sleep `interval` again and again, record overshoots."""
    measured = LoopLag()

    async def probe() -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(interval)
            measured.lags.append(time.perf_counter() - start - interval)

    prober = asyncio.create_task(probe())
    try:
        yield measured
    finally:
        prober.cancel()
        await asyncio.gather(prober, return_exceptions=True)


@dataclass
class Replies:
    """Each respondent action's reply time (seconds), how many surveys were completed, what went wrong."""

    times: list[float] = field(default_factory=list)
    completed: int = 0
    failures: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.times)} replies, p50 {percentile(self.times, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(self.times, 0.99) * 1000:.0f} ms, "
            f"max {max(self.times, default=0) * 1000:.0f} ms; "
            f"{self.completed} surveys completed"
        )


_user_ids = itertools.count(800_000_001)


@dataclass
class Crowd:
    """Respondents taking the survey through `application` on `emulator`, each thinking between actions."""

    application: Application[Any, Any, Any, Any, Any, Any]
    emulator: BotApiEmulator
    think: tuple[float, float] = (0.2, 1.0)
    """Seconds a respondent waits after a reply before the next action (uniform between the two)."""
    rng: random.Random = field(default_factory=lambda: random.Random(13))
    replies: Replies = field(default_factory=Replies)

    async def run(self, respondents: int, until: asyncio.Event) -> Replies:
        """`respondents` at once, each taking the survey again and again until `until` is set."""
        script = survey_script()
        thanks = I18n.load().translator("ru")(THANKS)
        await asyncio.gather(*(self._respondent(script, thanks, until) for _ in range(respondents)))
        return self.replies

    async def _respondent(self, script: list[tuple[str, str]], thanks: str, until: asyncio.Event) -> None:
        # Each starts within one survey's length, as a crowd that arrived over time: at any moment
        # some are starting, some half-way, some finishing (a crowd all sending /start at once
        # would measure that burst, not the steady state).
        await asyncio.sleep(self.rng.uniform(0, len(script) * sum(self.think) / 2))
        while not until.is_set():
            user_id = next(_user_ids)
            user = {"id": user_id, "is_bot": False, "first_name": "R", "language_code": "ru"}
            for kind, text in script:
                await asyncio.sleep(self.rng.uniform(*self.think))
                try:
                    update = self._update(user, kind, text)
                except LookupError as error:
                    self.replies.failures.append(str(error))
                    break
                started = time.perf_counter()
                await self.application.process_update(Update.de_json(update, self.application.bot))
                self.replies.times.append(time.perf_counter() - started)
            else:
                last = self.emulator.bot_messages(user_id)[-1].plain_text
                if last.startswith(thanks):
                    self.replies.completed += 1
                else:
                    self.replies.failures.append(f"the survey ended with {last[:80]!r}")

    def _update(self, user: dict[str, Any], kind: str, text: str) -> dict[str, Any]:
        if kind == "send":
            return self.emulator.user_message(user, text=text)
        message = self.emulator.chats[int(user["id"])].newest_with_buttons()
        if message is None:
            raise LookupError(f"no buttons to press {text!r} on")
        return self.emulator.press(user, message, text)


@dataclass
class Stalls:
    """Where the loop's thread was while the loop was held: stack -> samples (one every `every` s)."""

    every: float
    samples: Counter[str] = field(default_factory=Counter)
    unscheduled: float = 0.0
    """Seconds the watchdog itself woke late by more than the threshold: the whole process was held
    (the machine's other work, or a thread keeping the GIL), whatever the loop's stack says."""

    def top(self, count: int = 5) -> str:
        """The stacks seen most, each with the time it was seen holding the loop."""
        stacks = [
            f"~{n * self.every * 1000:.0f} ms in:\n{stack}" for stack, n in self.samples.most_common(count)
        ]
        return "\n\n".join([f"the watchdog itself was held {self.unscheduled * 1000:.0f} ms", *stacks])


@asynccontextmanager
async def trace_stalls(threshold: float = 0.1, every: float = 0.01, depth: int = 12) -> AsyncIterator[Stalls]:
    """A lag tracer: while the loop has not ticked for `threshold` s, sample its thread's stack.

    A watchdog thread reads the loop thread's frames (sys._current_frames) every `every` s; it
    needs the GIL for that, so a stall inside C code that keeps the GIL shows at its end.
    """
    stalls, loop_thread = Stalls(every), threading.get_ident()
    ticked, stop = time.perf_counter(), threading.Event()

    async def tick() -> None:
        nonlocal ticked
        while True:
            ticked = time.perf_counter()
            await asyncio.sleep(every)

    def watch() -> None:
        woke = time.perf_counter()
        while not stop.wait(every):
            now, late = time.perf_counter(), time.perf_counter() - woke - every
            stalls.unscheduled += late if late > threshold else 0.0
            woke = now
            if now - ticked > threshold:
                frame = sys._current_frames().get(loop_thread)
                if frame is not None:
                    stack = traceback.format_list(traceback.extract_stack(frame)[-depth:])
                    stalls.samples["".join(stack)] += 1

    ticker, watcher = asyncio.create_task(tick()), threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield stalls
    finally:
        stop.set()
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
        await asyncio.to_thread(watcher.join)
