"""Researchers' figures as chat text: /stats and /crosstab, split into messages at line breaks."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from babel.numbers import format_decimal

from core.i18n import N_
from db.models import ResponseStatus
from db.stats import Overview, Value
from research.labels import Labels
from survey.analysis import Proportion

MAX_MESSAGE = 4096
SMALL_MARK = "*"
STATUS_NAMES = {
    ResponseStatus.COMPLETE: N_("Completed"),
    ResponseStatus.IN_PROGRESS: N_("In progress"),
    ResponseStatus.CANCELLED: N_("Stopped"),
    ResponseStatus.SCREENED_OUT: N_("Screened out (under 18)"),
}


class LineTooLongError(Exception):
    """A single line does not fit in one message, so it cannot be sent without cutting it."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"a line of {length} characters exceeds the message limit of {limit}")


def split_message(lines: list[str], limit: int = MAX_MESSAGE) -> list[str]:
    """Group lines into as few messages as fit in `limit` characters each, breaking only between lines."""
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        length = len(line.encode("utf-16-le")) // 2
        if length > limit:
            raise LineTooLongError(length, limit)
        if current and size + 1 + length > limit:
            messages.append("\n".join(current))
            current, size = [], 0
        size += length + (1 if current else 0)
        current.append(line)
    if any(line.strip() for line in current):
        messages.append("\n".join(current))
    return [m.strip("\n") for m in messages if m.strip()]


def number(value: int, language: str) -> str:
    """A count with the language's digit grouping."""
    return format_decimal(value, locale=language)


def percent(share: float, language: str) -> str:
    """A share as a percentage with one decimal, e.g. 12,3%."""
    return format_decimal(share * 100, format="0.0", locale=language) + "%"


def proportion_text(proportion: Proportion, language: str, min_cell: int) -> str:
    """`count · share [low–high]`, marked when the group is smaller than min_cell."""
    low, high = proportion.interval
    interval = f"{format_decimal(low * 100, format='0.0', locale=language)}–{percent(high, language)}"
    return (
        f"{_cell(proportion.count, language, min_cell)} · {percent(proportion.share, language)} [{interval}]"
    )


def _duration(labels: Labels, seconds: float | None) -> str:
    _ = labels._
    if seconds is None:
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    return _("{minutes} min {seconds} s", minutes=minutes, seconds=rest)


def _distribution(labels: Labels, name: str, counts: Mapping[Value, int], min_cell: int) -> list[str]:
    total = sum(counts.values())
    heading = f"<b>{escape(labels.variable(name))}</b> (n = {number(total, labels.language)})"
    lines = ["", heading]
    present = {code for code, n in counts.items() if n} | set(labels.codes(name))
    for code in labels.ordered(name, present):
        share = proportion_text(Proportion(counts.get(code, 0), total), labels.language, min_cell)
        lines.append(f"• {escape(labels.value(name, code))}: {share}")
    return lines


def stats_lines(labels: Labels, figures: Overview, min_cell: int) -> list[str]:
    """The /stats report, one line per list entry (HTML)."""
    _, lang = labels._, labels.language
    rate = figures.completed / figures.eligible if figures.eligible else 0.0
    title = _("Survey statistics")
    lines = [
        f"<b>{escape(title)}</b>",
        escape(_("Started: {count}", count=number(figures.started, lang))),
    ]
    for status in (
        ResponseStatus.COMPLETE,
        ResponseStatus.IN_PROGRESS,
        ResponseStatus.CANCELLED,
        ResponseStatus.SCREENED_OUT,
    ):
        lines.append(f"{escape(_(STATUS_NAMES[status]))}: {number(figures.statuses[status], lang)}")
    lines += [
        escape(
            _(
                "Completion rate (completed of started, screened out not counted): {rate}",
                rate=percent(rate, lang),
            )
        ),
        escape(
            _(
                "Today: {started} started, {completed} completed",
                started=number(figures.started_today, lang),
                completed=number(figures.completed_today, lang),
            )
        ),
        escape(
            _(
                "Last 7 days: {started} started, {completed} completed",
                started=number(figures.started_week, lang),
                completed=number(figures.completed_week, lang),
            )
        ),
        escape(_("Median completion time: {time}", time=_duration(labels, figures.median_seconds))),
    ]
    for name, counts in figures.distributions.items():
        lines += _distribution(labels, name, counts, min_cell)
    lines += ["", _legend(labels, min_cell, intervals=True)]
    return lines


def _legend(labels: Labels, min_cell: int, intervals: bool) -> str:
    _ = labels._
    parts = [_("Completed responses only.")]
    if intervals:
        parts.append(_("Brackets: 95% Wilson interval."))
    parts.append(_("{mark} fewer than {min_cell} respondents.", mark=SMALL_MARK, min_cell=min_cell))
    return f"<i>{escape(' '.join(parts))}</i>"


def crosstab_lines(
    labels: Labels, row: str, column: str, cells: Mapping[tuple[Value, ...], int], min_cell: int
) -> list[str]:
    """A two-way table as blocks, one per row value: counts with row percentages (HTML)."""
    lang = labels.language
    total = sum(cells.values())
    title = f"{labels.variable(row)} × {labels.variable(column)}"
    lines = [f"<b>{escape(title)}</b> (n = {number(total, lang)})", escape(labels._("Row percentages."))]
    rows = labels.ordered(row, {r for r, _c in cells})
    columns = labels.ordered(column, {c for _r, c in cells})
    blocks: list[tuple[str, dict[Value, int]]] = [
        (labels.value(row, r), {c: cells.get((r, c), 0) for c in columns}) for r in rows
    ]
    blocks.append((labels._("Total"), {c: sum(cells.get((r, c), 0) for r in rows) for c in columns}))
    for heading, counts in blocks:
        row_total = sum(counts.values())
        lines += ["", f"<b>{escape(heading)}</b> (n = {_cell(row_total, lang, min_cell)})"]
        for code, n in counts.items():
            share = percent(n / row_total if row_total else 0.0, lang)
            lines.append(f"• {escape(labels.value(column, code))}: {_cell(n, lang, min_cell)} · {share}")
    lines += ["", _legend(labels, min_cell, intervals=False)]
    return lines


def _cell(n: int, language: str, min_cell: int) -> str:
    return number(n, language) + (SMALL_MARK if 0 < n < min_cell else "")
