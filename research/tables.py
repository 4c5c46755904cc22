"""Two-way tables of an outcome by groups: shares within each group and a test of independence.

A table answers "what share of each group holds each view": every group's shares add up to 100%.
Counts are always the people counted (unweighted); `weighted` holds the same cells weighted (see
research.weights), and shares are read from it, so disclosure marks and n stay on real counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from db.stats import Value
from research.labels import Labels
from survey.model import SKIP

Cell = tuple[Value, Value]
"""(group, outcome)."""

NOT_SUBSTANTIVE: frozenset[Value] = frozenset({SKIP, None})
"""Values left out of the test of independence: "Prefer not to answer" and no answer."""


@dataclass(frozen=True)
class Association:
    """Pearson's chi-square test of independence (no continuity correction) and Cramér's V."""

    chi2: float
    df: int
    p: float
    cramers_v: float
    n: int
    low_expected: float
    """The share of cells whose expected count is below 5 (the p-value is rough above 20%)."""


@dataclass(frozen=True)
class Crosstab:
    """`outcome` by `by`: unweighted counts per (group, outcome), and the same cells weighted."""

    outcome: str
    by: str
    groups: tuple[Value, ...]
    outcomes: tuple[Value, ...]
    counts: Mapping[Cell, int]
    weighted: Mapping[Cell, float] = field(default_factory=dict)

    def count(self, group: Value, outcome: Value) -> int:
        return self.counts.get((group, outcome), 0)

    def n(self, group: Value) -> int:
        """How many people are in a group."""
        return sum(self.count(group, o) for o in self.outcomes)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def _weight(self, group: Value, outcome: Value) -> float:
        return self.weighted.get((group, outcome), 0.0) if self.weighted else self.count(group, outcome)

    def share(self, group: Value, outcome: Value) -> float:
        """The outcome's share within the group (0 for an empty group)."""
        whole = sum(self._weight(group, o) for o in self.outcomes)
        return self._weight(group, outcome) / whole if whole else 0.0

    def total_share(self, outcome: Value) -> float:
        """The outcome's share among everyone in the table."""
        whole = sum(self._weight(g, o) for g in self.groups for o in self.outcomes)
        return sum(self._weight(g, outcome) for g in self.groups) / whole if whole else 0.0

    def tested(self) -> tuple[list[Value], list[Value], list[list[int]]]:
        """The substantive groups and outcomes with anyone in them, and their counts."""
        groups = [g for g in self.groups if g not in NOT_SUBSTANTIVE]
        outcomes = [o for o in self.outcomes if o not in NOT_SUBSTANTIVE]
        groups = [g for g in groups if any(self.count(g, o) for o in outcomes)]
        outcomes = [o for o in outcomes if any(self.count(g, o) for g in groups)]
        return groups, outcomes, [[self.count(g, o) for o in outcomes] for g in groups]

    def association(self) -> Association | None:
        """The test on the substantive part of the table, or None when it has under two rows or columns."""
        groups, outcomes, observed = self.tested()
        if len(groups) < 2 or len(outcomes) < 2:
            return None
        from scipy.stats import chi2_contingency  # a second's import: only what tests a table pays it

        result = chi2_contingency(observed, correction=False)
        n = sum(map(sum, observed))
        smaller = min(len(groups), len(outcomes)) - 1
        expected = [value for row in result.expected_freq for value in row]
        return Association(
            chi2=float(result.statistic),
            df=int(result.dof),
            p=float(result.pvalue),
            cramers_v=math.sqrt(float(result.statistic) / (n * smaller)),
            n=n,
            low_expected=sum(value < 5 for value in expected) / len(expected),
        )


def crosstab(
    labels: Labels,
    outcome: str,
    by: str,
    counts: Mapping[tuple[Value, ...], int],
    weighted: Mapping[tuple[Value, ...], float] | None = None,
) -> Crosstab:
    """A Crosstab of counts keyed (group, outcome): groups present, all outcomes, in questionnaire order."""
    outcomes = labels.ordered(outcome, {o for _g, o in counts} | set(labels.codes(outcome)))
    return Crosstab(
        outcome=outcome,
        by=by,
        groups=tuple(labels.ordered(by, {g for g, _o in counts})),
        outcomes=tuple(outcomes),
        counts={(g, o): n for (g, o), n in counts.items()},
        weighted={(g, o): w for (g, o), w in (weighted or {}).items()},
    )
