"""Analysis variables, bands and Wilson intervals: pure helpers for statistics and exports.

The variables are those of the questionnaire's `analysis` section (QUESTIONNAIRE_FILE, read once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from core.config import load_schema_settings
from survey.flow import AnswerValue
from survey.model import QUESTIONNAIRE_FILE, SKIP, Questionnaire, QuestionnaireError, load_questionnaire

WILSON_Z = 1.959963984540054
"""The standard normal quantile for a two-sided 95% interval."""

QUESTIONNAIRE: Questionnaire = load_questionnaire(load_schema_settings().questionnaire_file)
"""The questionnaire of QUESTIONNAIRE_FILE: the database schema (db.models) derives from it."""

ANALYSIS = QUESTIONNAIRE.analysis

VARIABLES = ANALYSIS.names
"""What /crosstab and /chart can tabulate: the language and the analysed questions' columns."""

STATS_CUBE = ANALYSIS.stats
"""The variables /stats tabulates among completed responses, read together in one GROUP BY."""

VARIABLE_ALIASES = dict(ANALYSIS.aliases)

ANSWER_COLUMNS = {v.question: v.name for v in ANALYSIS.variables}
"""Question code -> the column of `responses` that keeps a copy of its answer for GROUP BY."""


def schema_questionnaire(path: Path | None) -> Questionnaire:
    """The questionnaire at `path`, refused unless it is the one the schema derived from at start."""
    questionnaire = load_questionnaire(path)
    if questionnaire != QUESTIONNAIRE:
        where = str(path or QUESTIONNAIRE_FILE)
        raise QuestionnaireError(
            where, "differs from the QUESTIONNAIRE_FILE the database schema was made from"
        )
    return questionnaire


class UnknownVariableError(Exception):
    """A name that is not one of VARIABLES (nor an alias of one)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown variable {name!r}; expected one of {', '.join(VARIABLES)}")
        self.name = name


def variable(name: str) -> str:
    """The canonical variable for a name typed by a researcher (an alias -> its variable)."""
    canonical = VARIABLE_ALIASES.get(name.lower(), name.lower())
    if canonical not in VARIABLES:
        raise UnknownVariableError(name)
    return canonical


def band(name: str, number: int | None) -> str | None:
    """The band of banded variable `name` that holds `number` (None outside every band)."""
    found = ANALYSIS.variable(name)
    assert found is not None and found.bands, f"{name!r} is not a banded variable"
    if number is None:
        return None
    return next((b.code for b in found.bands if b.holds(number)), None)


def analysis_value(question: str, value: AnswerValue) -> str | None:
    """What the analysis column of `question` holds for this answer."""
    if value.skipped:
        return SKIP
    name = ANSWER_COLUMNS[question]
    found = ANALYSIS.variable(name)
    return band(name, value.number) if found and found.bands else value.option


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


def wilson_interval(count: float, total: float, z: float = WILSON_Z) -> tuple[float, float]:
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
