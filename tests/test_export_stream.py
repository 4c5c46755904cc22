"""Exports at scale: the streamed CSV is the CSV the in-memory export wrote, byte for byte; XLSX is
refused past a sheet's rows and a file past Telegram's upload limit, with the other files still made."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import researchers
from bot.__main__ import export as export_command
from bot.__main__ import export_dataset
from core.i18n import I18n
from db.engine import session_factory
from research import export
from research.labels import Labels
from research.weights import Plan
from survey.model import load_questionnaire
from survey.targets import load_targets
from tests.conftest import RESEARCHER_ID, make_settings
from tests.dataset import CRAFTED, seed, seed_crafted
from tests.harness import BotHarness

DATA = Path(__file__).parent / "golden"
"""crafted-*.csv: what `python -m bot export --format csv` and /export (without free text) wrote of
tests.dataset.seed_crafted before the export was streamed (the same on SQLite and PostgreSQL)."""


async def test_the_streamed_csv_is_the_csv_exported_before(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """Same columns, values, inert formulas, quoting, day-coarse times, weights and speeder flags as
    the in-memory export wrote, with and without free text; the codebook unchanged too."""
    await seed_crafted(engine)
    settings = make_settings(database_url)
    questionnaire = load_questionnaire()
    labels = Labels(I18n.load().translator("ru"), questionnaire)
    plan = Plan.from_settings(load_targets(questionnaire), settings)
    sessions = session_factory(engine)
    full, without = tmp_path / "full.csv", tmp_path / "without.csv"
    found, rows = await export.stream_csv(sessions, labels, full, plan, settings.speeder_fraction)
    assert rows == len(CRAFTED)
    assert full.read_bytes() == (DATA / "crafted-full.csv").read_bytes()
    await export.stream_csv(sessions, labels, without, plan, settings.speeder_fraction, full=False)
    assert without.read_bytes() == (DATA / "crafted-without-free-text.csv").read_bytes()

    out = tmp_path / "cli.csv"  # the command line streams it
    assert await export_dataset(settings, "csv", out, "ru") == [out, tmp_path / "cli-codebook.csv"]
    assert out.read_bytes() == full.read_bytes()
    codebook = (tmp_path / "cli-codebook.csv").read_bytes()
    assert codebook == (DATA / "crafted-full-codebook.csv").read_bytes()

    table = await export.collect(sessions, labels, plan, settings.speeder_fraction)  # /export's Table
    export.write_csv(export.without_free_text(table, questionnaire), tmp_path / "table.csv")
    assert (tmp_path / "table.csv").read_bytes() == without.read_bytes()
    assert table.variables == found


@pytest.mark.slow  # /export starts its process
async def test_xlsx_past_a_sheet_is_refused_in_chat_and_the_other_files_are_sent(
    harness: BotHarness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With more responses than a sheet holds (the limit lowered to 10 rows), /export says so in the
    researcher's language and sends the CSV, SAV, DTA and codebook."""
    await seed(engine)
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 10)
    researcher = harness.user(user_id=RESEARCHER_ID, language_code="kk")
    await researcher.send("/export")
    names = [m.file_name for m in researcher.messages if m.media == "document"]
    assert names == [
        "survey-2026-03-20.csv",
        "survey-2026-03-20.sav",
        "survey-2026-03-20.dta",
        "survey-2026-03-20-codebook.csv",
    ]
    kk = I18n.load().translator("kk")
    assert export.too_many_rows_text(kk, export.TooManyRowsError(23, 10)) in researcher.texts


@pytest.mark.slow  # /export starts its process
async def test_a_file_past_the_upload_limit_is_refused_with_the_command_line(
    harness: BotHarness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file larger than Telegram lets a bot send (the limit lowered to 1 byte) is not sent: the
    researcher is told, for each, the command that exports it on the server."""
    await seed(engine)
    monkeypatch.setattr(researchers, "MAX_UPLOAD_BYTES", 1)
    researcher = harness.user(user_id=RESEARCHER_ID, language_code="ru")
    await researcher.send("/export full")
    assert not [m for m in researcher.messages if m.media == "document"]
    refusals = [text for text in researcher.texts if "python -m bot export" in text]
    assert len(refusals) == 5
    assert "python -m bot export --format csv --out survey-2026-03-20.csv" in refusals[0]
    assert "survey-2026-03-20.xlsx" in refusals[1] and "50" in refusals[1]


async def test_the_command_line_refuses_xlsx_past_a_sheet_and_writes_the_other_formats(
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`python -m bot export --format xlsx` of more rows than a sheet holds writes nothing and says
    why in the chosen language (status 1), before reading the dataset; CSV and SAV are written."""
    await seed(engine)
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 23)  # 23 responses and the header: one too many
    settings = make_settings(database_url)
    assert await asyncio.to_thread(export_command, settings, "xlsx", tmp_path / "data.xlsx", "kk") == 1
    kk = I18n.load().translator("kk")
    assert capsys.readouterr().err.strip() == export.too_many_rows_text(kk, export.TooManyRowsError(23, 23))
    assert not list(tmp_path.iterdir())
    for file_format in ("csv", "sav"):
        assert (
            await asyncio.to_thread(
                export_command, settings, file_format, tmp_path / f"data.{file_format}", "kk"
            )
            == 0
        )
        assert (tmp_path / f"data.{file_format}").stat().st_size > 0
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 24)
    assert await asyncio.to_thread(export_command, settings, "xlsx", tmp_path / "data.xlsx", "kk") == 0
