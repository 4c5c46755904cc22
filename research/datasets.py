"""A researcher's dataset as files: every export format and the codebook, built in a process of its own.

Telegram-free, and light to import (no Telegram, no charts): /export's process imports only this
and what it needs, and `python -m bot export` writes one format through it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import I18n
from db.engine import create_engine, read_session_factory
from db.export import count_responses
from research import export, weights
from research.labels import Labels
from survey.model import Questionnaire

EXPORT_NICENESS = 10
"""How much lower the export process's CPU priority is than the bot's (os.nice)."""


@dataclass(frozen=True)
class Export:
    """What an export reads: the database, in which language, everything or no free text, weighted how."""

    database_url: str
    language: str
    questionnaire: Questionnaire
    full: bool
    plan: weights.Plan | None
    speeder_fraction: float
    xlsx_max_rows: int = field(default_factory=lambda: export.XLSX_MAX_ROWS)
    """Past this many rows with the header no XLSX file is written (the other formats are)."""


async def export_in_a_process(what: Export, folder: Path, stem: str) -> tuple[int, list[Path]]:
    """build_export in a process of its own: its CPU time never holds the bot's event loop (nor its GIL),
    and at a lower priority, so that on a busy machine respondents' replies get the CPU first."""
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=os.nice,
        initargs=(EXPORT_NICENESS,),
    )
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, build_export, what, folder, stem)
    finally:
        pool.shutdown(wait=False)


def build_export(what: Export, folder: Path, stem: str) -> tuple[int, list[Path]]:
    """Read the dataset and write every format and the codebook: the rows and the paths (see write_all).

    Blocking and CPU-heavy (0.5 s stalls of an event loop per 5,000 rows, even from a thread): the
    bot runs it in a process of its own, which reads on an engine of its own.
    """
    labels = Labels(I18n.load().translator(what.language), what.questionnaire)
    table = asyncio.run(collect_from(what, labels))
    return table.rows, write_all(table, folder, stem, what.xlsx_max_rows)


@asynccontextmanager
async def _sessions(what: Export) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on an engine of the export's own (disposed of afterwards)."""
    engine = create_engine(what.database_url)
    try:
        yield read_session_factory(engine)
    finally:
        await engine.dispose()


async def collect_from(what: Export, labels: Labels) -> export.Table:
    """The dataset, read on an engine of its own (see _table)."""
    async with _sessions(what) as sessions:
        return await _table(sessions, what, labels)


async def _table(sessions: async_sessionmaker[AsyncSession], what: Export, labels: Labels) -> export.Table:
    """The dataset as a Table, typed free text left out unless the export is full."""
    table = await export.collect(sessions, labels, what.plan, what.speeder_fraction)
    return table if what.full else export.without_free_text(table, what.questionnaire)


async def write_format(
    what: Export, labels: Labels, file_format: str, out: Path
) -> tuple[int, list[export.Variable]]:
    """Write the dataset in one format to `out`: its rows and variables. CSV is streamed row by row
    as the database returns them; XLSX past `what.xlsx_max_rows` is TooManyRowsError, before reading."""
    async with _sessions(what) as sessions:
        if file_format == "csv":
            found, rows = await export.stream_csv(
                sessions, labels, out, what.plan, what.speeder_fraction, what.full
            )
            return rows, found
        if file_format == "xlsx":
            async with sessions.begin() as session:
                rows = await count_responses(session)
            if not export.xlsx_fits(rows, what.xlsx_max_rows):
                raise export.TooManyRowsError(rows, what.xlsx_max_rows)
        table = await _table(sessions, what, labels)
    await asyncio.to_thread(export.WRITERS[file_format], table, out)
    return table.rows, table.variables


def write_all(
    table: export.Table, folder: Path, stem: str, xlsx_max_rows: int = export.XLSX_MAX_ROWS
) -> list[Path]:
    """Write every format (XLSX if the rows fit) and the codebook into `folder`; the paths, codebook last."""
    paths = []
    for extension, writer in export.WRITERS.items():
        if extension == "xlsx" and not export.xlsx_fits(table.rows, xlsx_max_rows):
            continue
        path = folder / f"{stem}.{extension}"
        writer(table, path)
        paths.append(path)
    codebook = folder / f"{stem}-codebook.csv"
    export.write_codebook(table.variables, codebook)
    return [*paths, codebook]
