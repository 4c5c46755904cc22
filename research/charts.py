"""PNG bar charts of one or two analysis variables, drawn headless with matplotlib (Agg)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from db.stats import Value
from research.labels import Labels
from research.report import SMALL_MARK, number

LABEL_WIDTH = 28
SHOW_SHARE_FROM = 0.06


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


def chart_spec(
    labels: Labels, row: str, column: str | None, cells: Mapping[tuple[Value, ...], int], min_cell: int
) -> ChartSpec:
    """The chart of `row` (shares of all responses) or of `row` by `column` (row shares)."""
    total = sum(cells.values())
    rows = labels.ordered(row, {key[0] for key in cells})
    columns = labels.ordered(column, {key[1] for key in cells}) if column else [None]
    counts = [sum(n for key, n in cells.items() if key[0] == r) for r in rows]
    if column is None:
        shares = [[n / total if total else 0.0 for n in counts]]
        segments = [labels.variable(row)]
    else:
        shares = [
            [cells.get((r, c), 0) / n if n else 0.0 for r, n in zip(rows, counts, strict=True)]
            for c in columns
        ]
        segments = [labels.value(column, c) for c in columns]
    names = [labels.variable(row)] + ([labels.variable(column)] if column else [])
    bars = [
        f"{labels.value(row, r)} (n = {number(n, labels.language)}{SMALL_MARK if 0 < n < min_cell else ''})"
        for r, n in zip(rows, counts, strict=True)
    ]
    note = labels._("{mark} fewer than {min_cell} respondents.", mark=SMALL_MARK, min_cell=min_cell)
    title = f"{' × '.join(names)} (n = {number(total, labels.language)})"
    return ChartSpec(title, bars, segments, shares, counts, note)


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
    figure.text(0.01, 0.0, spec.note, fontsize=7, ha="left", va="bottom")
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
