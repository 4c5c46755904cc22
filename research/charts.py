"""PNG bar charts of one or two analysis variables, drawn headless with matplotlib (Agg)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from core.i18n import N_
from db.stats import Value
from research.labels import Labels
from research.report import SMALL_MARK, number
from research.tables import Crosstab
from research.weights import Weighting

LABEL_WIDTH = 28
SHOW_SHARE_FROM = 0.06
NOTE_WIDTH = 95


@dataclass(frozen=True)
class ChartSpec:
    """What a chart shows: bars (row values), segments (column values) as row shares, and counts."""

    title: str
    bars: list[str]
    segments: list[str]
    shares: list[list[float]]
    counts: list[int]
    note: str
    colors: tuple[str, ...] | None = None
    """One per segment; None: matplotlib's default cycle."""


WEIGHTED_NOTE = N_("Percentages weighted to Kazakhstan's adults by age × sex and settlement; n unweighted.")
UNWEIGHTED_NOTE = N_("Unweighted percentages.")


def _note(labels: Labels, min_cell: int, weighting: Weighting | None) -> str:
    small = labels._("{mark} fewer than {min_cell} respondents.", mark=SMALL_MARK, min_cell=min_cell)
    return f"{labels._(WEIGHTED_NOTE if weighting else UNWEIGHTED_NOTE)} {small}"


def _bar(label: str, n: int, labels: Labels, min_cell: int) -> str:
    return f"{label} (n = {number(n, labels.language)}{SMALL_MARK if 0 < n < min_cell else ''})"


def chart_spec(
    labels: Labels,
    name: str,
    cells: Mapping[tuple[Value, ...], int],
    min_cell: int,
    weighting: Weighting | None = None,
    weighted: Mapping[tuple[Value, ...], float] | None = None,
) -> ChartSpec:
    """The chart of one variable: each value's share of all responses (weighted when given)."""
    total = sum(cells.values())
    values = labels.ordered(name, {key[0] for key in cells})
    counts = [sum(n for key, n in cells.items() if key[0] == v) for v in values]
    masses = [weighted.get((v,), 0.0) for v in values] if weighted else counts
    whole = sum(masses)
    return ChartSpec(
        title=f"{labels.variable(name)} (n = {number(total, labels.language)})",
        bars=[_bar(labels.value(name, v), n, labels, min_cell) for v, n in zip(values, counts, strict=True)],
        segments=[labels.variable(name)],
        shares=[[m / whole if whole else 0.0 for m in masses]],
        counts=counts,
        note=_note(labels, min_cell, weighting),
    )


def crosstab_spec(
    labels: Labels, table: Crosstab, min_cell: int, weighting: Weighting | None = None
) -> ChartSpec:
    """The chart of a cross-tab: one 100% bar per group, split by the outcome, n per bar."""
    title = labels._(
        "{outcome} by {by}", outcome=labels.variable(table.outcome), by=labels.variable(table.by)
    )
    return ChartSpec(
        title=f"{title} (n = {number(table.total, labels.language)})",
        bars=[_bar(labels.value(table.by, g), table.n(g), labels, min_cell) for g in table.groups],
        segments=[labels.value(table.outcome, o) for o in table.outcomes],
        shares=[[table.share(g, o) for g in table.groups] for o in table.outcomes],
        counts=[table.n(g) for g in table.groups],
        note=_note(labels, min_cell, weighting),
    )


def render_png(spec: ChartSpec) -> bytes:
    """Draw the chart: horizontal bars, stacked to 100% when there is a column variable."""
    height = 1.6 + 0.45 * len(spec.bars) + (0.3 * len(spec.segments) if len(spec.segments) > 1 else 0)
    figure = Figure(figsize=(9, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(spec.bars)))[::-1]
    stacked = len(spec.segments) > 1
    left = [0.0] * len(spec.bars)
    colors = spec.colors or (None,) * len(spec.segments)
    for segment, shares, color in zip(spec.segments, spec.shares, colors, strict=True):
        percents = [s * 100 for s in shares]
        label = textwrap.fill(segment, LABEL_WIDTH)
        drawn = axes.barh(positions, percents, left=left, label=label, color=color)
        labels = [f"{p:.0f}%" if s >= SHOW_SHARE_FROM else "" for p, s in zip(percents, shares, strict=True)]
        axes.bar_label(drawn, labels=labels, label_type="center" if stacked else "edge", fontsize=8)
        left = [a + b for a, b in zip(left, percents, strict=True)]
    axes.set_yticks(positions, [textwrap.fill(b, LABEL_WIDTH + 12) for b in spec.bars], fontsize=9)
    axes.set_xlim(0, 100 if stacked else max([*left, 1.0]) * 1.15)
    axes.xaxis.set_major_formatter("{x:.0f}%")
    axes.set_title(textwrap.fill(spec.title, 70), fontsize=11)
    if stacked:
        figure.legend(loc="outside lower center", ncols=min(3, len(spec.segments)), fontsize=8)
    axes.set_xlabel(textwrap.fill(spec.note, NOTE_WIDTH), fontsize=7, loc="left")
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
