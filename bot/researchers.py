"""Researchers' commands: /stats, /crosstab, /chart, /export, and their language.

build_application() routes these commands here only for the ids in RESEARCHER_IDS; anyone else
falls through to the respondent handlers and gets the ordinary reply to an unknown command.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import tempfile
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InputFile, Update, User
from telegram.error import BadRequest

from bot import handlers
from bot.context import Context
from bot.refusals import log_refusal
from conversation.callbacks import decode
from conversation.services import Services
from core.i18n import LANGUAGE_NAMES, I18n, supported_language
from db import repo
from db import stats as db_stats
from db.engine import create_engine, session_factory
from research import charts, export, report
from research.labels import Labels
from survey.analysis import ANALYSIS, STATS_CUBE, VARIABLES, UnknownVariableError, variable
from survey.model import Questionnaire

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
"""Telegram refuses documents larger than this from bots."""
MAX_CAPTION = 1024
USAGE_EXAMPLE = (ANALYSIS.digest.outcome, ANALYSIS.digest.by[0].variable)
"""The usage's example table: the digest's, its outcome by its first breakdown (e.g. stance by age band)."""
FULL_EXPORT = "full"


async def _labels(services: Services, session: AsyncSession, user: User) -> Labels:
    """Labels in the researcher's chosen language, else their Telegram language, else the default."""
    chosen = await repo.researcher_language(session, services.researcher_pseudonym(user.id))
    language = chosen or supported_language(user.language_code) or services.settings.default_language
    return Labels(services.i18n.translator(language), services.questionnaire)


async def _reply_lines(update: Update, lines: list[str]) -> None:
    assert update.effective_message is not None
    for text in report.split_message(lines):
        await update.effective_message.reply_text(text)


def _usage(labels: Labels, command: str) -> str:
    _ = labels._
    row, column = USAGE_EXAMPLE
    if command == "chart":
        usage = _(
            "Usage: /chart ROW [COLUMN], for example /chart {row} or /chart {row} {column}.",
            row=row,
            column=column,
        )
    else:
        usage = _(
            "Usage: /crosstab ROW COLUMN, for example /crosstab {row} {column}.", row=row, column=column
        )
    names = _("Variables: {names}.", names=", ".join(VARIABLES))
    return f"{usage}\n{names}"


def _variables(args: list[str], allowed: tuple[int, ...]) -> list[str] | None:
    """The canonical variables named in `args`, or None when they do not make a table."""
    if len(args) not in allowed:
        return None
    try:
        names = [variable(arg) for arg in args]
    except UnknownVariableError:
        return None
    return names if len(set(names)) == len(names) else None


async def _table_ready(
    update: Update, labels: Labels, names: list[str] | None, cells: Mapping[Any, int], command: str
) -> bool:
    """Explain the usage, or that nothing is there to show yet; True when there is a table."""
    assert update.effective_message is not None
    if names is None:
        await update.effective_message.reply_text(escape(_usage(labels, command)))
    elif not cells:
        await update.effective_message.reply_text(escape(labels._("There are no completed responses yet.")))
    return bool(names and cells)


async def stats(update: Update, context: Context) -> None:
    """/stats: responses by status, today and this week, median time, and the main distributions."""
    services = context.services
    assert update.effective_user is not None
    async with services.sessions.begin() as session:
        labels = await _labels(services, session, update.effective_user)
        zone = ZoneInfo(services.settings.timezone)
        figures = await db_stats.overview(session, services.clock(), zone, STATS_CUBE)
    await _reply_lines(update, report.stats_lines(labels, figures, services.settings.min_cell))


async def crosstab(update: Update, context: Context) -> None:
    """/crosstab ROW COLUMN: counts with row percentages among completed responses."""
    services = context.services
    assert update.effective_user is not None and update.effective_message is not None
    async with services.sessions.begin() as session:
        labels = await _labels(services, session, update.effective_user)
        names = _variables(context.args or [], allowed=(2,))
        cells = await db_stats.counts(session, names) if names else {}
    if not await _table_ready(update, labels, names, cells, "crosstab"):
        return
    assert names is not None
    row, column = names
    await _reply_lines(update, report.crosstab_lines(labels, row, column, cells, services.settings.min_cell))


async def chart(update: Update, context: Context) -> None:
    """/chart ROW [COLUMN]: a bar chart as a photo, labelled in the researcher's language."""
    services = context.services
    assert update.effective_user is not None and update.effective_message is not None
    async with services.sessions.begin() as session:
        labels = await _labels(services, session, update.effective_user)
        names = _variables(context.args or [], allowed=(1, 2))
        cells = await db_stats.counts(session, names) if names else {}
    if not await _table_ready(update, labels, names, cells, "chart"):
        return
    assert names is not None
    spec = charts.chart_spec(
        labels, names[0], names[1] if len(names) > 1 else None, cells, services.settings.min_cell
    )
    png = await asyncio.to_thread(charts.render_png, spec)
    await update.effective_message.reply_photo(
        InputFile(png, filename="chart.png"), caption=escape(spec.title[:MAX_CAPTION])
    )


async def export_files(update: Update, context: Context) -> None:
    """/export [full]: the dataset as CSV, XLSX and SPSS .sav, and its codebook, as documents.

    Typed free text (a city's name, the comment) can name or describe a person, and a chat is
    easier to leak than a server: it is left out unless asked for with `/export full`.
    """
    services = context.services
    message = update.effective_message
    assert update.effective_user is not None and message is not None
    async with services.sessions.begin() as session:
        labels = await _labels(services, session, update.effective_user)
    _ = labels._
    full = [arg.lower() for arg in context.args or []] == [FULL_EXPORT]
    await message.reply_text(escape(_("Preparing the export…")))
    if not full:
        free_text_left_out = _(
            "Typed free text (city names, comments) is left out; send /export full to include it."
        )
        await message.reply_text(escape(free_text_left_out))
    day = services.clock().astimezone(ZoneInfo(services.settings.timezone)).date().isoformat()
    with tempfile.TemporaryDirectory(prefix="export-") as folder:
        rows, paths = await export_in_a_process(
            services.settings.database_url,
            labels.language,
            services.questionnaire,
            full,
            Path(folder),
            f"survey-{day}",
        )
        for path in paths:
            if path.stat().st_size > MAX_UPLOAD_BYTES:
                too_large = _(
                    "{name} is too large to send here; export it with the command line tool.", name=path.name
                )
                await message.reply_text(escape(too_large))
                continue
            with path.open("rb") as handle:
                await message.reply_document(InputFile(handle, filename=path.name))
    log.info("export", extra={"rows": rows})


async def export_in_a_process(
    database_url: str, language: str, questionnaire: Questionnaire, full: bool, folder: Path, stem: str
) -> tuple[int, list[Path]]:
    """build_export in a process of its own: its CPU time never holds the bot's event loop (nor its GIL)."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    arguments = (database_url, language, questionnaire, full, folder, stem)
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, build_export, *arguments)
    finally:
        pool.shutdown(wait=False)


def build_export(
    database_url: str, language: str, questionnaire: Questionnaire, full: bool, folder: Path, stem: str
) -> tuple[int, list[Path]]:
    """Read the dataset and write every format and the codebook: the rows and the paths (see write_all).

    Blocking and CPU-heavy (0.5 s stalls of an event loop per 5,000 rows, even from a thread): the
    bot runs it in a process of its own, which reads on an engine of its own.
    """
    labels = Labels(I18n.load().translator(language), questionnaire)
    table = asyncio.run(collect_from(database_url, labels))
    if not full:
        table = export.without_free_text(table, questionnaire)
    return table.rows, write_all(table, folder, stem)


async def collect_from(database_url: str, labels: Labels) -> export.Table:
    """The dataset, read on an engine of its own (disposed of afterwards)."""
    engine = create_engine(database_url)
    try:
        return await export.collect(session_factory(engine), labels)
    finally:
        await engine.dispose()


def write_all(table: export.Table, folder: Path, stem: str) -> list[Path]:
    """Write every format and the codebook into `folder`; the paths, codebook last."""
    paths = []
    for extension, writer in export.WRITERS.items():
        path = folder / f"{stem}.{extension}"
        writer(table, path)
        paths.append(path)
    codebook = folder / f"{stem}-codebook.csv"
    export.write_codebook(table, codebook)
    return [*paths, codebook]


async def language_button(update: Update, context: Context) -> None:
    """A language button: a researcher's choice also sets the language of their statistics."""
    services = context.services
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    callback = decode(query.data)
    if not services.is_researcher(user.id) or callback is None:
        await handlers.button(update, context)
        return
    async with services.sessions.begin() as session:
        await repo.set_researcher_language(session, services.researcher_pseudonym(user.id), callback.language)
        respondent = await repo.lock_respondent(session, services.pseudonym(user.id))
    if respondent is not None:
        await handlers.button(update, context)  # also taking the survey: it switches language too
        return
    _ = services.i18n.translator(callback.language)
    try:
        await query.edit_message_text(
            escape(_("Language: {name}", name=_(LANGUAGE_NAMES[callback.language])))
        )
    except BadRequest as error:
        log_refusal(log, "edit_skipped", error)
    await handlers.answer_query(update, None)
