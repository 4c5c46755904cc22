"""Check the database against what the simulated respondents did: every answer kept, once, as given.

For the fault runs, also: every answer the bot acknowledged is stored as given ("lost" counts
those that are not), and no row is there twice ("doubled" counts the extra rows).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.privacy import pseudonym
from db import repo
from db.engine import one_session
from db.models import Answer, AnswerChoice, Respondent, Response, ResponseStatus
from devtools.sandbox.crowd import Outcome
from devtools.sandbox.personas import Ending
from survey.flow import AnswerValue
from survey.model import SKIP, Kind, Questionnaire

EXPECTED_STATUS = {
    Ending.COMPLETE.value: ResponseStatus.COMPLETE,
    Ending.ABANDON.value: ResponseStatus.IN_PROGRESS,
}
"""What each ending leaves; the others (under 18 included: only a tally) leave nothing of the person."""
DERIVED = frozenset({"main_source"})
KEEPS_ANSWERS = frozenset({Ending.COMPLETE.value, Ending.ABANDON.value})
UNIQUE_PER = (
    (Respondent, ("pseudonym",)),
    (Response, ("respondent_id",)),
    (Answer, ("response_id", "question")),
    (AnswerChoice, ("response_id", "question", "option")),
)
"""What must be there once: one respondent per person, one response each, one answer per question."""


@dataclass
class Check:
    """The verdict: counts, and one line per respondent whose data is not what they gave."""

    respondents: int = 0
    complete: int = 0
    answers: int = 0
    problems: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        verdict = "as given" if self.ok else f"{len(self.problems)} problems"
        return (
            f"database check: {self.respondents} respondents, {self.complete} complete responses, "
            f"{self.answers} answers: {verdict}"
        )


def expected_value(questionnaire: Questionnaire, question_id: str, given: object) -> AnswerValue:
    """How the database holds what a persona answered to `question_id`."""
    kind = questionnaire[question_id].kind
    if kind is Kind.INTEGER:
        return AnswerValue(number=int(given))  # type: ignore[call-overload]
    if kind is Kind.MULTI:
        return AnswerValue(choices=tuple(sorted(given)))  # type: ignore[call-overload]
    if kind is Kind.TEXT and given != SKIP:
        return AnswerValue(text=str(given))
    return AnswerValue(option=str(given))


def _comparable(value: AnswerValue) -> AnswerValue:
    return AnswerValue(value.option, tuple(sorted(value.choices)), value.number, value.text)


async def check_database(
    database_url: str, key: str, outcomes: list[Outcome], questionnaire: Questionnaire
) -> Check:
    """Compare every simulated respondent's stored responses with what they did."""
    check = Check()
    async with one_session(database_url) as session:
        check.respondents = await session.scalar(select(func.count()).select_from(Respondent)) or 0
        check.answers = await session.scalar(select(func.count()).select_from(Answer)) or 0
        counted = await session.execute(select(Response.status, func.count()).group_by(Response.status))
        check.statuses = Counter({str(status): n for status, n in counted.all()})
        check.complete = check.statuses[ResponseStatus.COMPLETE.value]
        screened_out = await repo.tally(session, repo.SCREENED_OUT_TALLY)
        for outcome in outcomes:
            check.problems += await _check_one(session, key, outcome, questionnaire)
    under_age = sum(o.status == Ending.UNDER_AGE.value for o in outcomes)
    if screened_out != under_age:
        check.problems.append(
            f"{screened_out} screened out counted, {under_age} under 18 confirmed their age"
        )
    expected_complete = sum(o.status == Ending.COMPLETE.value for o in outcomes)
    if check.complete != expected_complete:
        check.problems.append(f"{check.complete} complete responses stored, {expected_complete} completed")
    return check


async def _check_one(
    session: AsyncSession, key: str, outcome: Outcome, questionnaire: Questionnaire
) -> list[str]:
    who = f"respondent {outcome.user_id} ({outcome.status})"
    if outcome.error:
        return [f"{who}: {outcome.error}"]
    respondent = await _respondent(session, key, outcome.user_id)
    status = EXPECTED_STATUS.get(outcome.status)
    if status is None:
        return [] if respondent is None else [f"{who}: still stored"]
    if respondent is None:
        return [f"{who}: not stored"]
    responses = (await session.scalars(select(Response).where(Response.respondent_id == respondent.id))).all()
    if len(responses) != 1 or responses[0].status is not status:
        return [f"{who}: responses {[r.status.value for r in responses]}, expected one {status.value}"]
    stored = await repo.load_answers(session, responses[0].id)
    problems = []
    given = outcome.persona.answers
    for question_id, value in given.items():
        if question_id not in stored:
            if status is ResponseStatus.COMPLETE:
                problems.append(f"{who}: {question_id} missing")
            continue
        want = expected_value(questionnaire, question_id, value)
        if _comparable(stored[question_id]) != want:
            problems.append(f"{who}: {question_id} stored {stored[question_id]}, given {want}")
    extra = set(stored) - set(given) - DERIVED
    if extra:
        problems.append(f"{who}: answers never given: {sorted(extra)}")
    return problems


async def _respondent(session: AsyncSession, key: str, user_id: int) -> Respondent | None:
    return await session.scalar(select(Respondent).where(Respondent.pseudonym == pseudonym(key, user_id)))


async def current_question(database_url: str, key: str, user_id: int) -> str | None:
    """The question the database has on turn for `user_id` now (None: none, or no response)."""
    statement = (
        select(Response.current_question)
        .join(Respondent, Response.respondent_id == Respondent.id)
        .where(Respondent.pseudonym == pseudonym(key, user_id))
    )
    async with one_session(database_url) as session:
        return await session.scalar(statement)


@dataclass
class FaultCheck:
    """Acknowledged answers against the database, and rows stored more than once."""

    acknowledged: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: int = 0

    def summary(self) -> str:
        return f"acknowledged answers: {self.acknowledged}, lost: {len(self.lost)}, doubled: {self.doubled}"


async def check_acknowledged(
    database_url: str, key: str, outcomes: list[Outcome], questionnaire: Questionnaire
) -> FaultCheck:
    """Every answer the bot acknowledged is stored as given (unless the person erased it), once."""
    check = FaultCheck()
    async with one_session(database_url) as session:
        for outcome in outcomes:
            ending = outcome.persona.ending.value if outcome.status == "stuck" else outcome.status
            if ending not in KEEPS_ANSWERS:
                continue
            check.acknowledged += len(outcome.acknowledged)
            check.lost += await _lost(session, key, outcome, questionnaire)
        for model, columns in UNIQUE_PER:
            check.doubled += await _extra_rows(session, model, columns)
    return check


async def _lost(session: AsyncSession, key: str, outcome: Outcome, questionnaire: Questionnaire) -> list[str]:
    """The acknowledged answers of one respondent that the database does not hold as given."""
    respondent = await _respondent(session, key, outcome.user_id)
    stored: dict[str, AnswerValue] = {}
    if respondent is not None:
        responses = select(Response.id).where(Response.respondent_id == respondent.id)
        for response_id in await session.scalars(responses):
            stored |= await repo.load_answers(session, response_id)
    lost = []
    for question_id, given in outcome.acknowledged.items():
        want = expected_value(questionnaire, question_id, given)
        have = stored.get(question_id)
        if have is None or _comparable(have) != want:
            lost.append(f"respondent {outcome.user_id}: {question_id} acknowledged as {want}, stored {have}")
    return lost


async def _extra_rows(session: AsyncSession, model: Any, columns: tuple[str, ...]) -> int:
    """Rows of `model` beyond the first among rows that agree on `columns`."""
    keys = [getattr(model, column) for column in columns]
    groups = select(func.count().label("n")).select_from(model).group_by(*keys).having(func.count() > 1)
    extra = groups.subquery()
    return await session.scalar(select(func.coalesce(func.sum(extra.c.n - 1), 0))) or 0
