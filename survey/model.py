"""The questionnaire as typed data, loaded from YAML and validated before the bot starts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

QUESTIONNAIRE_FILE = Path(__file__).resolve().parent / "questionnaire.yaml"
SKIP = "skip"
SKIP_LABEL = "Prefer not to answer"
MAX_CODE_LENGTH = 32


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
class Questionnaire:
    """The ordered questions and the version stored with every response."""

    version: int
    questions: tuple[Question, ...]
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
        options.append(Option(code, _text(item, "label", f"{where}.{code}"), bool(item.get("exclusive"))))
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


def _check_references(questionnaire: Questionnaire) -> None:
    seen: dict[str, Question] = {}
    for question in questionnaire:
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


def parse_questionnaire(document: Any) -> Questionnaire:
    """Build and validate a Questionnaire from a parsed YAML document."""
    if not isinstance(document, dict) or not isinstance(document.get("questions"), list):
        raise QuestionnaireError("file", "expected `version` and a list of `questions`")
    version = document.get("version")
    if not isinstance(version, int) or version < 1:
        raise QuestionnaireError("version", f"expected a positive integer, got {version!r}")
    questions = tuple(_question(raw, i) for i, raw in enumerate(document["questions"]))
    questionnaire = Questionnaire(version, questions)
    _check_references(questionnaire)
    return questionnaire


def load_questionnaire(path: Path = QUESTIONNAIRE_FILE) -> Questionnaire:
    """Read and validate the questionnaire file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise QuestionnaireError(str(path), f"cannot read: {exc}") from None
    return parse_questionnaire(document)
