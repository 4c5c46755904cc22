"""Disclosure control for published tables: counts randomly rounded to steps of MIN_CELL.

Every published cell count is its true count c rounded to a multiple of the base k, down or up
with the chances that keep it unbiased (up with chance (c mod k)/k). The draw is a keyed hash
of the cell and its count: the same count of the same cell always rounds the same way, so
publishing it again teaches nothing, and without the key nobody can tell which way a count went.
A reader learns only that the count is within k-1 of the published figure: 0 stands for
0..k-1, k for 1..2k-1, 2k for k+1..3k-1. None of these intervals lies inside 1..k-1, and the
difference of two publications is known only to within 2k-2 either way, so neither a digest nor
the change between two (newcomers, erasures) pins a group smaller than k. Row and column
totals are sums of the published cells (a total rounded on its own would narrow its cells down
against the exact number of respondents), and shares are computed from them.
docs/disclosure.md gives the protection and the information-loss figures.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

TOTAL = "__total__"

Key = tuple[Hashable, Hashable]
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class SafeTable:
    """A published two-way table: rounded counts, TOTAL naming the row and column totals.

    A count rounded to zero is not shown.
    """

    rows: tuple[Hashable, ...]
    columns: tuple[Hashable, ...]
    counts: Mapping[Key, int]

    def count(self, row: Hashable, column: Hashable) -> int | None:
        """The published count, or None when it rounds to zero (a row total is always given)."""
        value = self.counts.get((row, column), 0)
        return None if value == 0 and column != TOTAL else value

    def share(self, row: Hashable, column: Hashable) -> float | None:
        """The cell's share of its row total, or None when the cell is not shown or the row is empty."""
        part, whole = self.count(row, column), self.count(row, TOTAL)
        return None if part is None or not whole else part / whole


def round_to(value: int, base: int, chance: float) -> int:
    """`value` rounded to a multiple of `base`: up when `chance` (uniform in [0, 1)) says so."""
    low = value - value % base
    return low + base if chance * base < value % base else low


def chance(key: str, *figure: Hashable) -> float:
    """A number in [0, 1) fixed by the key and the figure (what it counts, and the count)."""
    digest = hmac.new(key.encode(), repr(figure).encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def round_table(
    name: str,
    table: Mapping[Hashable, Mapping[Hashable, int]],
    columns: Sequence[Hashable],
    base: int,
    key: str,
) -> SafeTable:
    """Round the cells of a table of counts (rows → columns → count) for publication; its row and
    column totals are the sums of the rounded cells."""
    rows = tuple(table)
    counts: dict[Key, int] = {}
    for row in rows:
        for column in columns:
            value = int(table[row].get(column, 0))
            counts[(row, column)] = round_to(value, base, chance(key, name, row, column, value))
    for row in rows:
        counts[(row, TOTAL)] = sum(counts[(row, column)] for column in columns)
    for column in (*columns, TOTAL):
        counts[(TOTAL, column)] = sum(counts[(row, column)] for row in rows)
    return SafeTable(rows, tuple(columns), counts)


def round_shares(shares: Mapping[K, float | None]) -> dict[K, int | None]:
    """Whole percentages that add up to 100 (largest remainders), hidden entries left as None."""
    visible = {key: value for key, value in shares.items() if value is not None}
    result: dict[K, int | None] = dict.fromkeys(shares)
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
