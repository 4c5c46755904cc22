"""Faults: the bot process killed, its database restarted or locked, two replicas sharing the updates.

The runs are devtools/sandbox/faults.py's (bench/faults.py prints them with 200 respondents), here
with smaller crowds. Each checks the database against what the simulated respondents did:
every answer the bot acknowledged is there as given (lost: 0), no row twice (doubled: 0).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.handlers import TRY_AGAIN
from core.i18n import I18n
from core.privacy import pseudonym
from db.models import Answer, ProcessedUpdate, Respondent, Response
from devtools.emulator.client import ControlClient, Reply
from devtools.sandbox.crowd import Outcome, Patience
from devtools.sandbox.faults import (
    FaultRun,
    kill_run,
    postgres_restart_run,
    replicas_run,
    write_lock,
)
from devtools.sandbox.postgres import (
    PostgresUnavailable,
    PrivateServer,
    private_server,
    server_programs,
    throwaway_database,
)
from devtools.sandbox.process import SANDBOX_TOKEN, sandbox
from survey.model import load_questionnaire
from tests.harness import BotHarness

pytestmark = pytest.mark.slow
LOG_FIELDS = {"time", "level", "logger", "event"}
QUICK = Patience(reply_timeout=5.0, resumes=20, pause=0.5)
"""A patient crowd without the 200-person runs' time to think: small crowds here act at once."""


def assert_ran_clean(run: FaultRun) -> None:
    """Everyone got through, without a dead end; every acknowledged answer is stored as given, once."""
    assert run.stuck == 0, [o.error for o in run.outcomes if o.error]
    assert run.dead_ends == []
    assert run.check.ok, run.check.problems
    assert run.faults.lost == [] and run.faults.doubled == 0
    assert run.faults.acknowledged > 5 * len(run.outcomes)


def assert_logs_clean(paths: list[Path], forbidden: set[str]) -> list[dict[str, object]]:
    """Every line of the bots' logs is one JSON event; none shows a `forbidden` value. The entries."""
    entries = []
    for path in paths:
        text = path.read_text()
        leaked = sorted(value for value in forbidden if value.lower() in text.lower())
        assert leaked == [], f"{path.name} shows {leaked}"
        for line in text.splitlines():
            entry = json.loads(line)
            assert set(entry) >= LOG_FIELDS, line
            entries.append(entry)
    return entries


def crowd_secrets(outcomes: list[Outcome]) -> set[str]:
    """What the crowd's logs must not show: user ids and the texts they typed."""
    typed = {
        str(o.persona.answers[q])
        for o in outcomes
        for q in ("city_name", "comment")
        if q in o.persona.answers
    }
    return {str(o.user_id) for o in outcomes} | (typed - {"skip"}) | {SANDBOX_TOKEN}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_killed_bot_loses_no_acknowledged_answer(database_url: str, tmp_path: Path) -> None:
    """kill -9 at random moments, restarted each time: every acknowledged answer stored, once.

    (bench/faults.py kill does it with 200 respondents, on SQLite or PostgreSQL.)
    """
    run = await kill_run(tmp_path, database_url, 10, seed=3, between=(1.0, 2.0), kills=3, patience=QUICK)
    assert run.figures["kill -9 and restart"] >= 2
    assert_ran_clean(run)
    assert_logs_clean([tmp_path / "bot.log"], crowd_secrets(run.outcomes))


@asynccontextmanager
async def respondent_held(database_url: str, engine: AsyncEngine, key: str, user: int) -> AsyncIterator[None]:
    """While inside, the bot cannot handle `user`'s updates: SQLite's write lock, or their row locked."""
    if database_url.startswith("sqlite"):
        async with write_lock(database_url):
            yield
        return
    async with engine.begin() as connection:
        await connection.execute(
            select(Respondent.id).where(Respondent.pseudonym == pseudonym(key, user)).with_for_update()
        )
        yield


@pytest.mark.parametrize(
    ("database_url", "replicas"), [("sqlite", 1), ("postgresql", 2)], indirect=["database_url"]
)
async def test_a_message_the_killed_bot_had_taken_is_answered_after_all(
    database_url: str, replicas: int, engine: AsyncEngine, tmp_path: Path
) -> None:
    """The bot took a message from Telegram and died before handling it: it is answered all the same.

    Polling (one bot, SQLite): the restarted bot answers it. Webhook (two replicas, PostgreSQL):
    Telegram delivers it again, to a replica. bot/receiving.py confirms an update once handled.
    """
    _ = I18n.load().translator("ru")
    async with sandbox(tmp_path, database_url, replicas=replicas) as box:
        client = box.client
        key = str(box.settings["pseudonym_key"])
        user = await client.new_user("ru")
        await client.send(user, "/start")
        await client.press(user, _("I agree"))
        async with respondent_held(database_url, engine, key, user):
            taken = await client.send(user, "41", wait="none")
            server = box.server
            await server.until(
                lambda: server.handed_out >= (taken.update_id or 0)
            )  # the bot has it, and waits
            for replica in range(replicas):
                await box.kill(replica)
            assert (await client.chat(user)).version == taken.chat.version, "no reply while held"
        for replica in range(replicas):
            await box.restart(replica)
        chat = await client.settle(user, after=taken.chat.version, first=15.0, quiet=1.0)
    assert chat.version > taken.chat.version
    assert chat.bot_messages[-1].text == _("What is your gender?")
    async with engine.connect() as connection:
        stored = await connection.execute(
            select(Answer.question, Answer.number)
            .join(Response)
            .join(Respondent)
            .where(Respondent.pseudonym == pseudonym(key, user))
        )
    assert stored.all() == [("age", 41)]


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PrivateServer]:
    """A PostgreSQL server of this test's own, to restart without disturbing the shared one."""
    try:
        server_programs()
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    with private_server() as server:
        yield server


async def test_postgres_restart_gets_try_again_not_silence(
    postgres_server: PrivateServer, tmp_path: Path
) -> None:
    """The database server stops and starts mid-run: the same bot process tells people to try again,
    then carries on; nothing acknowledged is lost."""
    async with throwaway_database(postgres_server.admin_url, "survey_test_restart") as url:
        # Each taking a moment per screen, so that the crowd is still there when the server stops
        # (4 s in): at once, ten respondents could be done by then.
        patience = dataclasses.replace(QUICK, think=0.5)
        run = await postgres_restart_run(
            tmp_path, postgres_server, url, 10, restarts=1, down=2.0, patience=patience
        )
    assert run.figures["bot process exits"] == 0
    assert run.silences == 0 and run.notices > 0
    assert_ran_clean(run)
    entries = assert_logs_clean([tmp_path / "bot.log"], crowd_secrets(run.outcomes))
    errors = [e for e in entries if e["event"] == "handler_error"]
    assert errors and all(e["level"] == "error" and "traceback" in e for e in errors)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_write_lock_held_elsewhere_is_waited_out(harness: BotHarness, database_url: str) -> None:
    """Another connection holds SQLite's write lock: answers wait for it, no error is shown.

    The first answer's transaction waits at BEGIN IMMEDIATE; the others queue behind it in the process
    (db.engine.writing), in arrival order."""
    _ = harness.services.i18n.translator("ru")
    users = [harness.user(language_code="ru") for _ in range(3)]
    for user in users:
        await user.send("/start")
        await user.press(_("I agree"))
    asked = [user.last.plain_text for user in users]
    engine = harness.services.engine.sync_engine
    waiting = asyncio.Event()

    def on_statement(*_args: object) -> None:
        waiting.set()  # a transaction's first statement (BEGIN IMMEDIATE) waits for the lock

    async with write_lock(database_url):
        event.listen(engine, "before_cursor_execute", on_statement)
        answers = asyncio.gather(*(user.send("41") for user in users))
        await asyncio.wait_for(waiting.wait(), 20)
        assert [user.last.plain_text for user in users] == asked and not answers.done()
        event.remove(engine, "before_cursor_execute", on_statement)
    await answers
    for user in users:
        assert user.last.plain_text == _("What is your gender?")
        assert not any(m.plain_text == _(TRY_AGAIN) for m in user.messages)


async def _deliveries_when_all_answered(client: ControlClient) -> list[int]:
    """Webhook deliveries per replica, once the replicas have answered every one (they answer
    Telegram after handling an update, so a reply can arrive before its delivery is done)."""
    return list((await client.idle())["backend_deliveries"].values())


async def _double_tap(client: ControlClient, user: int, label: str) -> list[Reply]:
    """Two presses of one button at once: with two replicas, one goes to each."""
    taps = await asyncio.gather(client.press(user, label), client.press(user, label), return_exceptions=True)
    return [tap for tap in taps if isinstance(tap, Reply)]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_replicas_take_one_persons_updates_in_turn(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    """Each update of one person goes to the other replica; double taps reach both at once.
    The answers are stored in order, once; every question is asked once; the logs show no identity."""
    questionnaire = load_questionnaire()
    identity = {"987654321", "aigerim_k", "Aigerim", "Kassymova"}
    typed = {"Жезқазған-құпия", "Менің жеке пікірім 4821"}
    async with sandbox(tmp_path, database_url, replicas=2) as box:
        client = box.client
        _ = I18n.load().translator("ru")
        user = await client.new_user("ru", "Aigerim", 987654321, last_name="Kassymova", username="aigerim_k")
        await client.send(user, "/start")
        await client.press(user, _("I agree"))
        await client.send(user, "41")
        await _double_tap(client, user, _("Female"))
        await _double_tap(client, user, _("Another city"))
        await client.send(user, "Жезқазған-құпия")
        await client.press(user, _("Telegram channels"))
        await client.press(user, _("Russian TV channels"))
        await client.press(user, _("Done"))
        await _double_tap(client, user, _("Telegram channels"))
        await _double_tap(client, user, _("I don't take sides, I want peace"))
        await _double_tap(client, user, _("It is the right course"))
        await client.press(user, _("None of these"))
        await client.press(user, _("Done"))
        await client.send(user, "Менің жеке пікірім 4821")
        deliveries = await _deliveries_when_all_answered(client)
        key = str(box.settings["pseudonym_key"])
        chat = await client.chat(user)
    assert len(deliveries) == 2 and abs(deliveries[0] - deliveries[1]) <= 1
    async with engine.connect() as connection:
        handled = await connection.scalar(select(func.count()).select_from(ProcessedUpdate))
        answered = dict(
            (
                await connection.execute(
                    select(Answer.question, Answer.answered_at)
                    .join(Response)
                    .join(Respondent)
                    .where(Respondent.pseudonym == pseudonym(key, user))
                )
            ).all()
        )
    # Exactly once, each by its own claim: a typed answer by its message (kept for /delete), a press on a
    # question by the step it moved on; only /start and "I agree" take a row in processed_updates.
    assert handled == 2, "the two updates that no step or message claims"
    asked = [
        "age",
        "gender",
        "city",
        "city_name",
        "sources",
        "main_source",
        "stance",
        "neutrality",
        "relatives",
        "comment",
    ]
    # In order, once each; answered_at is stored to the second, so answers in one second tie.
    assert sorted(answered) == sorted(asked)
    times = [answered[question] for question in asked]
    assert times == sorted(times)
    for question in asked:
        shown = [m for m in chat.bot_messages if _(questionnaire[question].text) in (m.text or "")]
        assert len(shown) == 1, question
    assert_logs_clean([tmp_path / "bot-1.log", tmp_path / "bot-2.log"], identity | typed | {SANDBOX_TOKEN})


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_replicas_serve_a_crowd_and_post_the_digest_once(database_url: str, tmp_path: Path) -> None:
    """Two replicas, one database, one digest channel, a digest due as both start: it is posted once;
    every survey is completed, every answer stored once."""
    run = await replicas_run(tmp_path, database_url, 12, digest_in=-60, patience=Patience())
    assert_ran_clean(run)
    assert [outcome.status for outcome in run.outcomes] == ["complete"] * 12
    assert run.check.complete == 12
    assert run.figures["digest periods claimed"] == 1
    assert run.figures["digests sent (digest_posts)"] == 1
    assert run.figures["digests in the channel"] == 1
    logs = [tmp_path / "bot-1.log", tmp_path / "bot-2.log"]
    assert [e["event"] for e in assert_logs_clean(logs, crowd_secrets(run.outcomes))].count(
        "digest_sent"
    ) == 1
