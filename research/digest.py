"""The channel digest's figures and words: safe counts, told in plain sentences, and its chart.

Telegram-free: bot/digest.py schedules, claims and posts what DigestWriter writes.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from itertools import cycle, islice
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.i18n import N_, I18n, Translator
from db import digests, stats
from research import charts
from research.disclosure import TOTAL, SafeTable, round_shares, round_table
from survey.flow import label_of
from survey.model import SKIP, Breakdown, DigestPlan, Questionnaire

NOT_STATED = "not_stated"
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#bcbd22", "#c7c7c7", "#9467bd")
"""The chart's colours, in the order of the categories the digest names."""
EVERYONE = N_("everyone")
CHART_TITLE = N_("Views of the war by age (n = {n})")
TITLE = N_("Survey on views of the war in Ukraine: results as of {date}")
QUOTED = N_("“{answer}”")
"""An answer's own label quoted mid-sentence; each language has its quotation marks."""
MAX_MESSAGE_CHARS = 4096
"""Telegram's limit on one message's text."""


@dataclass(frozen=True)
class Figures:
    """What a digest publishes: the outcome by each breakdown variable, rounded to steps of MIN_CELL.

    The questionnaire's `analysis.digest` names them (today: stance by age band and by main source).
    `total` (how many completed) is None, and there are no tables, while fewer than MIN_CELL have.
    `key` draws the rounding (research.disclosure); it is stored with the figures, never shown.
    """

    as_of: datetime
    total: int | None
    new: int | None
    unchanged: bool
    tables: dict[str, SafeTable]
    key: str

    def to_json(self) -> dict[str, Any]:
        """What was published, to be stored with the digest (the next one compares with it)."""
        return {
            "as_of": self.as_of.isoformat(),
            "total": self.total,
            "tables": {
                name: {
                    "rows": list(table.rows),
                    "columns": list(table.columns),
                    "counts": [[row, column, value] for (row, column), value in table.counts.items()],
                }
                for name, table in self.tables.items()
            },
            "key": self.key,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figures:
        """The figures a digest published, read back as they were stored: shown again unchanged."""
        tables = {
            name: SafeTable(
                tuple(table["rows"]),
                tuple(table["columns"]),
                {(row, column): value for row, column, value in table["counts"]},
            )
            for name, table in data["tables"].items()
        }
        return cls(datetime.fromisoformat(data["as_of"]), data["total"], None, True, tables, data["key"])


def _rows(
    counts: dict[tuple[str | None, ...], int], groups: Sequence[str], categories: Sequence[str]
) -> dict[Hashable, dict[Hashable, int]]:
    """Outcome counts per group; answers outside `groups` (skipped, unanswered) form one row."""
    rows: dict[Hashable, dict[Hashable, int]] = {code: {} for code in groups}
    rows[NOT_STATED] = {}
    for (group, outcome), n in counts.items():
        row = rows[group if group in rows else NOT_STATED]
        column = outcome if outcome in categories else SKIP
        row[column] = row.get(column, 0) + n
    return rows


def _groups(questionnaire: Questionnaire, name: str) -> list[str]:
    """The groups a breakdown variable shows: its bands, or its question's (or source's) options."""
    variable = questionnaire.analysis.variable(name)
    assert variable is not None, f"{name!r}: the questionnaire's validation allows variables only"
    if variable.bands:
        return [band.code for band in variable.bands]
    question = questionnaire[variable.question]
    source = questionnaire[question.options_from] if question.options_from else question
    return list(source.codes_without_skip)


async def gather(
    sessions: async_sessionmaker[AsyncSession],
    questionnaire: Questionnaire,
    min_cell: int,
    now: datetime,
    rng: random.Random,
) -> Figures:
    """Count, by the database, what the digest shows, rounded to steps of MIN_CELL.

    Figures move on only when at least MIN_CELL people completed since the last digest;
    otherwise that digest's figures are shown again exactly as they were stored, whatever was
    erased since. The rounding key is drawn from `rng` (a SystemRandom in production) at the first
    digest and kept from then on.
    """
    k, plan = min_cell, questionnaire.analysis.digest
    async with sessions.begin() as session:
        last = await digests.last_sent(session)
        previous = Figures.from_json(last.published) if last is not None and last.published else None
        if last is not None and previous is not None:
            newcomers = await stats.count(session, stats.Scope(since=last.data_until, until=now))
            if newcomers < k:
                return previous
        scope = stats.Scope(until=now)
        total = await stats.count(session, scope)
        counts = {b.variable: await stats.counts(session, [b.variable, plan.outcome], scope) for b in plan.by}
    key = previous.key if previous is not None else f"{rng.getrandbits(256):064x}"
    if total < k:
        return Figures(now, None, None, False, {}, key)
    tables = {
        name: round_table(
            name, _rows(c, _groups(questionnaire, name), plan.categories), plan.categories, k, key
        )
        for name, c in counts.items()
    }
    grown = total - previous.total if previous is not None and previous.total is not None else 0
    return Figures(now, total, grown if grown > 0 else None, False, tables, key)


def _group_label(_: Translator, questionnaire: Questionnaire, breakdown: Breakdown, code: Hashable) -> str:
    if code == NOT_STATED:
        return _("not stated")
    if breakdown.group:
        return _(breakdown.group, band=str(code).replace("-", "–"))
    variable = questionnaire.analysis.variable(breakdown.variable)
    assert variable is not None, (
        f"{breakdown.variable!r}: the questionnaire's validation allows variables only"
    )
    return _(label_of(questionnaire[variable.question], questionnaire, str(code)))


def word(questionnaire: Questionnaire, code: str) -> str:
    """The msgid naming an outcome category: its digest word, else its option's label."""
    plan = questionnaire.analysis.digest
    return plan.words.get(code) or label_of(questionnaire[plan.outcome], questionnaire, code)


def in_sentence(_: Translator, questionnaire: Questionnaire, code: str) -> str:
    """An outcome category as it reads mid-sentence: its digest word, else its option's label quoted
    (a capitalised label such as "Hard to say" reads as the answer people pressed, not as a typo)."""
    plan = questionnaire.analysis.digest
    if code in plan.words:
        return _(plan.words[code])
    return _(QUOTED, answer=_(word(questionnaire, code)))


def ordered(plan: DigestPlan) -> list[str]:
    """Every outcome category: those the digest names first, in its order, then the others."""
    return [*plan.words, *(c for c in plan.categories if c not in plan.words)]


def _row_sentence(
    _: Translator, questionnaire: Questionnaire, table: SafeTable, row: Hashable, k: int
) -> str:
    """The group's share of every answer (they add up to 100%); answers given by fewer than k
    people are named as such; a group showing nothing but zeros says too few."""
    plan = questionnaire.analysis.digest
    shares = round_shares({column: table.share(row, column) for column in plan.categories})
    order = ordered(plan)
    shown = {c: shares[c] for c in order if shares.get(c)}
    if not shown:
        return _("too few answers to show")
    sentence = ", ".join(f"{share}% {in_sentence(_, questionnaire, c)}" for c, share in shown.items())
    fewer = [in_sentence(_, questionnaire, c) for c in order if c in plan.words and not shares.get(c)]
    if fewer:
        sentence += "; " + _("fewer than {k} people: {answers}", k=k, answers=", ".join(fewer))
    return sentence


def compose_language(_: Translator, writer: DigestWriter, figures: Figures, link: str) -> str:
    """The digest in one language: plain sentences, nothing under the minimum cell size."""
    k, plan = writer.settings.min_cell, writer.questionnaire.analysis.digest
    moment = figures.as_of.astimezone(ZoneInfo(writer.settings.timezone)).strftime("%d.%m.%Y %H:%M")
    title = _(TITLE, date=moment)
    invitation = _("Take part: {link}", link=link)
    total = figures.total
    if not total:  # too few, or nobody yet: no figures, and no headings with nothing under them
        body = [_("Not enough people have taken part yet to publish results safely."), invitation]
        return "\n".join([_bold(title), *map(escape, body)])
    lines = [_bold(title)]
    if figures.new is not None:
        taken_part = _.ngettext(
            "{n} person has taken part so far, {new} of them since the last digest.",
            "{n} people have taken part so far, {new} of them since the last digest.",
            total,
            new=figures.new,
        )
    else:
        taken_part = _.ngettext(
            "{n} person has taken part so far.", "{n} people have taken part so far.", total
        )
    lines.append(escape(taken_part))
    if figures.unchanged:
        unchanged = _(
            "Fewer than {k} people have taken part since the last digest, so the figures are unchanged.", k=k
        )
        lines.append(escape(unchanged))
    overall = next(iter(figures.tables.values()))
    lines += [
        "",
        escape(
            _("Views of the war: {parts}.", parts=_row_sentence(_, writer.questionnaire, overall, TOTAL, k))
        ),
    ]
    for breakdown in plan.by:
        table = figures.tables[breakdown.variable]
        rows = [row for row in table.rows if table.count(row, TOTAL)]
        if rows:
            lines += ["", _bold(_(breakdown.heading))]
        for row in rows:
            label = _group_label(_, writer.questionnaire, breakdown, row)
            lines.append(escape(f"• {label}: {_row_sentence(_, writer.questionnaire, table, row, k)}"))
    footnote = _(
        "Shares are worked out from counts rounded to steps of {k} people, "
        "so that nobody can be singled out.",
        k=k,
    )
    lines += ["", escape(footnote), escape(invitation)]
    return "\n".join(lines)


def _bold(text: str) -> str:
    return f"<b>{escape(text)}</b>"


def chart_bars(figures: Figures, plan: DigestPlan) -> list[tuple[Hashable, dict[str, int]]]:
    """The chart's bars: everyone, then each group of the first breakdown with people in it, each
    with the whole percentage of every outcome category (adding up to 100)."""
    table = figures.tables[plan.by[0].variable]
    rows = [TOTAL, *(r for r in table.rows if r != NOT_STATED and table.count(r, TOTAL))]
    bars = []
    for row in rows:
        percents = round_shares({c: table.share(row, c) for c in plan.categories})
        bars.append((row, {c: percents[c] or 0 for c in plan.categories}))
    return bars


@dataclass(frozen=True)
class DigestWriter:
    """Writes the digest in the configured languages from protected Figures."""

    settings: Settings
    i18n: I18n
    questionnaire: Questionnaire

    def compose(self, figures: Figures, link: str) -> list[str]:
        """The digest in the configured languages: one message, or one per language if too long."""
        parts = [
            compose_language(self.i18n.translator(lang), self, figures, link)
            for lang in self.settings.digest_languages
        ]
        joined = "\n\n———\n\n".join(parts)
        return [joined] if len(joined) <= MAX_MESSAGE_CHARS else parts

    def words(self, message: str, **values: object) -> str:
        """A msgid in every language of the digest, e.g. "бәрі / все"."""
        languages = self.settings.digest_languages
        return " / ".join(self.i18n.gettext(lang, message, **values) for lang in languages)

    def chart(self, figures: Figures) -> bytes | None:
        """The outcome's shares by the first breakdown as PNG: every answer drawn, so that each bar
        reaches 100%; its words in each language of the digest."""
        plan = self.questionnaire.analysis.digest
        if not figures.total:
            return None
        bars = chart_bars(figures, plan)
        order = ordered(plan)
        table = figures.tables[plan.by[0].variable]
        return charts.render_png(
            charts.ChartSpec(
                title=self.words(CHART_TITLE, n=figures.total),
                bars=[self.words(EVERYONE) if r == TOTAL else str(r).replace("-", "–") for r, _p in bars],
                segments=[self.words(word(self.questionnaire, column)) for column in order],
                shares=[[percents[column] / 100 for _r, percents in bars] for column in order],
                counts=[table.count(r, TOTAL) or 0 for r, _p in bars],
                note="",
                colors=tuple(islice(cycle(COLORS), len(order))),
            )
        )

    def render(self, figures: Figures, bot_username: str) -> tuple[list[str], bytes | None, str]:
        """The digest's messages, chart and chart caption (CPU-bound: the caller runs it off the loop)."""
        messages = self.compose(figures, f"https://t.me/{bot_username}")
        languages = self.settings.digest_languages
        caption = " / ".join(self.i18n.gettext(lang, CHART_TITLE, n=figures.total) for lang in languages)
        return messages, self.chart(figures), caption
