"""Disclosure control for published tables: no small group, and none recoverable by subtraction.

A table is published with its row totals, column totals and grand total. A cell (or margin)
is hidden when it counts fewer than `k` people (zero is not a group and stays visible). Then
complementary cells are hidden until, in every row and every column (margins included), the
hidden entries are either none or at least two, and, where the line's total is shown, the hidden
cells add up to zero or at least `k`: no hidden figure can be worked out from the others, and
no set of hidden figures whose sum is shown adds up to a small group.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

TOTAL = "__total__"


@dataclass(frozen=True)
class SafeTable:
    """A two-way table of counts with the entries that must not be published."""

    rows: tuple[Hashable, ...]
    columns: tuple[Hashable, ...]
    counts: Mapping[tuple[Hashable, Hashable], int]
    hidden: frozenset[tuple[Hashable, Hashable]]

    def count(self, row: Hashable, column: Hashable) -> int | None:
        """The publishable count, or None when it must stay hidden (TOTAL names a margin)."""
        key = (row, column)
        return None if key in self.hidden else self.counts.get(key, 0)

    def share(self, row: Hashable, column: Hashable) -> float | None:
        """The cell's share of its row total, or None when either is hidden or the row is empty."""
        part, whole = self.count(row, column), self.count(row, TOTAL)
        return None if part is None or not whole else part / whole


def _lines(rows: Sequence[Hashable], columns: Sequence[Hashable]) -> list[list[tuple[Hashable, Hashable]]]:
    """Every set of entries bound by one additive constraint (its last entry is the sum of the others):
    each row and each column, margins included."""
    all_rows, all_columns = [*rows, TOTAL], [*columns, TOTAL]
    return [[(r, c) for c in all_columns] for r in all_rows] + [
        [(r, c) for r in all_rows] for c in all_columns
    ]


def _line_is_safe(
    line: list[tuple[Hashable, Hashable]],
    hidden: set[tuple[Hashable, Hashable]],
    counts: dict[tuple[Hashable, Hashable], int],
    k: int,
) -> bool:
    secret = [key for key in line if key in hidden]
    if not secret:
        return True
    if len(secret) == 1:
        return False
    if line[-1] in hidden:
        return True
    return sum(counts[key] for key in secret) >= k


def protect(
    table: Mapping[Hashable, Mapping[Hashable, int]],
    columns: Sequence[Hashable],
    k: int,
    also_hide: frozenset[tuple[Hashable, Hashable]] = frozenset(),
) -> SafeTable:
    """Primary and complementary suppression of a table of counts (rows → columns → count).

    `also_hide` forces entries hidden (margins another published table had to hide).
    """
    rows = tuple(table)
    counts: dict[tuple[Hashable, Hashable], int] = {}
    for row in rows:
        for column in columns:
            counts[(row, column)] = int(table[row].get(column, 0))
        counts[(row, TOTAL)] = sum(counts[(row, c)] for c in columns)
    for column in columns:
        counts[(TOTAL, column)] = sum(counts[(r, column)] for r in rows)
    counts[(TOTAL, TOTAL)] = sum(counts[(r, TOTAL)] for r in rows)

    hidden = {key for key, value in counts.items() if 0 < value < k} | (also_hide & counts.keys())
    lines = _lines(rows, columns)
    changed = True
    while changed:
        changed = False
        for line in lines:
            if _line_is_safe(line, hidden, counts, k):
                continue
            candidates = sorted(
                (key for key in line if key not in hidden), key=lambda key: (counts[key] == 0, counts[key])
            )
            if not candidates:
                continue
            hidden.add(candidates[0])
            changed = True
    return SafeTable(rows, tuple(columns), counts, frozenset(hidden))


def round_shares(shares: Mapping[Hashable, float | None]) -> dict[Hashable, int | None]:
    """Whole percentages that add up to 100 (largest remainders), hidden entries left as None."""
    visible = {key: value for key, value in shares.items() if value is not None}
    result: dict[Hashable, int | None] = dict.fromkeys(shares)
    if not visible:
        return result
    total = sum(visible.values())
    target = round(total * 100)
    floors = {key: int(value * 100) for key, value in visible.items()}
    order = sorted(visible, key=lambda key: visible[key] * 100 - floors[key], reverse=True)
    for key in order[: max(0, target - sum(floors.values()))]:
        floors[key] += 1
    result.update(floors)
    return result


def protect_together(
    tables: Mapping[str, Mapping[Hashable, Mapping[Hashable, int]]], columns: Sequence[Hashable], k: int
) -> dict[str, SafeTable]:
    """Protect tables that share their column margins (the same people split by different rows).

    A margin one table hides is hidden in all, so that no table publishes what another protects.
    """
    forced: frozenset[tuple[Hashable, Hashable]] = frozenset()
    while True:
        result = {name: protect(table, columns, k, forced) for name, table in tables.items()}
        margins = frozenset(key for safe in result.values() for key in safe.hidden if key[0] == TOTAL)
        if margins <= forced:
            return result
        forced = forced | margins
