"""The emulator in this process and the real bot (`python -m bot run`) as a child process against it.

Only the Bot API URL (and the token the emulator accepts) differs from production: the child is
the same program, reading the same settings from its environment. Several children can run
as replicas behind one webhook URL (the emulator then plays the load balancer), and any of
them can be killed and restarted, for the fault runs.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from core.config import Settings
from devtools.emulator.client import ControlClient
from devtools.emulator.core import BotApiEmulator
from devtools.emulator.server import EmulatorServer

ROOT = Path(__file__).resolve().parent.parent.parent
SANDBOX_TOKEN = "7000000001:SANDBOX-local-emulator-token"
RESEARCHER_ID = 800_000_001
DIGEST_CHANNEL_ID = -1_001_000_000_001
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
SETTING_NAMES = frozenset(name.upper() for name in Settings.model_fields)
BOT_COMMAND = ("-m", "bot", "run")
WEBHOOK_PATH = "/telegram"
PUBLIC_WEBHOOK_URL = f"https://survey-bot.invalid{WEBHOOK_PATH}"
"""What replicas register with setWebhook: the load balancer's address, never contacted itself."""


class BotFailed(Exception):
    """The bot process exited or never came up; the message ends with its log's last lines."""

    def __init__(self, what: str, log_path: Path) -> None:
        tail = log_path.read_text(errors="replace").splitlines()[-15:] if log_path.exists() else []
        super().__init__("\n".join([what, *tail]))


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """`count` different free ports."""
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def bot_environment(settings: Mapping[str, object]) -> dict[str, str]:
    """This process's environment without any bot setting, plus `settings` (by variable name)."""
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    env.update({name.upper(): str(value) for name, value in settings.items() if value is not None})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class BotProcess:
    """A child Python process (the bot by default) with its output in a log file."""

    def __init__(
        self, env: dict[str, str], log_path: Path, cwd: Path, command: Sequence[str] = BOT_COMMAND
    ) -> None:
        self.env, self.log_path, self.cwd, self.command = env, log_path, cwd, tuple(command)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process in `cwd` (created if missing), appending its output to the log."""
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, *self.command], env=self.env, cwd=self.cwd, stdout=log, stderr=log
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def exited(self) -> bool:
        return self.process is None or self.process.poll() is not None

    def kill(self) -> None:
        """SIGKILL: the process dies wherever it is, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> int | None:
        """SIGINT (the bot stops cleanly), then SIGKILL if it does not; the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@dataclass
class Sandbox:
    """A running emulator, the bot processes on it (one, or replicas), and a control client."""

    server: EmulatorServer
    client: ControlClient
    bots: list[BotProcess]
    settings: dict[str, object]
    up_method: str
    """The call a starting bot makes once it is ready: getUpdates (polling) or setWebhook."""

    @property
    def bot(self) -> BotProcess:
        return self.bots[0]

    @property
    def emulator(self) -> BotApiEmulator:
        return self.server.emulator

    async def kill(self, index: int = 0) -> None:
        """kill -9 one bot process."""
        await asyncio.to_thread(self.bots[index].kill)

    async def restart(self, index: int = 0) -> None:
        """Start a killed bot process again, and wait until it is back."""
        calls = self.server.calls[self.up_method]
        self.bots[index].start()
        await wait_until_up(self.client, [self.bots[index]], self.up_method, calls + 1)

    async def kill_and_restart(self, index: int = 0) -> None:
        """kill -9 one bot process, start it again, and wait until it is back."""
        await self.kill(index)
        await self.restart(index)


async def wait_until_up(client: ControlClient, bots: list[BotProcess], method: str, at_least: int) -> None:
    """Wait until the bots have called `method` `at_least` times in all (getUpdates or setWebhook)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while not await client.wait_for_call(method, at_least, within=1.0):
        for bot in bots:
            if bot.exited:
                status = bot.process.returncode if bot.process else None
                raise BotFailed(f"the bot exited with status {status}", bot.log_path)
        if loop.time() > deadline:
            raise BotFailed(f"the bot did not call {method} within {START_TIMEOUT:.0f} s", bots[0].log_path)


@asynccontextmanager
async def sandbox(
    folder: Path,
    database_url: str,
    *,
    webhook: bool = False,
    settings: Mapping[str, object] | None = None,
    command: Sequence[str] = BOT_COMMAND,
    log_name: str = "bot.log",
    connections: int = 100,
    replicas: int = 1,
) -> AsyncIterator[Sandbox]:
    """Start the emulator and the bot process on it; stop both (bots first) however the block ends.

    With `replicas` > 1 that many bot processes serve one webhook URL (webhook mode is implied);
    their logs are `log_name` with the replica's number before the suffix.
    """
    webhook = webhook or replicas > 1
    server = EmulatorServer(BotApiEmulator(SANDBOX_TOKEN, username="survey_sandbox_bot"))
    server.emulator.record_calls = False
    url = await server.start()
    values: dict[str, object] = {
        "bot_token": SANDBOX_TOKEN,
        "bot_api_url": url,
        "database_url": database_url,
        "pseudonym_key": secrets.token_hex(32),
        "researcher_ids": RESEARCHER_ID,
        "digest_chat_id": DIGEST_CHANNEL_ID,
    }
    ports = free_ports(replicas) if webhook else []
    backends = [f"http://127.0.0.1:{port}{WEBHOOK_PATH}" for port in ports]
    if webhook:
        values |= {
            "webhook_url": backends[0] if replicas == 1 else PUBLIC_WEBHOOK_URL,
            "webhook_port": ports[0],
            "webhook_secret": secrets.token_urlsafe(24),
        }
    values |= dict(settings or {})
    if replicas > 1:
        server.backends = backends
    server.emulator.open_chat(DIGEST_CHANNEL_ID, "channel", "Survey digest (sandbox)")
    log_path = folder / log_name
    bots = [
        BotProcess(
            bot_environment(values | ({"webhook_port": port} if webhook else {})),
            log_path if replicas == 1 else log_path.with_stem(f"{log_path.stem}-{number}"),
            folder,
            command,
        )
        for number, port in enumerate(ports or [0], 1)
    ]
    up_method = "setWebhook" if webhook else "getUpdates"
    try:
        async with ControlClient(url, connections) as client:
            for bot in bots:
                bot.start()
            await wait_until_up(client, bots, up_method, len(bots))
            yield Sandbox(server, client, bots, values, up_method)
    finally:
        await asyncio.gather(*(asyncio.to_thread(bot.stop) for bot in bots))
        await server.stop()
