"""Analysis variables, age bands and Wilson intervals: pure helpers for statistics and exports."""

from __future__ import annotations

import math
from dataclasses import dataclass

from survey.flow import AnswerValue
from survey.model import SKIP

WILSON_Z = 1.959963984540054
"""The standard normal quantile for a two-sided 95% interval."""

AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("18-29", 18, 29),
    ("30-39", 30, 39),
    ("40-54", 40, 54),
    ("55+", 55, 200),
)

VARIABLES = ("language", "age_band", "gender", "city", "main_source", "stance", "neutrality")
"""What /crosstab and /chart can tabulate: single-choice questions, the age band and the language."""

STATS_CUBE = ("stance", "neutrality", "language")
"""The variables /stats tabulates among completed responses, read together in one GROUP BY."""

VARIABLE_ALIASES = {"age": "age_band", "source": "main_source", "lang": "language"}

ANSWER_COLUMNS = {
    "age": "age_band",
    "gender": "gender",
    "city": "city",
    "main_source": "main_source",
    "stance": "stance",
    "neutrality": "neutrality",
}
"""Question code -> the column of `responses` that keeps a copy of its answer for GROUP BY."""


class UnknownVariableError(Exception):
    """A name that is not one of VARIABLES (nor an alias of one)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown variable {name!r}; expected one of {', '.join(VARIABLES)}")
        self.name = name


def variable(name: str) -> str:
    """The canonical variable for a name typed by a researcher (`age` -> `age_band`)."""
    canonical = VARIABLE_ALIASES.get(name.lower(), name.lower())
    if canonical not in VARIABLES:
        raise UnknownVariableError(name)
    return canonical


def age_band(age: int | None) -> str | None:
    """The analysis band of an age in years (None outside every band)."""
    if age is None:
        return None
    return next((code for code, low, high in AGE_BANDS if low <= age <= high), None)


def analysis_value(question: str, value: AnswerValue) -> str | None:
    """What the analysis column of `question` holds for this answer."""
    if value.skipped:
        return SKIP
    if question == "age":
        return age_band(value.number)
    return value.option


@dataclass(frozen=True)
class Proportion:
    """k of n, with its share and Wilson 95% interval (all 0 when n is 0)."""

    count: int
    total: int

    @property
    def share(self) -> float:
        return self.count / self.total if self.total else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.count, self.total)


def wilson_interval(count: int, total: int, z: float = WILSON_Z) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion count/total."""
    if total <= 0:
        return (0.0, 0.0)
    if not 0 <= count <= total:
        raise ValueError(f"count {count} outside 0..{total}")
    p = count / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))
