"""Population margins the weights are raked to: the targets file (targets.yaml), read and checked
against the questionnaire's codes like the questionnaire itself (research/weights.py rakes to them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from survey.analysis import VARIABLES
from survey.model import Questionnaire

TARGETS_FILE = Path(__file__).with_name("targets.yaml")
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

    def category(self, values: Sequence[str | None]) -> str | None:
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

    def categories(self, values: Mapping[str, str | None]) -> Categories:
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
