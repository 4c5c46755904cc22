"""A linear-programming attacker on the digest's published figures (scipy.optimize.linprog).

It knows what a reader of the channel knows about the true counts behind one or two digests:
random rounding to steps of k puts each cell within k-1 of its published figure; the number of
respondents is exact; the two tables count the same people (the same column totals); counts are
not negative. For every group a digest speaks of (a cell, a row, a column) it finds the least
and the most that group can be, in one digest or as the change between two, and reports those
pinned inside 1..k-1 (or -(k-1)..-1 for a change).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np
from scipy.optimize import linprog

from research.digest import Figures

K = 10


def knowledge(value: int, base: int) -> tuple[int, int]:
    """The true counts a published `value` allows."""
    return max(0, value - base + 1), value + base - 1


class Attack:
    """The linear program of what the channel's readers know about the counts behind digests."""

    def __init__(self, publications: Sequence[Figures], base: int = K, only_newcomers: bool = False) -> None:
        """`only_newcomers`: the attacker knows that nobody was erased between the publications."""
        self.index: dict[tuple[int, str, Hashable, Hashable], int] = {}
        bounds: list[tuple[int, int]] = []
        equal: list[tuple[dict[int, float], float]] = []
        for p, figures in enumerate(publications):
            assert figures.total is not None
            for name, table in figures.tables.items():
                for row in table.rows:
                    for column in table.columns:
                        self.index[(p, name, row, column)] = len(bounds)
                        bounds.append(knowledge(table.counts[(row, column)], base))
                equal.append((self.line(p, name), figures.total))
            first, *others = figures.tables
            for name in others:
                for column in figures.tables[first].columns:
                    together = self.line(p, first, column=column)
                    together.update({i: -1.0 for i in self.line(p, name, column=column)})
                    equal.append((together, 0))
        self.bounds, self.size = bounds, len(bounds)
        self.a_eq, self.b_eq = self._matrix(equal)
        growing = [
            ({i: 1.0, self.index[(p + 1, *cell)]: -1.0}, 0.0)
            for (p, *cell), i in self.index.items()
            if only_newcomers and (p + 1, *cell) in self.index
        ]
        self.a_ub, self.b_ub = self._matrix(growing) if growing else (None, None)

    def line(
        self, p: int, name: str, row: Hashable | None = None, column: Hashable | None = None
    ) -> dict[int, float]:
        """The sum of publication p's table `name` along a row, a column, or all of it."""
        return {
            i: 1.0
            for (q, n, r, c), i in self.index.items()
            if q == p and n == name and row in (None, r) and column in (None, c)
        }

    def _matrix(self, rows: list[tuple[dict[int, float], float]]) -> tuple[np.ndarray, np.ndarray]:
        matrix = np.zeros((len(rows), self.size))
        for number, (coefficients, _value) in enumerate(rows):
            for i, a in coefficients.items():
                matrix[number, i] = a
        return matrix, np.array([value for _c, value in rows], dtype=float)

    def extreme(self, objective: dict[int, float], sign: int) -> int:
        """The least (sign 1) or, negated, the most (sign -1) the objective can be, as a whole number."""
        c = np.zeros(self.size)
        for i, a in objective.items():
            c[i] = sign * a
        result = linprog(c, self.a_ub, self.b_ub, self.a_eq, self.b_eq, self.bounds, method="highs")
        assert result.status == 0, "what was published must be consistent with some truth"
        return math.ceil(result.fun - 1e-6)

    def pinned(self, objective: dict[int, float]) -> tuple[int, int] | None:
        """The least and the most the objective can be, when that is inside 1..K-1 or -(K-1)..-1."""
        low = sum(self.bounds[i][0 if a > 0 else 1] * a for i, a in objective.items())
        if low >= K:
            return None
        least = self.extreme(objective, 1)
        if not (1 <= least < K or -K < least <= -1):
            return None
        most = -self.extreme(objective, -1)
        return (least, most) if (least > 0) == (most > 0) and abs(most) < K else None

    def groups(self, p: int, figures: Figures) -> dict[str, dict[int, float]]:
        """Every group a digest speaks of: each cell, each row (a group of people), each column."""
        found = {}
        for name, table in figures.tables.items():
            for row in table.rows:
                found[f"{name}:{row}"] = self.line(p, name, row=row)
                for column in table.columns:
                    found[f"{name}:{row}:{column}"] = self.line(p, name, row=row, column=column)
            for column in table.columns:
                found[f"{name}:all:{column}"] = self.line(p, name, column=column)
        return found


def pinned_groups(
    publications: Sequence[Figures], only_newcomers: bool = False, base: int = K
) -> dict[str, tuple[int, int]]:
    """The small groups the attacker pins in one publication, or in the change between two."""
    attack = Attack(publications, base, only_newcomers)
    found = {}
    for name, line in attack.groups(len(publications) - 1, publications[-1]).items():
        objective = dict(line)
        if len(publications) == 2:
            for i, a in attack.groups(0, publications[0])[name].items():
                objective[i] = objective.get(i, 0) - a
        bounds = attack.pinned(objective)
        if bounds is not None:
            found[name] = bounds
    return found
