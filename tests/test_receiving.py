"""The bot's own receiver: it feeds the application; when it dies the bot stops and `health` says so."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import socket
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from bot.app import ALLOWED_UPDATES, build_application, build_receiver
from bot.health import STALE_BEATS, Heartbeat, UnhealthyError, check
from bot.receiving import SECRET_HEADER, Polling, Receiver, ReceiverDiedError, Webhook, serve
from db.migrate import head_revision
from devtools.emulator import BotApiEmulator
from devtools.emulator.client import ControlClient
from devtools.emulator.request import EmulatorRequest
from devtools.emulator.server import EmulatorServer
from devtools.sandbox.process import sandbox
from tests.conftest import ROOT, TEST_KEY, TEST_TOKEN, entries, make_settings, python_m_bot


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


async def test_polling_refuses_what_is_not_an_update_and_answers_the_rest(
    database_url: str, log_lines: io.StringIO
) -> None:
    """A polled batch with a private message without its sender: that update is refused with one
    warning and confirmed, never handled; the person after it is answered."""
    server = EmulatorServer(BotApiEmulator(TEST_TOKEN))
    url = await server.start()
    settings = make_settings(database_url, bot_api_url=url)
    application = build_application(settings)
    receiver = Receiver(application, Polling(ALLOWED_UPDATES, 0.2), Heartbeat.of(settings))
    running = asyncio.create_task(serve(application, receiver, signals=()))
    try:
        no_sender = {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi"}
        server.enqueue(server.emulator.raw_update({"message": no_sender}))
        async with ControlClient(url) as client:
            user = await client.new_user("ru")
            reply = await client.send(user, "/start")
        assert not reply.timed_out and reply.chat.bot_messages
    finally:
        receiver.stopping.set()
        await asyncio.wait_for(running, timeout=30)
        await server.stop()
    assert not server.pending, "every update confirmed, the refused one too"
    warned = [e["event"] for e in entries(log_lines) if e["level"] in ("warning", "error", "critical")]
    assert warned == ["update_refused"]


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
@pytest.mark.slow
async def test_the_bot_process_exits_when_its_receiver_dies(database_url: str, tmp_path: Path) -> None:
    """`python -m bot run`, answering through the emulator; Telegram then refuses its token: the
    process logs why (one JSON line at error level) and exits with status 1; `health` says so."""
    env = {"DATABASE_URL": database_url}
    async with sandbox(tmp_path, database_url) as box:
        user = await box.client.new_user("ru")
        assert not (await box.client.send(user, "/start")).timed_out
        healthy = await asyncio.to_thread(python_m_bot, "health", cwd=tmp_path, env=env)
        assert healthy.returncode == 0, healthy.stderr
        box.server.emulator.token = "123456789:revoked"
        assert await asyncio.to_thread(box.bot.process.wait, 60) == 2, "a rejected token: exit 2"
    *logged, last = (tmp_path / "bot.log").read_text().splitlines()
    assert last.startswith("configuration error: BOT_TOKEN: Telegram rejected")
    lines = [json.loads(line) for line in logged]
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


async def test_the_webhook_refuses_what_is_not_an_update_without_a_traceback(
    database_url: str, tmp_path: Path, log_lines: io.StringIO
) -> None:
    """Malformed bodies get a 4xx and one warning, never a handler error; a wrong secret gets 403."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    secret = "s3cret-of-16-chars"
    settings = make_settings(
        database_url,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_secret=secret,
        webhook_port=port,
        heartbeat_file=str(tmp_path / "heartbeat"),
    )
    application = build_application(settings, request=EmulatorRequest(BotApiEmulator(TEST_TOKEN)))
    receiver = build_receiver(settings, application)
    assert isinstance(receiver.source, Webhook)
    receiver.source = replace(receiver.source, listen="127.0.0.1")
    running = asyncio.create_task(serve(application, receiver, signals=()))
    no_sender = {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi"}
    bodies = ["null", "[]", "{}", '"update"', "{not json", json.dumps({"update_id": 2**70}),
              json.dumps({"update_id": -1}), json.dumps({"update_id": True}),
              json.dumps({"update_id": 7, "message": no_sender})]  # fmt: skip
    url = f"http://127.0.0.1:{port}/telegram"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # until the server listens (serve() starts it)
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.post(url, data="null") as response:
                        break
                await asyncio.sleep(0.05)
            statuses = []
            for body in bodies:
                headers = {SECRET_HEADER: secret, "Content-Type": "application/json"}
                async with http.post(url, data=body, headers=headers) as response:
                    statuses.append(response.status)
            async with http.post(url, data="{}", headers={SECRET_HEADER: secret[:-1] + "X"}) as response:
                wrong_secret = response.status
    finally:
        receiver.stopping.set()
        await asyncio.wait_for(running, timeout=30)
    assert statuses == [400] * len(bodies) and wrong_secret == 403
    logged = entries(log_lines)
    assert [
        e for e in logged if e["level"] in ("error", "critical") or "exc_info" in e or "traceback" in e
    ] == []
    assert sum(e["event"] == "webhook_refused" for e in logged) == len(bodies)


@pytest.mark.slow
async def test_a_rejected_token_stops_the_bot_with_one_line_that_does_not_show_it(tmp_path: Path) -> None:
    """Telegram refuses the token at start: exit 2, one line naming BOT_TOKEN, the token nowhere."""
    server = EmulatorServer(BotApiEmulator(TEST_TOKEN))
    url = await server.start()
    token = "987654321:not-the-token-telegram-knows"
    env = {"BOT_TOKEN": token, "PSEUDONYM_KEY": TEST_KEY, "BOT_API_URL": url}
    try:
        result = await asyncio.to_thread(python_m_bot, "run", cwd=tmp_path, env=env, timeout=120)
    finally:
        await server.stop()
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1].startswith("configuration error: BOT_TOKEN: Telegram rejected")
    )
    assert token not in result.stderr and token.split(":")[1] not in result.stdout
