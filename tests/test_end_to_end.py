"""The bot as a separate process against the emulator over HTTP: polling, webhook, and the sandbox."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from aiohttp import ClientSession

from core.i18n import I18n
from devtools.emulator.server import SECRET_HEADER
from devtools.sandbox.crowd import run_crowd
from devtools.sandbox.process import sandbox
from devtools.sandbox.run import sandbox_run
from devtools.sandbox.screens import Reader
from devtools.sandbox.verify import check_database
from survey.model import load_questionnaire
from tests.conftest import ROOT, TEST_KEY, TEST_TOKEN, python_m_bot

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_bot_process_completes_surveys_over_http(
    database_url: str, tmp_path: Path, webhook: bool
) -> None:
    """`python -m bot run` on the emulator takes a small crowd through the survey; the data is as given."""
    questionnaire = load_questionnaire()
    reader = Reader(I18n.load(), questionnaire)
    async with sandbox(tmp_path, database_url, webhook=webhook) as box:
        outcomes = await run_crowd(box.client, reader, 8, seed=6, progress=False, spread=0.5)
        stats = await box.client.stats()
        key = str(box.settings["pseudonym_key"])
        if webhook:
            assert await _post_to_bot(str(box.settings["webhook_url"]), "not-the-secret") == 403
    assert stats["mode"] == ("webhook" if webhook else "polling")
    assert [o.error for o in outcomes if o.error] == []
    check = await check_database(database_url, key, outcomes, questionnaire)
    assert check.ok, check.problems
    assert check.complete == sum(o.status == "complete" for o in outcomes) >= 5


async def _post_to_bot(url: str, secret: str) -> int:
    """POST an update to the bot's webhook with `secret`; the HTTP status."""
    update = {
        "update_id": 999_999,
        "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}},
    }
    async with (
        ClientSession() as http,
        http.post(url, json=update, headers={SECRET_HEADER: secret}) as answer,
    ):
        return answer.status


def test_webhook_mode_needs_a_secret(tmp_path: Path) -> None:
    """WEBHOOK_URL without WEBHOOK_SECRET is a configuration error, not an open webhook."""
    env = {
        "BOT_TOKEN": TEST_TOKEN,
        "PSEUDONYM_KEY": TEST_KEY,
        "WEBHOOK_URL": "https://survey.example/telegram",
    }
    result = python_m_bot("run", cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "configuration error: WEBHOOK_SECRET: not set"


async def test_sandbox_crowd_leaves_every_answer_once(tmp_path: Path) -> None:
    """A sandbox run with a small crowd: the database holds each respondent's answers, once, as given."""
    out = io.StringIO()
    result = await sandbox_run(16, 11, tmp_path / "sandbox", 0, out)
    statuses = {o.status for o in result.outcomes}
    assert result.exit_code == 0, out.getvalue()
    assert result.check.ok and result.check.complete >= 10
    assert "complete" in statuses and len(statuses) >= 2
    languages = {o.persona.language for o in result.outcomes if o.status == "complete"}
    assert languages == {"kk", "ru"}
    text = out.getvalue()
    assert "━━━ researcher: /stats" in text and "database check" in text
    assert (tmp_path / "sandbox" / "researcher.txt").read_text().startswith("━━━ researcher: /stats")
    assert (tmp_path / "sandbox" / "digest.txt").exists()


def test_sandbox_command_line(tmp_path: Path) -> None:
    """`python -m bot sandbox` runs the crowd, checks the database and writes its files."""
    result = python_m_bot("sandbox", "--respondents", "3", "--digest-wait", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 simulated respondents" in result.stdout and "database check" in result.stdout
    assert "crowd [" in result.stderr
    assert {p.name for p in (tmp_path / "sandbox").iterdir()} >= {
        "sandbox.sqlite3",
        "bot.log",
        "researcher.txt",
        "digest.txt",
    }


def test_without_a_token_python_m_bot_is_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """No BOT_TOKEN: `python -m bot` runs the sandbox with its defaults (200 respondents)."""
    import bot.__main__ as entry
    import devtools.sandbox.run

    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(devtools.sandbox.run, "run_sandbox", lambda *args: calls.append(args) or 0)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.chdir(ROOT / "tests")
    assert entry.main([]) == 0
    assert calls == [(200, 2022, "sandbox", 75.0)]
