"""The questionnaire as typed data, loaded from YAML and validated before the bot starts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

QUESTIONNAIRE_FILE = Path(__file__).resolve().parent / "questionnaire.yaml"
SKIP = "skip"
SKIP_LABEL = "Prefer not to answer"
MAX_CODE_LENGTH = 32
LANGUAGE_VARIABLE = "language"
"""The survey language: an analysis variable of every questionnaire (a column of each response)."""


class QuestionnaireError(Exception):
    """The questionnaire file is invalid; the message names the offending entry."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"questionnaire: {where}: {problem}")


class Kind(StrEnum):
    """How a question is answered."""

    SINGLE = "single"
    MULTI = "multi"
    INTEGER = "integer"
    TEXT = "text"


@dataclass(frozen=True)
class Option:
    """One answer option: a stable code and the msgid of its label."""

    code: str
    label: str
    exclusive: bool = False
    short: str | None = None
    """A label short enough for a phone-width table column (msgid), if the label is not."""


@dataclass(frozen=True)
class Condition:
    """Ask a question only when an earlier answer satisfies this."""

    question: str
    equals: str | None = None
    chosen_at_least: int | None = None


@dataclass(frozen=True)
class Question:
    """One question of the questionnaire."""

    id: str
    kind: Kind
    text: str
    short: str
    options: tuple[Option, ...] = ()
    options_from: str | None = None
    when: Condition | None = None
    minimum: int | None = None
    maximum: int | None = None
    screen_out_below: int | None = None
    max_length: int | None = None
    randomize_except_last: int | None = None
    columns: int = 1
    skip_label: str = SKIP_LABEL

    def option(self, code: str) -> Option | None:
        """The option with `code`, if this question has one."""
        return next((o for o in self.options if o.code == code), None)

    @property
    def codes(self) -> tuple[str, ...]:
        """Every option code, `skip` included."""
        return tuple(o.code for o in self.options)

    @property
    def codes_without_skip(self) -> tuple[str, ...]:
        """The substantive option codes."""
        return tuple(o.code for o in self.options if o.code != SKIP)


@dataclass(frozen=True)
class Band:
    """One analysis band of an integer question: `low` to `high` inclusive (None: no upper end)."""

    code: str
    low: int
    high: int | None = None

    def holds(self, number: int) -> bool:
        return self.low <= number and (self.high is None or number <= self.high)


@dataclass(frozen=True)
class Variable:
    """An analysed question whose answer (or its band) is copied into the response column `name`."""

    name: str
    question: str
    bands: tuple[Band, ...] = ()
    short: str | None = None


@dataclass(frozen=True)
class Shown:
    """An outcome category the digest names, with its short word."""

    code: str
    word: str


@dataclass(frozen=True)
class Breakdown:
    """A variable the digest breaks its outcome down by."""

    variable: str
    heading: str
    group: str | None = None


@dataclass(frozen=True)
class DigestPlan:
    """What the channel digest publishes: one outcome question, by a few variables."""

    outcome: str
    categories: tuple[str, ...]
    """Every code of the outcome question, `skip` included: the columns of the digest's tables."""
    shows: tuple[Shown, ...]
    by: tuple[Breakdown, ...]

    @property
    def words(self) -> dict[str, str]:
        """The categories the digest names, in order, with their short words (msgids)."""
        return {shown.code: shown.word for shown in self.shows}


@dataclass(frozen=True)
class Analysis:
    """The `analysis` section: variables, the names researchers type, /stats and the digest."""

    variables: tuple[Variable, ...]
    aliases: tuple[tuple[str, str], ...]
    stats: tuple[str, ...]
    digest: DigestPlan

    @property
    def names(self) -> tuple[str, ...]:
        """Every variable: the survey language, then the analysed questions' columns."""
        return (LANGUAGE_VARIABLE, *(v.name for v in self.variables))

    def variable(self, name: str) -> Variable | None:
        """The analysed question behind variable `name` (None for the language)."""
        return next((v for v in self.variables if v.name == name), None)

    def bands_of(self, question: str) -> list[str]:
        """The banded variables of an integer question (e.g. age_band of age): a list of 0 or 1."""
        return [v.name for v in self.variables if v.question == question and v.bands]

    def msgids(self) -> list[str]:
        """The texts of this section that the catalogs translate."""
        found = [v.short for v in self.variables if v.short]
        found += [shown.word for shown in self.digest.shows]
        for breakdown in self.digest.by:
            found += [breakdown.heading, *filter(None, [breakdown.group])]
        return found


@dataclass(frozen=True)
class Questionnaire:
    """The ordered questions, the version stored with every response, and what is analysed."""

    version: int
    questions: tuple[Question, ...]
    analysis: Analysis
    _by_id: dict[str, Question] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {q.id: q for q in self.questions})

    def __getitem__(self, question_id: str) -> Question:
        return self._by_id[question_id]

    def __contains__(self, question_id: object) -> bool:
        return question_id in self._by_id

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions)

    def index(self, question_id: str) -> int:
        """Position of a question in the flow."""
        return self.questions.index(self._by_id[question_id])

    def msgids(self) -> list[str]:
        """Every text of the questionnaire that the catalogs must translate."""
        found: list[str] = []
        for question in self.questions:
            found += [question.text, question.short, question.skip_label]
            found += [option.label for option in question.options]
            found += [option.short for option in question.options if option.short]
        found += self.analysis.msgids()
        return list(dict.fromkeys(found))


def _code(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.isidentifier() or not value.isascii():
        raise QuestionnaireError(where, f"code {value!r} must be an ASCII identifier")
    if len(value) > MAX_CODE_LENGTH:
        raise QuestionnaireError(where, f"code {value!r} is longer than {MAX_CODE_LENGTH}")
    return value


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise QuestionnaireError(where, f"missing {key!r}")
    return value


def _options(raw: dict[str, Any], where: str) -> tuple[Option, ...]:
    options: list[Option] = []
    for index, item in enumerate(raw.get("options") or []):
        if not isinstance(item, dict):
            raise QuestionnaireError(f"{where}.options[{index}]", "expected {code, label}")
        code = _code(item.get("code"), f"{where}.options[{index}]")
        if code == SKIP:
            raise QuestionnaireError(f"{where}.options[{index}]", "'skip' is added automatically")
        label = _text(item, "label", f"{where}.{code}")
        short = _text(item, "short", f"{where}.{code}") if "short" in item else None
        options.append(Option(code, label, bool(item.get("exclusive")), short))
    codes = [o.code for o in options]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise QuestionnaireError(where, f"duplicate option code {duplicates[0]!r}")
    return tuple(options)


def _condition(raw: Any, where: str) -> Condition | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or "question" not in raw or len(raw) != 2:
        raise QuestionnaireError(where, "`when` needs `question` and one of `is`, `chosen_at_least`")
    if "is" in raw:
        return Condition(str(raw["question"]), equals=str(raw["is"]))
    if "chosen_at_least" in raw:
        return Condition(str(raw["question"]), chosen_at_least=int(raw["chosen_at_least"]))
    raise QuestionnaireError(where, f"unknown condition {sorted(raw)}")


def _question(raw: Any, index: int) -> Question:
    if not isinstance(raw, dict):
        raise QuestionnaireError(f"questions[{index}]", "expected a mapping")
    qid = _code(raw.get("id"), f"questions[{index}]")
    where = f"question {qid!r}"
    try:
        kind = Kind(str(raw.get("type")))
    except ValueError:
        raise QuestionnaireError(where, f"unknown type {raw.get('type')!r}") from None
    options = _options(raw, where)
    skip_label = raw.get("skip_label", SKIP_LABEL)
    if raw.get("skip", True) is not False:
        options = (*options, Option(SKIP, skip_label, exclusive=True))
    question = Question(
        id=qid,
        kind=kind,
        text=_text(raw, "text", where),
        short=_text(raw, "short", where),
        options=options,
        options_from=raw.get("options_from"),
        when=_condition(raw.get("when"), where),
        minimum=raw.get("min"),
        maximum=raw.get("max"),
        screen_out_below=raw.get("screen_out_below"),
        max_length=raw.get("max_length"),
        randomize_except_last=raw.get("randomize_except_last"),
        columns=int(raw.get("columns", 1)),
        skip_label=skip_label,
    )
    if kind in (Kind.SINGLE, Kind.MULTI) and not question.codes_without_skip and not question.options_from:
        raise QuestionnaireError(where, "a choice question needs `options` or `options_from`")
    if kind is Kind.INTEGER and (question.minimum is None or question.maximum is None):
        raise QuestionnaireError(where, "an integer question needs `min` and `max`")
    if kind is Kind.TEXT and not question.max_length:
        raise QuestionnaireError(where, "a text question needs `max_length`")
    return question


def _check_references(questions: tuple[Question, ...]) -> None:
    seen: dict[str, Question] = {}
    for question in questions:
        where = f"question {question.id!r}"
        if question.id in seen:
            raise QuestionnaireError(where, "duplicate question id")
        for ref in filter(None, (question.options_from, question.when and question.when.question)):
            if ref not in seen:
                raise QuestionnaireError(where, f"refers to unknown or later question {ref!r}")
        if question.options_from and seen[question.options_from].kind is not Kind.MULTI:
            raise QuestionnaireError(where, f"options_from {question.options_from!r} is not a multi question")
        condition = question.when
        if condition and condition.equals is not None:
            target = seen[condition.question]
            if condition.equals not in target.codes:
                raise QuestionnaireError(
                    where, f"condition names unknown code {condition.equals!r} of {target.id!r}"
                )
        keep = question.randomize_except_last
        if keep is not None and not 0 <= keep < len(question.options):
            raise QuestionnaireError(where, f"randomize_except_last {keep} out of range")
        seen[question.id] = question


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise QuestionnaireError(where, "expected a mapping")
    return raw


def _list(raw: Any, where: str) -> list[Any]:
    if not isinstance(raw, list | tuple) or not raw:
        raise QuestionnaireError(where, "expected a non-empty list")
    return list(raw)


def _bands(raw: Any, where: str) -> tuple[Band, ...]:
    bands: list[Band] = []
    for index, item in enumerate(_list(raw, f"{where}.bands")):
        entry = _mapping(item, f"{where}.bands[{index}]")
        code, low, high = entry.get("code"), entry.get("min"), entry.get("max")
        if not isinstance(code, str) or not code.isascii() or not 0 < len(code) <= MAX_CODE_LENGTH:
            raise QuestionnaireError(f"{where}.bands[{index}]", f"band code {code!r} must be short ASCII")
        if not isinstance(low, int) or not (high is None or (isinstance(high, int) and high >= low)):
            raise QuestionnaireError(f"{where}: band {code!r}", "needs integer `min` <= `max`")
        bands.append(Band(code, low, high))
    ordered = sorted(bands, key=lambda band: band.low)
    for before, after in pairwise(ordered):
        if before.high is None or before.high >= after.low:
            raise QuestionnaireError(where, f"bands {before.code!r} and {after.code!r} overlap")
    codes = [band.code for band in bands]
    if len(set(codes)) != len(codes) or SKIP in codes:
        raise QuestionnaireError(where, f"band codes {codes} must be distinct and not {SKIP!r}")
    return tuple(bands)


def _variable(raw: Any, index: int, questions: dict[str, Question]) -> Variable:
    entry = _mapping(raw, f"analysis.variables[{index}]")
    qid = entry.get("question")
    where = f"analysis variable {qid!r}"
    if qid not in questions:
        raise QuestionnaireError(where, "unknown question")
    question = questions[qid]
    name = _code(entry.get("column", qid), where)
    if question.kind is Kind.INTEGER:
        return Variable(name, qid, _bands(entry.get("bands"), where), _text(entry, "short", where))
    if question.kind is not Kind.SINGLE or "bands" in entry:
        problem = f"a {question.kind} question cannot be analysed: single-choice, or integer with `bands`"
        raise QuestionnaireError(where, problem)
    return Variable(name, qid)


def _names(raw: Any, known: tuple[str, ...], where: str) -> tuple[str, ...]:
    names = tuple(_list(raw, where))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise QuestionnaireError(where, f"unknown variable {unknown[0]!r}")
    twice = [name for index, name in enumerate(names) if name in names[:index]]
    if twice:
        raise QuestionnaireError(where, f"{twice[0]!r} is named twice")
    return names


def _digest(raw: Any, variables: tuple[Variable, ...], questions: dict[str, Question]) -> DigestPlan:
    entry = _mapping(raw, "analysis.digest")
    names = tuple(v.name for v in variables)
    outcome = next((v for v in variables if v.name == entry.get("outcome") and not v.bands), None)
    if outcome is None:
        raise QuestionnaireError(
            "analysis.digest", f"outcome {entry.get('outcome')!r} is not a single-choice variable"
        )
    shows: list[Shown] = []
    for index, item in enumerate(_list(entry.get("shows"), "analysis.digest.shows")):
        where = f"analysis.digest.shows[{index}]"
        shown = _mapping(item, where)
        if shown.get("code") not in questions[outcome.question].codes_without_skip:
            raise QuestionnaireError(where, f"{shown.get('code')!r} is not an option of {outcome.name!r}")
        shows.append(Shown(shown["code"], _text(shown, "word", where)))
    by: list[Breakdown] = []
    for index, item in enumerate(_list(entry.get("by"), "analysis.digest.by")):
        where = f"analysis.digest.by[{index}]"
        breakdown = _mapping(item, where)
        name = _names([breakdown.get("variable")], names, where)[0]
        banded = any(v.bands for v in variables if v.name == name)
        if name == outcome.name:
            raise QuestionnaireError(where, f"{name!r} is the outcome itself")
        if bool(breakdown.get("group")) != banded:
            raise QuestionnaireError(
                where, f"{name!r}: a banded variable needs a `group` label, others have none"
            )
        by.append(Breakdown(name, _text(breakdown, "heading", where), breakdown.get("group")))
    _names([b.variable for b in by], names, "analysis.digest.by")
    categories = questions[outcome.question].codes
    return DigestPlan(outcome.name, categories, tuple(shows), tuple(by))


def _analysis(raw: Any, questions: dict[str, Question]) -> Analysis:
    entry = _mapping(raw, "analysis")
    listed = enumerate(_list(entry.get("variables"), "analysis.variables"))
    variables = tuple(_variable(item, index, questions) for index, item in listed)
    names = (LANGUAGE_VARIABLE, *(v.name for v in variables))
    _names(names, names, "analysis.variables")
    aliases = _mapping(entry.get("aliases") or {}, "analysis.aliases")
    for alias, target in aliases.items():
        if alias in names or target not in names:
            raise QuestionnaireError(
                f"analysis.aliases.{alias}", f"{target!r}: must be another name of a variable"
            )
    stats = _names(entry.get("stats"), names, "analysis.stats")
    digest = _digest(entry.get("digest"), variables, questions)
    return Analysis(variables, tuple(aliases.items()), stats, digest)


def parse_questionnaire(document: Any) -> Questionnaire:
    """Build and validate a Questionnaire from a parsed YAML document."""
    if not isinstance(document, dict) or not isinstance(document.get("questions"), list):
        raise QuestionnaireError("file", "expected `version` and a list of `questions`")
    version = document.get("version")
    if not isinstance(version, int) or version < 1:
        raise QuestionnaireError("version", f"expected a positive integer, got {version!r}")
    questions = tuple(_question(raw, i) for i, raw in enumerate(document["questions"]))
    _check_references(questions)
    analysis = _analysis(document.get("analysis"), {q.id: q for q in questions})
    return Questionnaire(version, questions, analysis)


def load_questionnaire(path: Path | None = None) -> Questionnaire:
    """Read and validate the questionnaire file (None: the one shipped in survey/)."""
    path = path or QUESTIONNAIRE_FILE
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise QuestionnaireError(str(path), f"cannot read: {exc}") from None
    return parse_questionnaire(document)
