"""The questionnaire's logic: which question comes next and whether an answer is valid.

Pure functions over the Questionnaire and the answers given so far; no Telegram, no database.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from survey.model import SKIP, Kind, Question, Questionnaire


@dataclass(frozen=True)
class AnswerValue:
    """One stored answer: a single option, the chosen options, a number or a text."""

    option: str | None = None
    choices: tuple[str, ...] = ()
    number: int | None = None
    text: str | None = None

    @property
    def skipped(self) -> bool:
        return self.option == SKIP or self.choices == (SKIP,)


Answers = Mapping[str, AnswerValue]


class InvalidAnswer(Exception):
    """A typed answer was refused; `reason` selects the message shown to the respondent."""

    def __init__(self, reason: str, **details: int) -> None:
        super().__init__(f"invalid answer: {reason} {details or ''}".strip())
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class Step:
    """What follows an answer: the next question to ask (None: the end) and derived changes."""

    next_question: str | None
    derived: dict[str, AnswerValue] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()


def substantive_choices(value: AnswerValue | None) -> tuple[str, ...]:
    """The options chosen in a multi answer, without `skip`."""
    return tuple(c for c in value.choices if c != SKIP) if value else ()


def available_options(
    question: Question, questionnaire: Questionnaire, answers: Answers, order: Sequence[str] | None = None
) -> list[str]:
    """The option codes to show, in display order (`skip` last)."""
    if question.options_from:
        source = questionnaire[question.options_from]
        chosen = set(substantive_choices(answers.get(source.id)))
        codes = [c for c in source.codes if c in chosen] + [SKIP]
    else:
        codes = list(question.codes)
    if order:
        return [c for c in order if c in codes] + [c for c in codes if c not in order]
    return codes


def label_of(question: Question, questionnaire: Questionnaire, code: str) -> str:
    """The msgid of an option's label (options_from questions borrow their source's labels)."""
    option = question.option(code)
    if option is None and question.options_from:
        option = questionnaire[question.options_from].option(code)
    if option is None:
        raise KeyError(f"{question.id}: unknown option {code!r}")
    return option.label


def _condition_holds(question: Question, answers: Answers) -> bool:
    condition = question.when
    if condition is None:
        return True
    value = answers.get(condition.question)
    if condition.equals is not None:
        return value is not None and value.option == condition.equals
    return len(substantive_choices(value)) >= (condition.chosen_at_least or 0)


def _derived(question: Question, questionnaire: Questionnaire, answers: Answers) -> AnswerValue | None:
    """An options_from question with a single available option is answered by that option."""
    if not question.options_from:
        return None
    codes = [c for c in available_options(question, questionnaire, answers) if c != SKIP]
    return AnswerValue(option=codes[0]) if len(codes) == 1 else None


def advance(
    questionnaire: Questionnaire, answers: Answers, after: str | None, dependents_of: str | None = None
) -> Step:
    """The next question after `after` (None: from the start), given the answers so far.

    With `dependents_of` (a question the respondent just changed), only the questions whose
    condition or options depend on it are visited; the walk ends after them.
    """
    start = 0 if after is None else questionnaire.index(after) + 1
    current = dict(answers)
    derived: dict[str, AnswerValue] = {}
    dropped: list[str] = []
    for question in questionnaire.questions[start:]:
        if dependents_of and dependents_of not in _depends_on(question):
            continue
        auto = _derived(question, questionnaire, current)
        if auto is not None:
            derived[question.id] = current[question.id] = auto
        elif _condition_holds(question, current):
            return Step(question.id, derived, tuple(dropped))
        elif question.id in current:
            dropped.append(question.id)
            del current[question.id]
    return Step(None, derived, tuple(dropped))


def _depends_on(question: Question) -> set[str]:
    return {ref for ref in (question.options_from, question.when and question.when.question) if ref}


def option_order(questionnaire: Questionnaire, rng: random.Random) -> dict[str, list[str]]:
    """A per-respondent order for every randomised question; the last N options stay in place."""
    orders: dict[str, list[str]] = {}
    for question in questionnaire:
        keep = question.randomize_except_last
        if keep is None:
            continue
        codes = list(question.codes)
        head, tail = codes[: len(codes) - keep], codes[len(codes) - keep :]
        rng.shuffle(head)
        orders[question.id] = head + tail
    return orders


def toggle(question: Question, selected: Sequence[str], code: str) -> tuple[str, ...]:
    """The selection after pressing `code`: exclusive options clear the rest, and vice versa."""
    option = question.option(code)
    if option is None:
        raise KeyError(f"{question.id}: unknown option {code!r}")
    if code in selected:
        return tuple(c for c in selected if c != code)
    if option.exclusive:
        return (code,)
    exclusive = {o.code for o in question.options if o.exclusive}
    chosen = {c for c in selected if c not in exclusive} | {code}
    return tuple(c for c in question.codes if c in chosen)


_INTEGER = re.compile(r"\d+")
_NUMBERISH = re.compile(r"[-+]?\d+(?:[.,]\d*)?(?:[eE][-+]?\d+)?")
_INVISIBLE = {"Cc", "Cf", "Co", "Cs", "Cn"}
_KEEP = {"\n", "\t"}


def parse_integer(question: Question, raw: str) -> int:
    """The whole number typed for an integer question, or InvalidAnswer.

    Values below `screen_out_below` (but above zero) are returned: the caller screens out.
    """
    text = clean_text(raw, max_length=None).strip()
    low, high = question.minimum or 0, question.maximum or 0
    if not _INTEGER.fullmatch(text):
        reason = "not_whole" if _NUMBERISH.fullmatch(text) and not text.startswith("-") else "not_a_number"
        if text.startswith("-") and _INTEGER.fullmatch(text[1:]):
            reason = "out_of_range"
        raise InvalidAnswer(reason, minimum=low, maximum=high)
    value = int(text)
    below = question.screen_out_below
    if value > high or value < 1 or (value < low and (below is None or value >= below)):
        raise InvalidAnswer("out_of_range", minimum=low, maximum=high)
    return value


def screens_out(question: Question, value: int) -> bool:
    """Whether this integer answer ends the survey (under-age respondents)."""
    return question.screen_out_below is not None and value < question.screen_out_below


def clean_text(raw: str, max_length: int | None) -> str:
    """Typed text without control or invisible characters, NFC-normalised and trimmed."""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(ch for ch in text if ch in _KEEP or unicodedata.category(ch) not in _INVISIBLE)
    text = re.sub(r"[ \t]+", " ", text).strip()
    if max_length is not None:
        if not text:
            raise InvalidAnswer("empty", maximum=max_length)
        if len(text) > max_length:
            raise InvalidAnswer("too_long", maximum=max_length, length=len(text))
    return text


def answer_for_choice(question: Question, code: str) -> AnswerValue:
    """The stored value of pressing `code` on a single-choice question (or Skip on any)."""
    if question.kind is Kind.MULTI:
        return AnswerValue(choices=(code,))
    return AnswerValue(option=code)
