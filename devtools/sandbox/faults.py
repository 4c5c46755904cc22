"""Fault runs: a simulated crowd takes the survey while something goes wrong, then the data is checked.

Each run starts the real bot process(es) on the emulator, lets a crowd of simulated respondents
take the survey, disturbs the bot meanwhile, and then checks the database against what the
crowd did: every answer the bot acknowledged is stored as given ("lost: 0"), no row twice
("doubled: 0"), every respondent got through, and none met a dead end ("dead ends: 0": a press
of the question the database has on turn answered "already answered", or answers not taken
until the person sent /start). bench/faults.py prints these runs; the tests in
tests/test_faults.py run them smaller.

- `kill_run`: the bot process is killed with SIGKILL at random moments and started again.
- `postgres_restart_run`: the PostgreSQL server is stopped and started again mid-run; the same
  bot process must carry on, telling respondents to try again meanwhile.
- `sqlite_lock_run`: another program holds SQLite's write lock for seconds at a time.
- `replicas_run`: two bot processes behind one webhook URL on one PostgreSQL database, with a
  digest due during the run.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import make_url

from core.i18n import I18n
from db.engine import one_session
from db.models import DigestPost, DigestStatus
from devtools.emulator.client import ChatView
from devtools.sandbox.crowd import Outcome, Patience, run_crowd
from devtools.sandbox.personas import Ending
from devtools.sandbox.process import DIGEST_CHANNEL_ID, Sandbox, sandbox
from devtools.sandbox.screens import Reader
from devtools.sandbox.verify import (
    Check,
    FaultCheck,
    check_acknowledged,
    check_database,
    current_question,
)
from research.digest import TITLE
from survey.model import load_questionnaire

THINK = 10.0
"""Seconds a simulated person of the 200-respondent runs takes per screen (5 to 15): with 200 of
them at once the bot gets about 15 actions a second, the most that Telegram's 30 messages a
second allow (an answer costs two: the answered question edited, the next one sent)."""
PATIENT = Patience(reply_timeout=20.0, resumes=40, pause=0.5, think=THINK)
"""A crowd that waits 20 s for a reply, then sends /start to pick up where the bot left off."""
STRICT = Patience(think=THINK)
"""A crowd that gives no second chance: a single error or silence (60 s) leaves a person stuck."""
SANDBOX_TIMEZONE = "Asia/Almaty"
DIGEST_LANGUAGE = "kk"
"""The first of the sandbox's DIGEST_LANGUAGES (kk,ru): each digest begins with its title in it."""
DIGEST_SETTLE = 30.0
Disturbance = Callable[[asyncio.Task[list[Outcome]]], Awaitable[dict[str, object]]]


@dataclass
class FaultRun:
    """What a fault run did and what the database holds afterwards."""

    name: str
    outcomes: list[Outcome]
    check: Check
    faults: FaultCheck
    seconds: float
    figures: dict[str, object] = field(default_factory=dict)

    @property
    def stuck(self) -> int:
        return sum(outcome.status == "stuck" for outcome in self.outcomes)

    @property
    def silences(self) -> int:
        return sum(outcome.silences for outcome in self.outcomes)

    @property
    def notices(self) -> int:
        return sum(outcome.notices for outcome in self.outcomes)

    @property
    def dead_ends(self) -> list[str]:
        return [f"respondent {o.user_id}: {dead_end}" for o in self.outcomes for dead_end in o.dead_ends]

    @property
    def ok(self) -> bool:
        faults = self.faults
        return (
            self.check.ok and not faults.lost and not faults.doubled and not self.stuck and not self.dead_ends
        )

    def report(self) -> str:
        """The run's figures, one line each."""
        finished = len(self.outcomes) - self.stuck
        lines = [
            f"{self.name}: {len(self.outcomes)} respondents in {self.seconds:.0f} s, {finished} got through, "
            f"{self.stuck} stuck",
            *(f"  {name}: {value}" for name, value in self.figures.items()),
            f"  replies not received in time: {self.silences}, 'try again' notices: {self.notices}",
            f"  {self.check.summary()}",
            f"  {self.faults.summary()}",
            f"  dead ends: {len(self.dead_ends)}",
            *(
                f"  problem: {problem}"
                for problem in [*self.check.problems, *self.faults.lost, *self.dead_ends][:20]
            ),
        ]
        return "\n".join(lines)


async def crowd_under(
    box: Sandbox,
    database_url: str,
    name: str,
    size: int,
    seed: int,
    patience: Patience,
    disturb: Disturbance,
    progress: bool = False,
    ending: Ending | None = None,
) -> FaultRun:
    """Run the crowd while `disturb` does its harm (until the crowd is done); check the database."""
    questionnaire = load_questionnaire()
    reader = Reader(I18n.load(), questionnaire)
    key = str(box.settings["pseudonym_key"])
    where = partial(current_question, database_url, key)
    started = time.monotonic()
    crowd = asyncio.create_task(
        run_crowd(
            box.client, reader, size, seed, progress=progress, patience=patience, ending=ending, where=where
        )
    )
    try:
        figures = await disturb(crowd)
        outcomes = await crowd
    finally:
        crowd.cancel()
    seconds = time.monotonic() - started
    check = await check_database(database_url, key, outcomes, questionnaire)
    faults = await check_acknowledged(database_url, key, outcomes, questionnaire)
    return FaultRun(name, outcomes, check, faults, seconds, figures)


async def _pause(crowd: asyncio.Task[list[Outcome]], seconds: float) -> bool:
    """Wait `seconds` unless the crowd finishes first; True if it is still running."""
    await asyncio.wait([crowd], timeout=seconds)
    return not crowd.done()


# ---- kill -9 ------------------------------------------------------------------------------------


async def kill_run(
    folder: Path,
    database_url: str,
    size: int,
    seed: int = 7,
    between: tuple[float, float] = (5.0, 15.0),
    kills: int | None = None,
    patience: Patience = PATIENT,
    progress: bool = False,
) -> FaultRun:
    """SIGKILL the bot at random moments (`between` seconds apart) during the crowd run, restarting it.

    The kills go on until the crowd is done, or until there were `kills` of them.
    """
    rng = random.Random(seed)
    async with sandbox(folder, database_url, connections=size + 10) as box:

        async def kill(crowd: asyncio.Task[list[Outcome]]) -> dict[str, object]:
            done, downtime = 0, 0.0
            while (kills is None or done < kills) and await _pause(crowd, rng.uniform(*between)):
                began = time.monotonic()
                await box.kill_and_restart()
                done, downtime = done + 1, downtime + time.monotonic() - began
            return {"kill -9 and restart": done, "seconds down (kill to ready)": f"{downtime:.0f}"}

        return await crowd_under(box, database_url, "kill -9", size, seed, patience, kill, progress)


# ---- PostgreSQL restarted -----------------------------------------------------------------------


class RestartableServer(Protocol):
    """A PostgreSQL server a fault run may stop and start."""

    @property
    def admin_url(self) -> str: ...

    def restart(self, down: float) -> None: ...


@dataclass
class SharedServer:
    """The machine's cluster, restarted with Debian's pg_ctlcluster (as root): disturbs all its users."""

    admin_url: str
    version: str
    cluster: str = "main"

    def _control(self, action: str) -> None:
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.cluster, action]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def restart(self, down: float) -> None:
        """Stop, stay down for `down` seconds, start again."""
        self._control("stop")
        time.sleep(down)
        self._control("start")


async def postgres_restart_run(
    folder: Path,
    server: RestartableServer,
    database_url: str,
    size: int,
    seed: int = 8,
    restarts: int = 1,
    down: float = 3.0,
    patience: Patience = PATIENT,
    progress: bool = False,
) -> FaultRun:
    """Stop the database server for `down` seconds, `restarts` times during the run; the bot stays up."""
    async with sandbox(folder, database_url, connections=size + 10) as box:
        pid = box.bot.pid

        async def restart(crowd: asyncio.Task[list[Outcome]]) -> dict[str, object]:
            done = 0
            while done < restarts and await _pause(crowd, 4.0):
                await asyncio.to_thread(server.restart, down)
                done += 1
            await crowd
            errors = sum(entry.get("event") == "handler_error" for entry in read_log(box.bot.log_path))
            return {
                f"database server stopped for {down:.0f} s and started": done,
                "handler errors logged": errors,
                "bot process exits": 0 if box.bot.pid == pid and not box.bot.exited else 1,
            }

        name = "PostgreSQL restart"
        return await crowd_under(box, database_url, name, size, seed, patience, restart, progress)


UNSTRUCTURED = "unstructured"


def read_log(path: Path) -> list[dict[str, object]]:
    """The bot's log, one JSON object per line (a line that is not one: event "unstructured")."""
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            entries.append({"event": UNSTRUCTURED, "line": line})
    return entries


# ---- SQLite's write lock held elsewhere ---------------------------------------------------------


@asynccontextmanager
async def write_lock(database_url: str) -> AsyncIterator[None]:
    """The write lock of the SQLite file of `database_url`, held by another connection while inside."""
    path = str(make_url(database_url).database)
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        await asyncio.to_thread(connection.execute, "BEGIN IMMEDIATE")
        yield
        await asyncio.to_thread(connection.execute, "COMMIT")
    finally:
        connection.close()


async def sqlite_lock_run(
    folder: Path,
    database_url: str,
    size: int,
    seed: int = 9,
    hold: float = 3.0,
    patience: Patience = STRICT,
    progress: bool = False,
) -> FaultRun:
    """Another program holds the write lock for `hold` seconds, again and again, during the run."""
    async with sandbox(folder, database_url, connections=size + 10) as box:

        async def lock(crowd: asyncio.Task[list[Outcome]]) -> dict[str, object]:
            held = 0
            while await _pause(crowd, 1.0):
                async with write_lock(database_url):
                    await asyncio.sleep(hold)
                held += 1
            return {f"write lock held elsewhere for {hold:.0f} s": f"{held} times"}

        return await crowd_under(box, database_url, "SQLite locked", size, seed, patience, lock, progress)


# ---- two replicas -------------------------------------------------------------------------------


def daily_at(moment: datetime, timezone: str = SANDBOX_TIMEZONE) -> str:
    """A cron schedule that fires once a day, at `moment`'s minute (in `timezone`)."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local.minute} {local.hour} * * *"


async def replicas_run(
    folder: Path,
    database_url: str,
    size: int,
    seed: int = 10,
    digest_in: float = 60.0,
    patience: Patience = STRICT,
    progress: bool = False,
) -> FaultRun:
    """Two bot processes behind one webhook URL; a digest falls due `digest_in` s after the start.

    Every simulated respondent completes the survey (mistakes, double taps and all on the way).

    A negative `digest_in` makes the digest already due as the replicas start (each looks for a
    missed one at start), so both claim it at once.
    """
    due = (datetime.now(ZoneInfo(SANDBOX_TIMEZONE)) + timedelta(seconds=digest_in)).replace(second=0)
    if digest_in >= 0:
        due += timedelta(minutes=1)
    settings = {"digest_schedule": daily_at(due), "digest_grace_hours": 1, "timezone": SANDBOX_TIMEZONE}
    async with sandbox(folder, database_url, settings=settings, replicas=2, connections=size + 10) as box:

        async def serve(crowd: asyncio.Task[list[Outcome]]) -> dict[str, object]:
            await crowd
            return await _digest_figures(box, database_url, due)

        name = "two replicas"
        return await crowd_under(
            box, database_url, name, size, seed, patience, serve, progress, ending=Ending.COMPLETE
        )


async def _digest_figures(box: Sandbox, database_url: str, due: datetime) -> dict[str, object]:
    """Wait for the digest that fell due at `due`; count its periods and its posts in the channel."""
    title = I18n.load().gettext(DIGEST_LANGUAGE, TITLE).split("{", 1)[0]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max((due - datetime.now(due.tzinfo)).total_seconds(), 0) + DIGEST_SETTLE
    channel = await box.client.chat(DIGEST_CHANNEL_ID)
    while not _digests_in(channel, title) and loop.time() < deadline:
        channel = await box.client.wait(DIGEST_CHANNEL_ID, channel.version, deadline - loop.time())
    channel = await box.client.settle(DIGEST_CHANNEL_ID, channel.version, 1.0, 1.0)
    async with one_session(database_url) as session:
        posts = (await session.execute(select(DigestPost.period_key, DigestPost.status))).all()
    deliveries = (await box.client.stats())["backend_deliveries"]
    return {
        "updates delivered per replica": ", ".join(str(n) for n in deliveries.values()),
        "digest periods claimed": len(posts),
        "digests sent (digest_posts)": sum(status is DigestStatus.SENT for _key, status in posts),
        "digests in the channel": _digests_in(channel, title),
    }


def _digests_in(channel: ChatView, title: str) -> int:
    """How many digests a channel shows: each begins with its title in the first digest language."""
    return sum((message.text or "").startswith(title) for message in channel.bot_messages)
