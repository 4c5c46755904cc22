"""Exports: CSV, XLSX and SPSS .sav read back equal the database, labels included; no pseudonyms."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyreadstat
import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.i18n import I18n
from research.export import CODEBOOK_HEADER, CSV_ENCODING
from tests.conftest import RESEARCHER_ID, ROOT
from tests.dataset import seed
from tests.harness import BotHarness

BANDS = {
    None: None,
    22: "18-29",
    25: "18-29",
    31: "30-39",
    33: "30-39",
    35: "30-39",
    40: "40-54",
    50: "40-54",
}
BANDS[61] = "55+"
SOURCES = ("ru_tv", "kz_tv", "kz_online", "intl", "telegram", "social", "people", "none", "skip")


async def _database_rows(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    """What the database holds, keyed by response id, read with plain SQL (not the export code)."""
    async with engine.connect() as connection:
        responses = await connection.execute(
            text("SELECT id, language, status, duration_seconds FROM responses")
        )
        answers = await connection.execute(
            text("SELECT response_id, question, option, number, text FROM answers")
        )
        choices = await connection.execute(text("SELECT response_id, question, option FROM answer_choices"))
    rows = {
        str(_uuid(r.id)): {"language": r.language, "status": r.status, "duration": r.duration_seconds}
        for r in responses
    }
    for a in answers:
        rows[str(_uuid(a.response_id))][a.question] = (
            a.number if a.question == "age" else (a.text or a.option)
        )
    for c in choices:
        rows[str(_uuid(c.response_id))].setdefault(f"{c.question}_chosen", set()).add(c.option)
    return rows


def _uuid(value: Any) -> Any:
    import uuid

    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and value != value)


def _decoded(rows: list[dict[str, Any]], codebook: list[list[str]]) -> list[dict[str, Any]]:
    """Rows of a .sav or .dta with coded choices turned back into codes through the codebook's numbers."""
    codes = {(line[0], line[6].split()[0]): line[4] for line in codebook[1:] if line[6]}
    coded = {variable for variable, _number in codes}
    return [
        {
            name: codes[name, str(int(value))] if name in coded and not _empty(value) else value
            for name, value in row.items()
        }
        for row in rows
    ]


def _check_rows(exported: list[dict[str, Any]], database: dict[str, dict[str, Any]]) -> None:
    """Every exported row equals its response in the database, column by column."""
    assert sorted(row["response_id"] for row in exported) == sorted(database)
    assert not {"pseudonym", "respondent_id"} & set(exported[0])
    for row in exported:
        stored = database[row["response_id"]]
        assert row["language"] == stored["language"] and row["status"] == stored["status"]
        for question in ("gender", "city", "main_source", "stance", "neutrality", "comment"):
            assert (None if _empty(row[question]) else row[question]) == stored.get(question), question
        age = None if _empty(row["age"]) else int(float(row["age"]))
        assert age == stored.get("age")
        chosen = stored.get("sources_chosen")
        for code in SOURCES:
            value = row[f"sources_{code}"]
            expected = None if chosen is None else int(code in chosen)
            assert (None if _empty(value) else int(float(value))) == expected, code
        if stored["duration"] is not None:
            assert int(float(row["duration_seconds"])) == stored["duration"]
        assert not any(str(value).startswith("seed-pseudonym") for value in row.values())
        assert (None if _empty(row["age_band"]) else row["age_band"]) == BANDS[stored.get("age")]


@pytest.mark.slow
async def test_csv_xlsx_and_sav_round_trip(engine: AsyncEngine, database_url: str, tmp_path: Path) -> None:
    """The command-line export in each format reads back equal to the database, with labels."""
    await seed(engine)
    database = await _database_rows(engine)
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "PSEUDONYM_KEY")}
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(ROOT))
    for file_format in ("csv", "xlsx", "sav"):
        out = tmp_path / f"data.{file_format}"
        command = [sys.executable, "-m", "bot", "export", "--format", file_format, "--out", str(out)]
        result = await asyncio.to_thread(
            subprocess.run,
            [*command, "--language", "kk"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "data-codebook.csv").exists()
    kk = I18n.load().translator("kk")

    with (tmp_path / "data.csv").open(encoding=CSV_ENCODING, newline="") as handle:
        csv_rows = list(csv.DictReader(handle))
    _check_rows(csv_rows, database)
    assert list(csv_rows[0])[:3] == ["response_id", "questionnaire_version", "language"]
    expected = {"age", "age_band", "city_name", "sources_ru_tv", "relatives_belarus", "stance_order"}
    assert expected <= set(csv_rows[0])

    workbook = load_workbook(tmp_path / "data.xlsx", read_only=True)
    sheet = list(workbook["data"].iter_rows(values_only=True))
    width = len(sheet[0])  # read-only sheets drop trailing empty cells
    xlsx_rows = [dict(zip(sheet[0], row + (None,) * (width - len(row)), strict=True)) for row in sheet[1:]]
    _check_rows(xlsx_rows, database)
    codebook = list(workbook["codebook"].iter_rows(values_only=True))
    assert codebook[0] == CODEBOOK_HEADER
    assert ("stance", None, None, None, "ukraine", kk("Ukraine is the victim of aggression"), "2") in codebook

    with (tmp_path / "data-codebook.csv").open(encoding=CSV_ENCODING, newline="") as handle:
        codebook_csv = list(csv.reader(handle))
    frame, meta = pyreadstat.read_sav(str(tmp_path / "data.sav"), user_missing=True)
    _check_rows(_decoded(frame.to_dict("records"), codebook_csv), database)
    assert meta.column_names_to_labels["stance"] == kk("View of the war")
    assert (
        meta.column_names_to_labels["sources_ru_tv"] == f"{kk('News sources')}: {kk('Russian TV channels')}"
    )
    russia = kk("Russia is right, it is protecting its security")
    assert meta.variable_value_labels["stance"][1] == russia
    assert meta.variable_value_labels["age_band"][99] == kk("Prefer not to answer")
    assert meta.variable_value_labels["sources_ru_tv"] == {0: kk("Not chosen"), 1: kk("Chosen")}
    assert meta.variable_value_labels["language"] == {1: kk("Kazakh"), 2: kk("Russian")}

    assert tuple(codebook_csv[0]) == CODEBOOK_HEADER
    assert ["city", "", "", "", "oskemen", kk("Oskemen (Ust-Kamenogorsk)"), "8"] in codebook_csv


async def test_export_in_chat_sends_four_documents(harness: BotHarness, engine: AsyncEngine) -> None:
    """/export full sends the CSV, XLSX, SAV and codebook as documents; the CSV equals the database."""
    await seed(engine)
    database = await _database_rows(engine)
    researcher = harness.user(user_id=RESEARCHER_ID, language_code="ru")
    await researcher.send("/export full")
    documents = [m for m in researcher.messages if m.media == "document"]
    names = [d.file_name for d in documents]
    assert names == [
        "survey-2026-03-20.csv",
        "survey-2026-03-20.xlsx",
        "survey-2026-03-20.sav",
        "survey-2026-03-20.dta",
        "survey-2026-03-20-codebook.csv",
    ]
    assert all(document.file for document in documents)
    rows = list(csv.DictReader(io.StringIO(documents[0].file.decode(CSV_ENCODING))))
    _check_rows(rows, database)


@pytest.mark.parametrize("file_format", ["csv"])
async def test_export_of_an_empty_database(database_url: str, tmp_path: Path, file_format: str) -> None:
    """With no responses the export is a header only, not an error."""
    from bot.__main__ import export_dataset
    from tests.conftest import make_settings

    out = tmp_path / f"empty.{file_format}"
    paths = await export_dataset(make_settings(database_url), file_format, out, "ru")
    assert paths == [out, tmp_path / "empty-codebook.csv"]
    assert out.read_text(encoding=CSV_ENCODING).startswith("response_id,")


@pytest.mark.slow
def test_the_export_command_never_migrates(tmp_path: Path) -> None:
    """On a database without the schema, or at an older revision, `python -m bot export` stops with
    one line naming both revisions (exit 2) and leaves the database as it was."""
    import sqlite3

    from db.migrate import head_revision
    from tests.conftest import python_m_bot

    database = tmp_path / "old.sqlite3"
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    command = ("export", "--format", "csv", "--out", str(tmp_path / "out.csv"))
    missing = python_m_bot(*command, cwd=tmp_path, env=env, timeout=120)
    assert missing.returncode == 2 and not database.exists()
    assert (
        f"revision none (no schema), this version of the bot reads revision {head_revision()}"
        in missing.stderr
    )
    assert python_m_bot("migrate", cwd=tmp_path, env=env, timeout=120).returncode == 0
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001'")
    older = python_m_bot(*command, cwd=tmp_path, env=env, timeout=120)
    assert older.returncode == 2, older.stderr
    lines = older.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and f"revision 0001, this version of the bot reads revision {head_revision()}" in lines[0]
    )
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
    assert not (tmp_path / "out.csv").exists()
