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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from db import stats
from db.stats import COMPLETED, Scope, Value
from research.quality import Speeders, speeders
from survey.analysis import VARIABLES
from survey.model import Questionnaire

TARGETS_FILE = Path(__file__).with_name("targets.yaml")
TOLERANCE = 1e-10
MAX_ITERATIONS = 1000
MAX_TRIM_ROUNDS = 100

Key = tuple[Value, ...]
Categories = tuple[str | None, ...]


class TargetsError(Exception):
    """The targets file is invalid; the message names the offending entry."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"targets: {where}: {problem}")


@dataclass(frozen=True)
class Dimension:
    """One raking margin: population shares of categories read from analysis variables."""

    id: str
    cells: tuple[str, ...]
    shares: dict[str, float]
    groups: dict[str, str]
    """Code -> category, when the dimension groups the codes of its one variable."""
    source: str

    def category(self, values: Sequence[Value]) -> str | None:
        """The category of a response's values of `cells`, or None when it falls in none."""
        if self.groups:
            return self.groups.get(values[0] or "")
        key = " ".join(value or "" for value in values)
        return key if key in self.shares else None


@dataclass(frozen=True)
class Targets:
    """Every dimension of the targets file."""

    dimensions: tuple[Dimension, ...]

    @property
    def variables(self) -> tuple[str, ...]:
        """The analysis variables that decide a weight, each once."""
        return tuple(dict.fromkeys(name for d in self.dimensions for name in d.cells))

    def categories(self, values: Mapping[str, Value]) -> Categories:
        """A response's category on each dimension (None: missing)."""
        return tuple(d.category([values[name] for name in d.cells]) for d in self.dimensions)


def _codes(name: str, questionnaire: Questionnaire) -> set[str]:
    variable = questionnaire.analysis.variable(name)
    if variable is not None and variable.bands:
        return {band.code for band in variable.bands}
    return set(questionnaire[variable.question if variable else name].codes)


def _dimension(raw: Any, where: str, questionnaire: Questionnaire) -> Dimension:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise TargetsError(where, "each dimension needs an id")
    where = raw["id"]
    cells = raw.get("cells")
    if not isinstance(cells, list) or not cells or any(c not in VARIABLES for c in cells):
        raise TargetsError(
            where, f"cells must name analysis variables ({', '.join(VARIABLES)}), got {cells!r}"
        )
    population = raw.get("population")
    if not isinstance(population, dict) or not population:
        raise TargetsError(where, "population must map categories to counts")
    for category, value in population.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise TargetsError(where, f"population of {category!r} must be a positive number, got {value!r}")
    groups: dict[str, str] = {}
    if "map" in raw:
        if len(cells) != 1 or not isinstance(raw["map"], dict):
            raise TargetsError(where, "map groups the codes of exactly one variable")
        for category, codes in raw["map"].items():
            unknown = set(codes) - _codes(cells[0], questionnaire)
            if unknown:
                raise TargetsError(where, f"{category}: not codes of {cells[0]}: {sorted(unknown)}")
            groups.update(dict.fromkeys(codes, category))
        if set(groups.values()) != set(population):
            raise TargetsError(where, "map and population must name the same categories")
    else:
        for category in population:
            parts = str(category).split(" ")
            if len(parts) != len(cells) or any(
                p not in _codes(c, questionnaire) for p, c in zip(parts, cells, strict=False)
            ):
                raise TargetsError(where, f"category {category!r} is not a code of each of {cells}")
    total = sum(population.values())
    shares = {str(category): value / total for category, value in population.items()}
    return Dimension(where, tuple(cells), shares, groups, str(raw.get("reference", "")).strip())


def load_targets(questionnaire: Questionnaire, path: Path = TARGETS_FILE) -> Targets:
    """Read and validate the targets file against the questionnaire's codes."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TargetsError(str(path), f"cannot read: {exc}") from None
    if not isinstance(document, dict) or document.get("version") != 1:
        raise TargetsError(str(path), "expected a mapping with version: 1")
    raw = document.get("dimensions")
    if not isinstance(raw, list) or not raw:
        raise TargetsError(str(path), "dimensions must be a non-empty list")
    dimensions = tuple(_dimension(item, f"dimension {i + 1}", questionnaire) for i, item in enumerate(raw))
    ids = [d.id for d in dimensions]
    if len(set(ids)) != len(ids):
        raise TargetsError(str(path), f"dimension ids repeat: {ids}")
    return Targets(dimensions)


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
    """How to weight: the targets, the trimming cap, and the share of the median time under which
    a response is a speeder left out of weighted figures (None: speeders are kept)."""

    targets: Targets
    cap: float | None = 5.0
    speeder_fraction: float | None = None

    @classmethod
    def from_settings(cls, targets: Targets, settings: Settings) -> Plan:
        """The plan WEIGHT_CAP, SPEEDER_FRACTION and WEIGHT_SPEEDERS ask for."""
        fraction = None if settings.weight_speeders else settings.speeder_fraction
        return cls(targets, settings.weight_cap, fraction)


@dataclass(frozen=True)
class Weighting:
    """Weights per combination of the weighting variables' values, with Kish's figures.

    `scope` is the responses weighted (speeders left out unless the plan keeps them).
    """

    targets: Targets
    by_values: dict[Key, float]
    people: int
    design_effect: float
    effective_n: float
    scope: Scope = COMPLETED
    left_out: Speeders | None = None

    def weight(self, values: Key) -> float:
        return self.by_values.get(values, 1.0)


async def weighting(session: AsyncSession, plan: Plan, scope: Scope = COMPLETED) -> Weighting:
    """Rake the responses in scope (less speeders) to the targets, from one GROUP BY."""
    targets, cap = plan.targets, plan.cap
    left_out = None
    if plan.speeder_fraction is not None:
        left_out = await speeders(session, plan.speeder_fraction, scope)
        scope = left_out.without(scope)
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
    return Weighting(targets, by_values, sum(counts.values()), deff, n_eff, scope, left_out)


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
