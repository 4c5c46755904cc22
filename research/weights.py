"""Weights to population margins: the targets file, raking (IPF) with trimming, Kish's design effect.

Weights depend only on a response's weighting categories (age band x sex, settlement), so they are
computed per cell of those variables from GROUP BY counts, and weighted figures are sums of counts
times the cell's weight: no per-row pass in Python.

Missing values: a response that skipped a weighting question (or lives abroad, outside every
settlement category) is missing on that dimension. In that dimension's raking step its weight is
left unchanged, and the dimension is fitted among those who answered: their weighted shares equal
the targets. Target categories nobody in the sample falls in are left out and the other targets
rescaled to add up to one (their margin cannot be reached by weighting).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from db import stats
from db.stats import COMPLETED, Scope, Value
from research.quality import Speeders, repeats, speeders
from survey.targets import Categories, Targets

TOLERANCE = 1e-10
MAX_ITERATIONS = 1000
MAX_TRIM_ROUNDS = 100

Key = tuple[Value, ...]


def _rake_once(
    counts: Mapping[Categories, float],
    weights: dict[Categories, float],
    margins: Sequence[Mapping[str, float]],
) -> None:
    """Iterate proportional fitting over the margins until every factor is within TOLERANCE of 1."""
    for _ in range(MAX_ITERATIONS):
        largest = 0.0
        for index, margin in enumerate(margins):
            totals: dict[str, float] = {}
            for cell, n in counts.items():
                category = cell[index]
                if category is not None:
                    totals[category] = totals.get(category, 0.0) + weights[cell] * n
            reachable = {c: share for c, share in margin.items() if totals.get(c)}
            known, wanted = sum(totals.values()), sum(reachable.values())
            factors = {c: share / wanted * known / totals[c] for c, share in reachable.items()}
            for cell in counts:
                category = cell[index]
                if category is not None and category in factors:
                    weights[cell] *= factors[category]
            largest = max([largest, *(abs(f - 1) for f in factors.values())])
        if largest < TOLERANCE:
            return


def _trim(counts: Mapping[Categories, float], weights: dict[Categories, float], cap: float) -> None:
    """Cap weights at `cap` and scale the others up so that the total stays the same."""
    people = sum(weights[cell] * n for cell, n in counts.items())
    while max(weights.values()) > cap * (1 + TOLERANCE):
        capped = {cell for cell, w in weights.items() if w >= cap}
        free = sum(weights[cell] * n for cell, n in counts.items() if cell not in capped)
        scale = (people - cap * sum(counts[cell] for cell in capped)) / free
        for cell in weights:
            weights[cell] = cap if cell in capped else weights[cell] * scale


def rake(
    counts: Mapping[Categories, float], margins: Sequence[Mapping[str, float]], cap: float | None = 5.0
) -> dict[Categories, float]:
    """Each cell's weight per person: raked to the margins' shares, mean 1, none above `cap`.

    `counts` are people per combination of categories (None: missing on that dimension). When a
    weight exceeds the cap, weights are trimmed to it (the others scaled up to keep the mean) and
    raked again, up to MAX_TRIM_ROUNDS times; the cap always holds, margins then as near as it lets.
    """
    people = sum(counts.values())
    weights = dict.fromkeys(counts, 1.0)
    for _ in range(MAX_TRIM_ROUNDS):
        _rake_once(counts, weights, margins)
        scale = people / sum(weights[cell] * n for cell, n in counts.items())
        weights = {cell: w * scale for cell, w in weights.items()}
        if cap is None or max(weights.values()) <= cap * (1 + TOLERANCE):
            break
        _trim(counts, weights, cap)
    return weights


def kish(weighted: Iterable[tuple[float, float]]) -> tuple[float, float]:
    """Kish's design effect n·Σw²/(Σw)² and effective n (Σw)²/Σw², from (weight, people) pairs."""
    n = total = squares = 0.0
    for weight, people in weighted:
        n += people
        total += weight * people
        squares += weight * weight * people
    if not squares:
        return 1.0, 0.0
    return n * squares / total**2, total**2 / squares


@dataclass(frozen=True)
class Plan:
    """How to weight: the targets, the trimming cap, the share of the median time under which
    a response is a speeder left out of weighted figures (None: speeders are kept), and whether
    repeats are kept."""

    targets: Targets
    cap: float | None = 5.0
    speeder_fraction: float | None = None
    repeats: bool = True

    @classmethod
    def from_settings(cls, targets: Targets, settings: Settings) -> Plan:
        """The plan WEIGHT_CAP, SPEEDER_FRACTION, WEIGHT_SPEEDERS and WEIGHT_REPEATS ask for."""
        fraction = None if settings.weight_speeders else settings.speeder_fraction
        return cls(targets, settings.weight_cap, fraction, settings.weight_repeats)


@dataclass(frozen=True)
class Weighting:
    """Weights per combination of the weighting variables' values, with Kish's figures.

    `scope` is the responses weighted (speeders left out unless the plan keeps them, repeats
    only when it leaves them out: `left_out_repeats` is then how many).
    """

    targets: Targets
    by_values: dict[Key, float]
    people: int
    design_effect: float
    effective_n: float
    scope: Scope = COMPLETED
    left_out: Speeders | None = None
    left_out_repeats: int | None = None

    def weight(self, values: Key) -> float:
        return self.by_values.get(values, 1.0)

    def leaves_out(self, speeder: int | None, repeat: int | None) -> bool:
        """Whether a response with these quality flags (1: flagged) has no weight."""
        return (self.left_out is not None and speeder == 1) or (
            self.left_out_repeats is not None and repeat == 1
        )


async def weighting(session: AsyncSession, plan: Plan, scope: Scope = COMPLETED) -> Weighting:
    """Rake the responses in scope (less speeders, and repeats if so planned) to the targets, from
    one GROUP BY."""
    targets, cap = plan.targets, plan.cap
    left_out = left_out_repeats = None
    if plan.speeder_fraction is not None:
        left_out = await speeders(session, plan.speeder_fraction, scope)
        scope = left_out.without(scope)
    if not plan.repeats:
        left_out_repeats = await repeats(session, scope)
        scope = replace(scope, repeat=False)
    variables = targets.variables
    counts = await stats.counts(session, variables, scope)
    by_categories: dict[Categories, float] = {}
    for key, n in counts.items():
        cell = targets.categories(dict(zip(variables, key, strict=True)))
        by_categories[cell] = by_categories.get(cell, 0) + n
    margins = [d.shares for d in targets.dimensions]
    weights = rake(by_categories, margins, cap) if by_categories else {}
    by_values = {key: weights[targets.categories(dict(zip(variables, key, strict=True)))] for key in counts}
    deff, n_eff = kish((by_values[key], n) for key, n in counts.items())
    return Weighting(targets, by_values, sum(counts.values()), deff, n_eff, scope, left_out, left_out_repeats)


async def weighted_counts(
    session: AsyncSession, weighting: Weighting, variables: Sequence[str]
) -> dict[Key, float]:
    """Weighted people of the weighting's scope by the combination of `variables` (keys as given)."""
    extra = [v for v in weighting.targets.variables if v not in variables]
    counts = await stats.counts(session, [*variables, *extra], weighting.scope)
    width = len(variables)
    result: dict[Key, float] = {}
    for key, n in counts.items():
        values = dict(zip([*variables, *extra], key, strict=True))
        weight = weighting.weight(tuple(values[v] for v in weighting.targets.variables))
        result[key[:width]] = result.get(key[:width], 0.0) + weight * n
    return result
