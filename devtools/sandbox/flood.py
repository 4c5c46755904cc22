"""One account floods the bot with messages while other respondents take the survey; their reply times.

Shared by tests/test_fairness.py and bench/fairness.py. The flooder sends /start, then its
messages at once: they are put straight into the emulator's queue of updates, as Telegram's servers
would queue them (the control API's HTTP requests would cost this process more than the bot); the
respondents (straight personas, thinking a moment per screen as people do) take the survey
meanwhile, each action timed from sending it to the bot's reply.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from db.engine import create_engine
from db.models import ProcessedUpdate
from devtools.emulator.client import ControlClient, Reply
from devtools.emulator.core import RateLimit
from devtools.emulator.server import EmulatorServer
from devtools.sandbox.crowd import Outcome, Patience, Respondent, Tally
from devtools.sandbox.personas import straight_persona
from devtools.sandbox.screens import Reader
from devtools.sandbox.scripted import percentile

FLOOD = 1000
PRIVATE_CHAT_LIMIT = RateLimit(5, 1.0)
"""Telegram's limit in a private chat, for the emulator: about one message a second, bursts allowed."""
FLOOD_TEXT = "flood"
THINK = 0.3
"""Seconds a respondent takes per screen (each time between half and one and a half of this)."""


class TimedClient(ControlClient):
    """A control client that notes how long each user action waited for the bot's reply."""

    def __init__(self, base_url: str, connections: int = 100) -> None:
        super().__init__(base_url, connections)
        self.reply_times: list[float] = []

    async def send(self, user_id: int, text: str | None = None, **options: Any) -> Reply:
        started = time.perf_counter()
        reply = await super().send(user_id, text, **options)
        self.reply_times.append(time.perf_counter() - started)
        return reply

    async def press(self, user_id: int, label: str, **options: Any) -> Reply:
        started = time.perf_counter()
        reply = await super().press(user_id, label, **options)
        self.reply_times.append(time.perf_counter() - started)
        return reply


@dataclass
class FloodRun:
    """The flooder, the update ids of its flood, and the other respondents' outcomes and reply times."""

    flooder: int
    flood: list[int]
    outcomes: list[Outcome]
    reply_times: list[float]
    flood_seconds: float
    """How long sending the whole flood took."""

    def percentile(self, p: float) -> float:
        """The reply time (ms) below which a share `p` of the respondents' actions were answered."""
        return percentile(self.reply_times, p) * 1000


async def flood_while_surveyed(
    server: EmulatorServer, reader: Reader, messages: int = FLOOD, respondents: int = 1, seed: int = 13
) -> FloodRun:
    """One account sends `messages` messages at once while `respondents` others take the survey."""
    rng = random.Random(seed)
    timed = TimedClient(server.url)
    async with ControlClient(server.url) as flooding, timed:
        flooder = await flooding.new_user("ru", first_name="Flood")
        await flooding.send(flooder, "/start")
        tally, patience = Tally(respondents), Patience(think=THINK)
        people = [
            Respondent(timed, reader, straight_persona(rng), tally, patience, random.Random(rng.random()))
            for _ in range(respondents)
        ]
        surveys = asyncio.gather(*(person.run() for person in people))
        started = time.perf_counter()
        flood = []
        for _ in range(messages):
            update = server.emulator.user_message(server.users[flooder], text=FLOOD_TEXT)
            server.enqueue(update)
            flood.append(int(update["update_id"]))
        flood_seconds = time.perf_counter() - started
        outcomes = await surveys
    return FloodRun(flooder, flood, list(outcomes), timed.reply_times, flood_seconds)


async def handled(database_url: str, update_ids: list[int]) -> int:
    """How many of these updates the bot handled (claimed in processed_updates)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            statement = select(func.count()).where(ProcessedUpdate.update_id.in_(update_ids))
            return int((await connection.execute(statement)).scalar_one())
    finally:
        await engine.dispose()
