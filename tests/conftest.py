"""Fixtures: real databases (SQLite and PostgreSQL) and the real Application on the emulator."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.ext import Application

from bot.app import build_application
from bot.sending import SendingLimits
from core.config import Settings
from core.logs import JsonFormatter
from db.engine import create_engine
from db.migrate import upgrade_to_head
from db.models import Base
from devtools.emulator import BotApiEmulator
from devtools.emulator.request import EmulatorRequest
from tests.harness import BotHarness, Clock

PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TEST_TOKEN = "123456789:TEST-token"
RESEARCHER_ID = 5_000_000_001
TEST_KEY = "e4a95c182471781d771293e168246325f8e2ed6b0496343e4eb211b4574cd983"


async def _pg_admin(statement: str) -> None:
    import asyncpg

    url = PG_ADMIN_URL.replace("postgresql+asyncpg", "postgresql")
    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this run; unreachable means skip, or fail under CI."""
    name = f"survey_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is unreachable under CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'survey.sqlite3'}"


@pytest.fixture(scope="session")
def _migrated() -> set[str]:
    return set()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, _migrated: set[str]) -> str:
    """Each test runs once on SQLite and once on PostgreSQL."""
    url = request.getfixturevalue(f"{request.param}_url")
    if url not in _migrated:
        asyncio.run(_upgrade(url))
        _migrated.add(url)
    asyncio.run(_empty_tables(url))
    return url


async def _upgrade(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


async def _empty_tables(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(table.delete())
    finally:
        await engine.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database, for checking what was stored."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for tests: no .env file, a known key, one researcher."""
    values: dict[str, object] = {
        "bot_token": TEST_TOKEN,
        "database_url": database_url,
        "pseudonym_key": TEST_KEY,
        "researcher_ids": str(RESEARCHER_ID),
        "default_language": "ru",
        "bot_api_url": "http://127.0.0.1:1",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> BotApiEmulator:
    """Telegram, dating messages by the test's clock (deletion is allowed for 48 hours)."""
    emulator = BotApiEmulator(TEST_TOKEN)
    emulator.clock = lambda: clock().timestamp()
    return emulator


TEST_SENDING = SendingLimits(private=(0.001, 4), group=(60 / 17 / 1000, 3), bulk=(1 / 27 / 1000, 3))
"""Telegram's paces (bot/sending.py), a thousand times faster."""


async def start_application(
    settings: Settings,
    emulator: BotApiEmulator,
    clock: Clock,
    seed: int = 7,
    sending: SendingLimits | None = None,
) -> Application:
    """The production Application, built by build_application(), talking to the emulator.

    Its outgoing pace is Telegram's shape at a thousand times the speed (TEST_SENDING): the suite
    checks what respondents see, not seconds; tests/test_sending.py passes the real paces.
    """
    application = build_application(
        settings,
        request=EmulatorRequest(emulator),
        clock=clock,
        rng=random.Random(seed),
        sending=sending or TEST_SENDING,
    )
    await application.initialize()
    await application.start()
    return application


async def stop_application(application: Application) -> None:
    """Stop as run_polling would at exit (post_shutdown included: it closes the database pool)."""
    await application.stop()
    await application.shutdown()
    if application.post_shutdown:
        await application.post_shutdown(application)


@pytest.fixture
async def harness(database_url: str, emulator: BotApiEmulator, clock: Clock) -> AsyncIterator[BotHarness]:
    """The bot under test on the test database, with the emulator and a hand-moved clock."""
    application = await start_application(make_settings(database_url), emulator, clock)
    bot = BotHarness(application, emulator, clock)
    yield bot
    await stop_application(bot.application)  # the test may have replaced it (restart tests)


async def table_rows(engine: AsyncEngine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, for checking what the database holds."""
    rows: dict[str, list[tuple[object, ...]]] = {}
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows[table.name] = [tuple(r) for r in (await connection.execute(table.select())).all()]
    return rows


async def scalar(engine: AsyncEngine, sql: str, **params: object) -> object:
    async with engine.connect() as connection:
        return (await connection.execute(text(sql), params)).scalar()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything logged at INFO and above, formatted as the bot formats it in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(secrets=[TEST_TOKEN]))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def entries(stream: io.StringIO) -> list[dict[str, object]]:
    """Each line as the JSON object it must be."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Finished:
    """What `python -m bot` printed and returned."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def bot_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Callable[..., Finished]:
    """`python -m bot ARGS` in this process (a process costs a second): only `env` as settings, in tmp_path."""
    from bot.__main__ import main
    from devtools.sandbox.process import SETTING_NAMES

    def run(*args: str, env: dict[str, str] | None = None) -> Finished:
        for name in SETTING_NAMES:
            monkeypatch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        capsys.readouterr()
        returncode = main(list(args))
        printed = capsys.readouterr()
        return Finished(returncode, printed.out, printed.err)

    return run


def python_m_bot(
    *args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` as a user would: no bot setting from this environment, only `env`."""
    from devtools.sandbox.process import SETTING_NAMES

    clean = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES} | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        env=clean | (env or {}),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
