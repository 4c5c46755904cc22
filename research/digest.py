"""The channel digest's figures and words: safe counts, told in plain sentences, and its chart.

Telegram-free: bot/digest.py schedules, claims and posts what DigestWriter writes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from io import BytesIO
from zoneinfo import ZoneInfo

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.i18n import N_, I18n, Translator
from db import digests, stats
from research.disclosure import TOTAL, SafeTable, protect_together, round_shares
from research.weights import Plan, weighted_counts, weighting
from survey.analysis import AGE_BANDS
from survey.flow import label_of
from survey.model import SKIP, Questionnaire

NOT_STATED = "not_stated"
AGE_BAND_CODES = [code for code, _low, _high in AGE_BANDS]
Number = int | float
STANCES = ("russia", "ukraine", "peace", "unsure", SKIP)
SHOWN_STANCES = ("ukraine", "russia", "peace", "unsure", SKIP)
"""Every answer, in the order the digest tells and draws them."""
STANCE_WORDS = {
    "ukraine": N_("Ukraine is the victim"),
    "russia": N_("Russia is right"),
    "peace": N_("for peace, no side"),
    "unsure": N_("hard to say"),
    SKIP: N_("prefer not to say"),
}
STANCE_COLOURS = {
    "ukraine": "#1f77b4",
    "russia": "#d62728",
    "peace": "#2ca02c",
    "unsure": "#bcbd22",
    SKIP: "#c7c7c7",
}
HIDDEN_WORD = N_("hidden (small groups)")
HIDDEN = "__hidden__"
EVERYONE = N_("everyone")
LEGEND_WIDTH = 45
CHART_TITLE = N_("Views of the war by age (n = {n})")
TITLE = N_("Survey on views of the war in Ukraine: results as of {date}")
WEIGHTED_FOOTNOTE = N_(
    "Shares are weighted to Kazakhstan's adults by age, sex and settlement; the people counted "
    "chose to answer in Telegram."
)
MAX_MESSAGE_CHARS = 4096
"""Telegram's limit on one message's text."""


@dataclass(frozen=True)
class Figures:
    """What a digest publishes, already protected: stance by age band and by main news source."""

    as_of: datetime
    new: int | None
    unchanged: bool
    tables: dict[str, SafeTable]
    weighted: dict[str, dict[Hashable, dict[Hashable, float]]] = field(default_factory=dict)
    """The same rows weighted (research.weights); empty: shares are unweighted."""

    @property
    def total(self) -> int | None:
        return next(iter(self.tables.values())).count(TOTAL, TOTAL)

    def shares(self, variable: str, row: Hashable) -> dict[Hashable, float | None]:
        """A row's share of each stance (weighted when weights are known), None where hidden."""
        table = self.tables[variable]
        if not self.weighted:
            return {column: table.share(row, column) for column in STANCES}
        rows = self.weighted[variable]
        masses = {
            c: sum(rows[r].get(c, 0.0) for r in rows) if row == TOTAL else rows[row].get(c, 0.0)
            for c in STANCES
        }
        whole = sum(masses.values())
        return {c: None if table.share(row, c) is None or not whole else masses[c] / whole for c in STANCES}


def _rows(
    counts: Mapping[tuple[str | None, ...], Number], groups: Sequence[str]
) -> dict[Hashable, dict[Hashable, Number]]:
    """Stance counts per group; answers outside `groups` (skipped, unanswered) form one row."""
    rows: dict[Hashable, dict[Hashable, Number]] = {code: {} for code in groups}
    rows[NOT_STATED] = {}
    for (group, stance), n in counts.items():
        row = rows[group if group in rows else NOT_STATED]
        column = stance if stance in STANCES else SKIP
        row[column] = row.get(column, 0) + n
    return rows


async def gather(
    sessions: async_sessionmaker[AsyncSession],
    questionnaire: Questionnaire,
    min_cell: int,
    now: datetime,
    plan: Plan | None = None,
) -> Figures:
    """Count, by the database, what the digest shows, and protect it; shares weighted as `plan` says.

    Figures move on only when at least MIN_CELL people completed since the last digest;
    otherwise the previous digest's cut-off is kept, so that comparing two digests never
    isolates a small group. Disclosure control uses the unweighted counts.
    """
    k = min_cell
    async with sessions.begin() as session:
        previous = await digests.last_sent(session)
        since = previous.data_until if previous else None
        new = await stats.count(session, stats.Scope(since=since, until=now)) if since else None
        unchanged = new is not None and new < k
        until = since if unchanged and since is not None else now
        scope = stats.Scope(until=until)
        by_age = await stats.counts(session, ["age_band", "stance"], scope)
        by_source = await stats.counts(session, ["main_source", "stance"], scope)
        weighted: dict[str, dict[Hashable, dict[Hashable, float]]] = {}
        if plan is not None and by_age:
            found = await weighting(session, plan, scope)
            for variable, groups in (("age_band", AGE_BAND_CODES), ("main_source", _sources(questionnaire))):
                cells = await weighted_counts(session, found, [variable, "stance"])
                weighted[variable] = _rows(cells, groups)
    tables = protect_together(
        {"age_band": _rows(by_age, AGE_BAND_CODES), "main_source": _rows(by_source, _sources(questionnaire))},
        STANCES,
        k,
    )
    return Figures(until, None if unchanged else new, unchanged, tables, weighted)


def _sources(questionnaire: Questionnaire) -> list[str]:
    return list(questionnaire["sources"].codes_without_skip)


def _group_label(_: Translator, questionnaire: Questionnaire, variable: str, code: Hashable) -> str:
    if code == NOT_STATED:
        return _("not stated")
    if variable == "age_band":
        return _("aged {band}", band=str(code).replace("-", "–"))
    return _(label_of(questionnaire["sources"], questionnaire, str(code)))


def _row_sentence(_: Translator, figures: Figures, variable: str, row: Hashable) -> str:
    """The group's share of every answer, and which answers are hidden, named as hidden.

    A group showing nothing but zeros says too few answers to show.
    """
    shares = round_shares(figures.shares(variable, row))
    shown = {c: shares[c] for c in SHOWN_STANCES if shares.get(c)}
    if not shown:
        return _("too few answers to show")
    sentence = ", ".join(f"{share}% {_(STANCE_WORDS[c])}" for c, share in shown.items())
    hidden = [_(STANCE_WORDS[c]) for c in SHOWN_STANCES if shares.get(c) is None]
    if hidden:
        sentence += "; " + _("hidden to protect small groups: {answers}", answers=", ".join(hidden))
    return sentence


def compose_language(_: Translator, writer: DigestWriter, figures: Figures, link: str) -> str:
    """The digest in one language: plain sentences, nothing under the minimum cell size."""
    k = writer.settings.min_cell
    moment = figures.as_of.astimezone(ZoneInfo(writer.settings.timezone)).strftime("%d.%m.%Y %H:%M")
    title = _(TITLE, date=moment)
    invitation = _("Take part anonymously: {link}", link=link)
    total = figures.total
    if not total:  # hidden, or nobody yet: no figures, and no headings with nothing under them
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
    overall = _row_sentence(_, figures, "age_band", TOTAL)
    lines += ["", escape(_("Views of the war: {parts}.", parts=overall))]
    for variable, heading in (("age_band", N_("By age:")), ("main_source", N_("By main news source:"))):
        table = figures.tables[variable]
        groups = [
            escape(f"• {_group_label(_, writer.questionnaire, variable, row)}: ")
            + escape(_row_sentence(_, figures, variable, row))
            for row in table.rows
            if table.count(row, TOTAL) != 0
        ]
        if groups:  # never a heading with nothing under it
            lines += ["", _bold(_(heading)), *groups]
    footnote = _(
        "Shares are rounded. Groups of fewer than {k} people are not shown, "
        "so that nobody can be singled out.",
        k=k,
    )
    lines += ["", escape(footnote)]
    if figures.weighted:
        lines.append(escape(_(WEIGHTED_FOOTNOTE)))
    lines.append(escape(invitation))
    return "\n".join(lines)


def chart_bars(figures: Figures) -> list[tuple[Hashable, dict[Hashable, int]]]:
    """Everyone, then each age band with anyone in it: whole percentages of every answer, and
    HIDDEN for what disclosure control hides; each bar adds up to 100."""
    table = figures.tables["age_band"]
    rows = [TOTAL, *(r for r in table.rows if r != NOT_STATED and table.count(r, TOTAL) != 0)]
    bars = []
    for row in rows:
        shares = round_shares(figures.shares("age_band", row))
        shown = {c: share for c, share in shares.items() if share is not None}
        hidden = 100 - sum(shown.values()) if len(shown) < len(shares) or not shown else 0
        bars.append((row, {**shown, HIDDEN: hidden}))
    return bars


def _bold(text: str) -> str:
    return f"<b>{escape(text)}</b>"


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
        return " / ".join(
            self.i18n.gettext(lang, message, **values) for lang in self.settings.digest_languages
        )

    def chart(self, figures: Figures) -> bytes | None:
        """Stance shares by age band as PNG: every answer drawn, what is hidden a hatched segment,
        so that each bar reaches 100%; labels in each language of the digest."""
        if not figures.total:
            return None
        bars = chart_bars(figures)
        labels = [self.words(EVERYONE) if r == TOTAL else str(r).replace("-", "–") for r, _s in bars]
        figure = Figure(figsize=(9, 1.8 + 0.55 * len(bars)), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.subplots()
        left = [0.0] * len(bars)
        for column in (*SHOWN_STANCES, HIDDEN):
            values = [float(shares.get(column, 0)) for _r, shares in bars]
            if column == HIDDEN:
                style: dict[str, str] = {"color": "white", "hatch": "///", "edgecolor": "#555555"}
                word = HIDDEN_WORD
            else:
                style, word = {"color": STANCE_COLOURS[column]}, STANCE_WORDS[column]
            legend = textwrap.fill(self.words(word), LEGEND_WIDTH)
            drawn = axes.barh(labels, values, left=left, label=legend, **style)
            axes.bar_label(drawn, labels=[f"{v:.0f}" if v >= 6 else "" for v in values], label_type="center")
            left = [a + b for a, b in zip(left, values, strict=True)]
        axes.set_xlim(0, 100)
        axes.set_xlabel("%")
        axes.invert_yaxis()
        axes.set_title(self.words(CHART_TITLE, n=figures.total), fontsize=10)
        figure.legend(loc="outside lower center", ncols=2, fontsize="small")
        buffer = BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()

    def render(self, figures: Figures, bot_username: str) -> tuple[list[str], bytes | None, str]:
        """The digest's messages, chart and chart caption (CPU-bound: the caller runs it off the loop)."""
        messages = self.compose(figures, f"https://t.me/{bot_username}")
        languages = self.settings.digest_languages
        caption = " / ".join(self.i18n.gettext(lang, CHART_TITLE, n=figures.total) for lang in languages)
        return messages, self.chart(figures), caption
