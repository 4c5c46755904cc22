"""The bot's own receiver: it feeds the application; when it dies the bot stops and `health` says so."""

from __future__ import annotations

import asyncio
import io
import json
import re
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import ALLOWED_UPDATES, build_application, build_receiver
from bot.health import STALE_BEATS, Heartbeat, UnhealthyError, check
from bot.receiving import Polling, Receiver, ReceiverDiedError, Webhook, serve
from db.migrate import head_revision
from devtools.emulator import BotApiEmulator
from devtools.emulator.client import ControlClient
from devtools.emulator.request import EmulatorRequest
from devtools.emulator.server import EmulatorServer
from devtools.sandbox.process import sandbox
from tests.conftest import ROOT, TEST_TOKEN, entries, make_settings, python_m_bot


async def test_a_receiver_that_dies_stops_the_bot_and_health_reports_it(
    database_url: str, tmp_path: Path, log_lines: io.StringIO
) -> None:
    """The bot answers through its receiver and beats; Telegram then refuses its token (the token
    was revoked): the receiver dies, the bot stops with the reason logged, and `health` fails."""
    server = EmulatorServer(BotApiEmulator(TEST_TOKEN))
    url = await server.start()
    settings = make_settings(
        database_url, bot_api_url=url, heartbeat_file=str(tmp_path / "heartbeat"), heartbeat_seconds=2
    )
    application = build_application(settings)
    receiver = Receiver(application, Polling(ALLOWED_UPDATES, 0.2), Heartbeat.of(settings))
    running = asyncio.create_task(serve(application, receiver, signals=()))
    try:
        async with ControlClient(url) as client:
            user = await client.new_user("ru")
            reply = await client.send(user, "/start")
        assert not reply.timed_out and reply.chat.bot_messages, "answered through the receiver"
        assert await check(settings) == head_revision()
        server.emulator.token = "123456789:revoked"
        with pytest.raises(ReceiverDiedError, match="InvalidToken"):
            await asyncio.wait_for(running, timeout=30)
    finally:
        await server.stop()
    assert not application.running
    died = [entry for entry in entries(log_lines) if entry["event"] == "receiver_died"]
    assert len(died) == 1 and died[0]["level"] == "error" and "InvalidToken" in str(died[0]["reason"])
    with pytest.raises(UnhealthyError, match="not receiving updates: no heartbeat"):
        await check(settings)


async def test_a_stale_heartbeat_is_unhealthy(database_url: str, tmp_path: Path) -> None:
    """A bot hung without dying (no getUpdates answered for a while) is reported too."""
    settings = make_settings(database_url, heartbeat_file=str(tmp_path / "heartbeat"), heartbeat_seconds=10)
    Heartbeat.of(settings).beat()
    assert await check(settings) == head_revision()
    settings.heartbeat_file.write_text(f"{time.time() - STALE_BEATS * 10 - 1}\n")
    with pytest.raises(UnhealthyError, match=r"last heartbeat .* 41 s ago \(limit 40 s\)"):
        await check(settings)


def test_no_private_attribute_of_ptb_is_used() -> None:
    """The Telegram glue uses PTB's public interface only: no `._name` on anything but our own `self`."""
    private = re.compile(r"(?<!self)(?<!cls)\._[a-z]\w*")
    for path in (ROOT / "bot").glob("*.py"):
        assert private.findall(path.read_text()) == [], path.name


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_bot_process_exits_1_when_its_receiver_dies(database_url: str, tmp_path: Path) -> None:
    """`python -m bot run`, answering through the emulator; Telegram then refuses its token: the
    process logs why (one JSON line at error level) and exits with status 1; `health` says so."""
    env = {"DATABASE_URL": database_url}
    async with sandbox(tmp_path, database_url) as box:
        user = await box.client.new_user("ru")
        assert not (await box.client.send(user, "/start")).timed_out
        healthy = await asyncio.to_thread(python_m_bot, "health", cwd=tmp_path, env=env)
        assert healthy.returncode == 0, healthy.stderr
        box.server.emulator.token = "123456789:revoked"
        assert await asyncio.to_thread(box.bot.process.wait, 60) == 1
    lines = [json.loads(line) for line in (tmp_path / "bot.log").read_text().splitlines()]
    died = [line for line in lines if line["event"] == "receiver_died"]
    assert len(died) == 1 and died[0]["level"] == "error" and "InvalidToken" in died[0]["reason"]
    unhealthy = await asyncio.to_thread(python_m_bot, "health", cwd=tmp_path, env=env)
    assert unhealthy.returncode == 1 and "not receiving updates" in unhealthy.stderr


async def test_a_webhook_that_cannot_listen_stops_the_bot(database_url: str, tmp_path: Path) -> None:
    """The webhook's port is taken by another program: the receiver dies at start, and says why."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = make_settings(
            database_url,
            webhook_url=f"http://127.0.0.1:{port}/telegram",
            webhook_secret="s3cret-of-16-chars",
            webhook_port=port,
            heartbeat_file=str(tmp_path / "heartbeat"),
        )
        application = build_application(settings, request=EmulatorRequest(BotApiEmulator(TEST_TOKEN)))
        receiver = build_receiver(settings, application)
        assert isinstance(receiver.source, Webhook)
        receiver.source = replace(receiver.source, listen="127.0.0.1")
        with pytest.raises(ReceiverDiedError, match="OSError"):
            await asyncio.wait_for(serve(application, receiver, signals=()), timeout=30)
    assert not application.running and not settings.heartbeat_file.exists()
