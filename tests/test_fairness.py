"""Fairness: one account sending 1,000 messages as fast as it can delays no one else.

The real bot (build_application, its own receiver, Telegram's sending paces) against the emulator
over HTTP, which holds each private chat to about one message a second as Telegram does, in
polling and in webhook mode. Another respondent takes the survey meanwhile.
"""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.app import build_application, build_receiver
from bot.concurrency import BACKLOG
from bot.context import SERVICES
from bot.handlers import PLEASE_WAIT
from bot.receiving import Receiver, Webhook, serve
from bot.sending import SendingLimits
from conversation.services import Services
from devtools.emulator import BotApiEmulator
from devtools.emulator.client import ControlClient
from devtools.emulator.server import EmulatorServer
from devtools.sandbox.flood import FLOOD, PRIVATE_CHAT_LIMIT, FloodRun, flood_while_surveyed, handled
from devtools.sandbox.screens import Reader
from devtools.sandbox.verify import check_database
from tests.conftest import TEST_KEY, TEST_TOKEN, entries, make_settings

REPLY_P99 = 1.0
"""Seconds: the issue's bound on the other respondent's reply times while the flood goes on."""


def _free_port() -> int:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return int(free.getsockname()[1])


@dataclass
class Flooded:
    """A flood run, and after the bot stopped (the updates it had in hand finished): the emulator, the
    updates still at Telegram, and the bot's services."""

    run: FloodRun
    server: EmulatorServer
    at_telegram: int
    services: Services

    def flooder_chat(self) -> list[str]:
        return [m.plain_text for m in self.server.emulator.bot_messages(self.run.flooder)]


@asynccontextmanager
async def _running_bot(
    mode: str, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[EmulatorServer, Receiver]]:
    """The bot in `mode` on the emulator, with Telegram's paces on both sides; stopped on leaving (the
    updates it has in hand finish)."""
    server = EmulatorServer(BotApiEmulator(TEST_TOKEN))
    url = await server.start()
    server.emulator.limits.per_chat = PRIVATE_CHAT_LIMIT
    webhook: dict[str, object] = {}
    if mode == "webhook":
        port = _free_port()
        webhook = {
            "webhook_url": f"http://127.0.0.1:{port}/telegram",
            "webhook_secret": "s3cret-of-16-chars",
            "webhook_port": port,
        }
    settings = make_settings(database_url, bot_api_url=url, heartbeat_file=str(tmp_path / "beat"), **webhook)
    application = build_application(settings, sending=SendingLimits())
    receiver = build_receiver(settings, application)
    if isinstance(receiver.source, Webhook):
        receiver.source = replace(receiver.source, listen="127.0.0.1")
    running = asyncio.create_task(serve(application, receiver, signals=()))
    try:
        up = "setWebhook" if webhook else "getUpdates"
        await server.until(lambda: server.calls[up] >= 1, seconds=30)
        yield server, receiver
    finally:
        receiver.stopping.set()
        await asyncio.wait_for(running, timeout=120)
        await server.stop()


async def _flooded(mode: str, database_url: str, tmp_path: Path) -> Flooded:
    """Run the bot in `mode` while one account floods it and another takes the survey."""
    async with _running_bot(mode, database_url, tmp_path) as (server, receiver):
        services = receiver.application.bot_data[SERVICES]
        run = await flood_while_surveyed(server, Reader(services.i18n, services.questionnaire))
        at_telegram = len(server.pending)
    return Flooded(run, server, at_telegram, services)


async def _assert_the_other_respondent_was_served(
    flooded: Flooded, database_url: str, log_lines: io.StringIO
) -> None:
    run = flooded.run
    [outcome] = run.outcomes
    assert outcome.status == "complete" and outcome.silences == 0, outcome.error
    assert len(run.reply_times) >= 10, "every action of the survey was answered"
    assert run.percentile(0.99) < REPLY_P99 * 1000, run.reply_times
    check = await check_database(database_url, TEST_KEY, run.outcomes, flooded.services.questionnaire)
    assert check.problems == [] and check.complete == 1, "every answer stored as given, once"
    assert [e for e in entries(log_lines) if e["event"] in ("flood_wait", "handler_error")] == []


@pytest.mark.slow
async def test_a_polled_flood_gets_its_backlog_and_one_please_wait_and_others_flow(
    database_url: str, tmp_path: Path, log_lines: io.StringIO
) -> None:
    """Polling: the flooder's first BACKLOG messages are handled, the rest dropped (confirmed, not
    handled, not delivered again) after one "please wait" sent within the chat's pace; another
    respondent's replies keep coming within a second and every answer is stored."""
    flooded = await _flooded("polling", database_url, tmp_path)
    await _assert_the_other_respondent_was_served(flooded, database_url, log_lines)
    run = flooded.run
    assert len(run.flood) == FLOOD and flooded.at_telegram == 0, "Telegram handed out the whole flood"
    assert await handled(database_url, run.flood) == BACKLOG
    _ = flooded.services.i18n.translator("ru")
    flooder_chat = flooded.flooder_chat()
    assert flooder_chat.count(_(PLEASE_WAIT)) == 1
    assert len(flooder_chat) == 1 + BACKLOG + 1, "/start's reply, one per handled message, one notice"


@pytest.mark.slow
async def test_a_webhook_flood_waits_at_telegram_and_others_flow(
    database_url: str, tmp_path: Path, log_lines: io.StringIO
) -> None:
    """Webhook: Telegram sends a chat's next update once the last is answered, so the flood waits at
    Telegram (one update of it in the bot at a time, answered within the chat's pace) while another
    respondent's replies come within a second and every answer is stored."""
    flooded = await _flooded("webhook", database_url, tmp_path)
    await _assert_the_other_respondent_was_served(flooded, database_url, log_lines)
    done = await handled(database_url, flooded.run.flood)
    assert done >= 1 and flooded.at_telegram >= FLOOD - done - 1, "the rest is still at Telegram"
    assert len(flooded.flooder_chat()) == 1 + done, "one reply per handled message, no notice"


async def test_dropped_presses_are_answered_and_warned_once(
    database_url: str, tmp_path: Path, log_lines: io.StringIO
) -> None:
    """Five presses at once past a backlog of one: the first is handled, each of the others has its
    spinner closed without being handled, and the first of them earns the one "please wait"."""
    async with _running_bot("polling", database_url, tmp_path) as (server, receiver):
        receiver.order.backlog = 1
        _ = receiver.application.bot_data[SERVICES].i18n.translator("ru")
        async with ControlClient(server.url) as client:
            user = await client.new_user("ru")
            await client.send(user, "/start")
        emulator = server.emulator
        consent = emulator.chats[user].newest_with_buttons()
        assert consent is not None
        agree = _("I agree")
        presses = [emulator.press(server.users[user], consent, agree) for _press in range(5)]
        for press in presses:  # at once: one batch of getUpdates
            server.enqueue(press)
        queries = [press["callback_query"]["id"] for press in presses]
        await server.until(lambda: all(emulator.callback_answers[query] for query in queries))
        await server.until(lambda: _(PLEASE_WAIT) in [m.plain_text for m in emulator.bot_messages(user)])
    assert await handled(database_url, [press["update_id"] for press in presses]) == 1
    assert [m.plain_text for m in emulator.bot_messages(user)].count(_(PLEASE_WAIT)) == 1
    assert sum(e["event"] == "backlog_full" for e in entries(log_lines)) == 1
