"""Researchers' commands: /stats, /crosstab, /chart, /export, and their language.

build_application() routes these commands here only for the ids in RESEARCHER_IDS; anyone else
falls through to the respondent handlers and gets the ordinary reply to an unknown command.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import replace
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
from core.i18n import LANGUAGE_NAMES, supported_language
from db import repo
from db import stats as db_stats
from research import charts, export, quality, report, tables, weights
from research.datasets import Export, export_in_a_process
from research.labels import Labels
from research.tables import Crosstab
from survey.analysis import ANALYSIS, STATS_CUBE, VARIABLES, UnknownVariableError, variable

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


RAW = "raw"
"""An argument asking for unweighted figures: /stats raw, /crosstab stance age raw."""


def _raw(context: Context) -> tuple[list[str], bool]:
    """The command's arguments without `raw`, and whether it was there."""
    args = context.args or []
    kept = [arg for arg in args if arg.lower() != RAW]
    return kept, len(kept) != len(args)


async def _weighting(services: Services, session: AsyncSession, raw: bool) -> weights.Weighting | None:
    """The weights of completed responses, unless unweighted figures are asked for."""
    if raw or services.targets is None:
        return None
    return await weights.weighting(session, weights.Plan.from_settings(services.targets, services.settings))


async def _cells(
    services: Services, session: AsyncSession, names: list[str], raw: bool
) -> tuple[
    dict[tuple[db_stats.Value, ...], int], weights.Weighting | None, dict[tuple[db_stats.Value, ...], float]
]:
    """People per combination of `names` and, unless raw, the weights and the weighted cells.

    Weighted figures stand on the responses the weighting covers (speeders left out), their n too.
    """
    weighting = await _weighting(services, session, raw)
    scope = weighting.scope if weighting else db_stats.COMPLETED
    cells = await db_stats.counts(session, names, scope)
    weighted = await weights.weighted_counts(session, weighting, names) if weighting else {}
    return cells, weighting, weighted


async def _reply_lines(update: Update, lines: list[str]) -> None:
    assert update.effective_message is not None
    for text in report.split_message(lines):
        await update.effective_message.reply_text(text)


def _usage(labels: Labels, command: str) -> str:
    _ = labels._
    outcome, by = USAGE_EXAMPLE
    if command == "chart":
        usage = _(
            "Usage: /chart OUTCOME [BY], for example /chart {outcome} or /chart {outcome} {by}.",
            outcome=outcome,
            by=by,
        )
    else:
        usage = _(
            "Usage: /crosstab OUTCOME BY (the shares of OUTCOME within each group of BY), "
            "for example /crosstab {outcome} {by}.",
            outcome=outcome,
            by=by,
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
    _args, raw = _raw(context)
    async with services.reads.begin() as session:
        labels = await _labels(services, session, update.effective_user)
        zone = ZoneInfo(services.settings.timezone)
        figures = await db_stats.overview(session, services.clock(), zone, STATS_CUBE)
        weighting = await _weighting(services, session, raw)
        if weighting is not None:  # the people the weighted shares stand on (speeders left out)
            counted = await db_stats.margins(session, STATS_CUBE, weighting.scope)
            figures = replace(figures, distributions=counted)
        weighted = {
            name: {
                key[0]: w for key, w in (await weights.weighted_counts(session, weighting, [name])).items()
            }
            for name in STATS_CUBE
            if weighting is not None
        }
        fast = await quality.speeders(session, services.settings.speeder_fraction)
        repeats = await quality.repeats(session)
    min_cell = services.settings.min_cell
    lines = report.stats_lines(labels, figures, min_cell, weighting, weighted, fast, repeats)
    await _reply_lines(update, lines)


async def _crosstab(
    update: Update, context: Context, command: str
) -> tuple[Labels, Crosstab, weights.Weighting | None] | None:
    """The labels, the (weighted) table `/command OUTCOME BY` asks for and its weights, or None."""
    services = context.services
    assert update.effective_user is not None
    args, raw = _raw(context)
    async with services.reads.begin() as session:
        labels = await _labels(services, session, update.effective_user)
        names = _variables(args, allowed=(2,))
        cells, weighting, weighted = (
            await _cells(services, session, names[::-1], raw) if names else ({}, None, {})
        )
    if not await _table_ready(update, labels, names, cells, command):
        return None
    assert names is not None
    outcome, by = names
    return labels, tables.crosstab(labels, outcome, by, cells, weighted), weighting


async def crosstab(update: Update, context: Context) -> None:
    """/crosstab OUTCOME BY: the outcome's shares within each group of BY, n, and a test of independence."""
    found = await _crosstab(update, context, "crosstab")
    if found is not None:
        labels, table, weighting = found
        min_cell = context.services.settings.min_cell
        await _reply_lines(update, report.crosstab_lines(labels, table, min_cell, weighting))


async def chart(update: Update, context: Context) -> None:
    """/chart OUTCOME [BY]: one variable's shares, or one 100% bar per group of BY, as a photo."""
    services = context.services
    assert update.effective_user is not None and update.effective_message is not None
    min_cell = services.settings.min_cell
    args, raw = _raw(context)
    if len(args) == 2:
        found = await _crosstab(update, context, "chart")
        if found is None:
            return
        labels, table, weighting = found
        spec = charts.crosstab_spec(labels, table, min_cell, weighting)
    else:
        async with services.reads.begin() as session:
            labels = await _labels(services, session, update.effective_user)
            names = _variables(args, allowed=(1,))
            cells, weighting, weighted = (
                await _cells(services, session, names, raw) if names else ({}, None, {})
            )
        if not await _table_ready(update, labels, names, cells, "chart"):
            return
        assert names is not None
        spec = charts.chart_spec(labels, names[0], cells, min_cell, weighting, weighted)
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
    async with services.reads.begin() as session:
        labels = await _labels(services, session, update.effective_user)
    _ = labels._
    full = [arg.lower() for arg in context.args or []] == [FULL_EXPORT]
    await message.reply_text(escape(_("Preparing the export…")))
    if not full:
        free_text_left_out = _(
            "Typed free text (city names, comments) is left out; send /export full to include it."
        )
        await message.reply_text(escape(free_text_left_out))
    settings = services.settings
    plan = weights.Plan.from_settings(services.targets, settings) if services.targets else None
    day = services.clock().astimezone(ZoneInfo(services.settings.timezone)).date().isoformat()
    with tempfile.TemporaryDirectory(prefix="export-") as folder:
        what = Export(
            settings.database_url,
            labels.language,
            services.questionnaire,
            full,
            plan,
            settings.speeder_fraction,
        )
        rows, paths = await export_in_a_process(what, Path(folder), f"survey-{day}")
        if not export.xlsx_fits(rows, what.xlsx_max_rows):
            refused = export.TooManyRowsError(rows, what.xlsx_max_rows)
            await message.reply_text(escape(export.too_many_rows_text(_, refused)))
        for path in paths:
            if path.stat().st_size > MAX_UPLOAD_BYTES:
                too_large = _(
                    "{name} is larger than the 50 MB Telegram lets a bot send. Export it on the server "
                    "with the command line: {command}",
                    name=path.name,
                    command=f"python -m bot export --format {path.suffix[1:]} --out {path.name}",
                )
                await message.reply_text(escape(too_large))
                continue
            data = await asyncio.to_thread(path.read_bytes)  # megabytes: read off the event loop
            await message.reply_document(InputFile(data, filename=path.name))
    log.info("export", extra={"rows": rows})


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
