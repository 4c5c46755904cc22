"""Researchers' figures as chat text: /stats and /crosstab, split into messages at line breaks."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from babel.numbers import format_decimal

from core.i18n import N_
from db.models import ResponseStatus
from db.stats import Overview, Value
from research.disclosure import round_shares
from research.labels import Labels
from research.quality import Speeders
from research.tables import Crosstab
from research.weights import Weighting
from survey.analysis import Proportion, wilson_interval

MAX_MESSAGE = 4096
SMALL_MARK = "*"
SAMPLE_NOTE = N_(
    "The sample is people who chose to answer in Telegram, not a random sample of Kazakhstan's adults: "
    "no margin of sampling error applies."
)
TABLE_WIDTH = 35
"""Characters of monospace text a phone shows on one line."""
MAX_ROW_LABEL = 9
MAX_COLUMN_LABEL = 7
LOW_EXPECTED_LIMIT = 0.2

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


def _distribution(
    labels: Labels,
    name: str,
    counts: Mapping[Value, int],
    min_cell: int,
    weighted: Mapping[Value, float] | None,
    design_effect: float,
) -> list[str]:
    total = sum(counts.values())
    heading = f"<b>{escape(labels.variable(name))}</b> (n = {number(total, labels.language)})"
    lines = ["", heading]
    present = {code for code, n in counts.items() if n} | set(labels.codes(name))
    for code in labels.ordered(name, present):
        if weighted is None:
            share = proportion_text(Proportion(counts.get(code, 0), total), labels.language, min_cell)
        else:
            share = weighted_text(
                counts.get(code, 0),
                weighted.get(code, 0.0) / (sum(weighted.values()) or 1.0),
                total / design_effect,
                labels.language,
                min_cell,
            )
        lines.append(f"• {escape(labels.value(name, code))}: {share}")
    return lines


def weighted_text(count: int, share: float, effective_n: float, language: str, min_cell: int) -> str:
    """`count · weighted share [low–high]`: the model-based Wilson interval at the effective n."""
    low, high = wilson_interval(share * effective_n, effective_n) if effective_n else (0.0, 0.0)
    interval = f"{format_decimal(low * 100, format='0.0', locale=language)}–{percent(high, language)}"
    return f"{_cell(count, language, min_cell)} · {percent(share, language)} [{interval}]"


def weighting_lines(labels: Labels, weighting: Weighting | None) -> list[str]:
    """What the percentages are (weighted or not) and what the sample is, in italics (HTML)."""
    _, lang = labels._, labels.language
    if weighting is None:
        parts = [_("Unweighted percentages of the people who answered.")]
    else:
        parts = [
            _(
                "Percentages weighted to Kazakhstan's adults by age × sex and settlement "
                "(Bureau of National Statistics); n counts people, unweighted. "
                "Design effect {deff}, effective n {n_eff}. Unweighted: add “raw” to the command, "
                "e.g. /stats raw.",
                deff=_decimal(weighting.design_effect, lang, "0.00"),
                n_eff=number(round(weighting.effective_n), lang),
            )
        ]
        left_out = weighting.left_out
        if left_out is not None and left_out.count:
            parts.append(_("Speeders are left out: {count}.", count=number(left_out.count, lang)))
        if weighting.left_out_repeats:
            parts.append(_("Repeats are left out: {count}.", count=number(weighting.left_out_repeats, lang)))
    parts.append(_(SAMPLE_NOTE))
    return [f"<i>{escape(' '.join(parts))}</i>"]


def stats_lines(
    labels: Labels,
    figures: Overview,
    min_cell: int,
    weighting: Weighting | None = None,
    weighted: Mapping[str, Mapping[Value, float]] | None = None,
    fast: Speeders | None = None,
    repeats: int | None = None,
) -> list[str]:
    """The /stats report, one line per list entry (HTML); shares weighted when `weighting` is given.

    `fast` and `repeats` are the quality flags among completed responses (None: not shown)."""
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
    if fast is not None and fast.seconds is not None:
        speed = _(
            "Speeders (completed in under {time}): {count}",
            time=_duration(labels, fast.seconds),
            count=number(fast.count, lang),
        )
        lines.append(escape(speed))
    if repeats is not None:
        again = _(
            "Repeats (completed after erasing an earlier response): {count}",
            count=number(repeats, lang),
        )
        lines.append(escape(again))
    deff = weighting.design_effect if weighting else 1.0
    for name, counts in figures.distributions.items():
        shares = weighted[name] if weighting and weighted else None
        lines += _distribution(labels, name, counts, min_cell, shares, deff)
    lines += ["", _legend(labels, min_cell, intervals=weighting is None)]
    if weighting is not None:
        brackets = _("Brackets: model-based 95% interval (Wilson) from the effective n.")
        lines.append(f"<i>{escape(brackets)}</i>")
    return [*lines, *weighting_lines(labels, weighting)]


def _legend(labels: Labels, min_cell: int, intervals: bool) -> str:
    _ = labels._
    parts = [_("Completed responses only.")]
    if intervals:
        parts.append(_("Brackets: 95% Wilson interval."))
    parts.append(_("{mark} fewer than {min_cell} respondents.", mark=SMALL_MARK, min_cell=min_cell))
    return f"<i>{escape(' '.join(parts))}</i>"


def crosstab_lines(
    labels: Labels, table: Crosstab, min_cell: int, weighting: Weighting | None = None
) -> list[str]:
    """/crosstab OUTCOME BY: a phone-width <pre> table of shares within each group, then the test (HTML).

    Each table block is one entry of the list, so split_message never cuts a <pre> in two.
    """
    _, lang = labels._, labels.language
    title = _("{outcome} by {by}", outcome=labels.variable(table.outcome), by=labels.variable(table.by))
    lines = [
        f"<b>{escape(title)}</b> (n = {number(table.total, lang)})",
        escape(_("Percent within each group: every row adds up to 100%. n: people in the group.")),
    ]
    lines += [f"<pre>{escape(block)}</pre>" for block in table_blocks(labels, table, min_cell)]
    lines += [
        escape(f"{labels.short(table.outcome, code)} = {labels.value(table.outcome, code)}")
        for code in table.outcomes
    ]
    lines += ["", *association_lines(labels, table), "", _legend(labels, min_cell, intervals=False)]
    return [*lines, *weighting_lines(labels, weighting)]


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table_row(
    name: str, n: int, shares: dict[Value, float], counts: dict[Value, int], min_cell: int
) -> tuple[str, dict[Value, str], str]:
    """A row's label, whole percentages adding up to 100 (marked where few people), and n."""
    rounded = round_shares(shares)
    texts = {o: f"{rounded[o]}{SMALL_MARK if 0 < counts[o] < min_cell else ''}" for o in shares}
    return name, texts, _cell(n, "en", min_cell)


def table_blocks(labels: Labels, table: Crosstab, min_cell: int, width: int = TABLE_WIDTH) -> list[str]:
    """The table as monospace blocks within `width` characters, outcome columns spread over blocks."""
    outcomes = table.outcomes
    rows = [
        _table_row(
            labels.short(table.by, group),
            table.n(group),
            {o: table.share(group, o) for o in outcomes},
            {o: table.count(group, o) for o in outcomes},
            min_cell,
        )
        for group in table.groups
    ]
    total_counts = {o: sum(table.count(g, o) for g in table.groups) for o in outcomes}
    shares = {o: table.total_share(o) for o in outcomes}
    rows.append(_table_row(labels._("Total"), table.total, shares, total_counts, min_cell))
    label_width = min(max(len(name) for name, _t, _n in rows), MAX_ROW_LABEL)
    n_width = max(len(n) for _name, _t, n in rows)
    headers = {o: _fit(labels.short(table.outcome, o), MAX_COLUMN_LABEL) for o in table.outcomes}
    widths = {o: max(len(headers[o]), *(len(texts[o]) for _n, texts, _c in rows)) for o in table.outcomes}
    chunks: list[list[Value]] = [[]]
    used = label_width + 1 + n_width
    for outcome in table.outcomes:
        if chunks[-1] and used + widths[outcome] + 1 > width:
            chunks.append([])
            used = label_width + 1 + n_width
        chunks[-1].append(outcome)
        used += widths[outcome] + 1
    blocks = []
    for chunk in chunks:
        header = (
            " " * label_width + "".join(f" {headers[o]:>{widths[o]}}" for o in chunk) + f" {'n':>{n_width}}"
        )
        body = [
            _fit(name, label_width).ljust(label_width)
            + "".join(f" {texts[o]:>{widths[o]}}" for o in chunk)
            + f" {n:>{n_width}}"
            for name, texts, n in rows
        ]
        blocks.append("\n".join([header, *body]))
    return blocks


def _decimal(value: float, language: str, pattern: str) -> str:
    return format_decimal(value, format=pattern, locale=language)


def association_lines(labels: Labels, table: Crosstab) -> list[str]:
    """Chi-square test of independence and Cramér's V, or why there is none (HTML)."""
    _, lang = labels._, labels.language
    found = table.association()
    if found is None:
        return [escape(_("No test of independence: it needs at least two groups and two answers."))]
    p = "< " + _decimal(0.001, lang, "0.000") if found.p < 0.001 else "= " + _decimal(found.p, lang, "0.000")
    lines = [
        escape(
            _(
                "Chi-square test of independence: χ² = {chi2}, df = {df}, p {p}; Cramér's V = {v} "
                "(n = {n}, without “Prefer not to answer” and no answer; unweighted counts).",
                chi2=_decimal(found.chi2, lang, "0.00"),
                df=found.df,
                p=p,
                v=_decimal(found.cramers_v, lang, "0.00"),
                n=number(found.n, lang),
            )
        )
    ]
    if found.low_expected > LOW_EXPECTED_LIMIT:
        lines.append(
            escape(
                _(
                    "{share} of cells expect fewer than 5 people: the p-value is only a rough guide.",
                    share=percent(found.low_expected, lang),
                )
            )
        )
    return lines


def _cell(n: int, language: str, min_cell: int) -> str:
    return number(n, language) + (SMALL_MARK if 0 < n < min_cell else "")
