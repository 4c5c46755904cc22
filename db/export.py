"""Every response as a row of the dataset's columns, streamed in one pass for exports.

One query reads the responses in order of their random id, each joined to its answers and their
chosen options and grouped by response, so the database pivots the answers: a column per question
(its option code, number or text) and a 0/1 column per option of a multi-select question, the
options' shown order as comma-separated codes, times as the UTC day (all an export keeps of them).
Python then only adds the quality flags and the weight, and writes; the rows arrive through the
driver's cursor a partition at a time (constant memory).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Select, String, and_, case, cast, func, literal, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Answer, AnswerChoice, Response
from survey.model import SKIP, Kind, Question, Questionnaire

PARTITION = 10_000
"""Rows fetched from the cursor at a time."""


def _day(dialect: str, column: Any) -> Any:
    """The UTC day of a timestamp column (stored naive in UTC) as YYYY-MM-DD text."""
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    return func.substr(column, 1, 10)  # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff"


def _uuid_text(dialect: str, column: Any) -> Any:
    """A UUID column in its 36-character text form."""
    if dialect == "postgresql":
        return cast(column, String)
    groups = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))  # SQLite keeps the 32 hex digits
    return func.lower(func.printf("%s-%s-%s-%s-%s", *(func.substr(column, at, n) for at, n in groups)))


def _shown_order(dialect: str, column: Any, question: str) -> Any:
    """The options of `question` as shown, comma-separated (None if they were not shuffled)."""
    if dialect == "postgresql":
        shown = func.json_array_elements_text(column.op("->")(question)).table_valued("value")
        return select(func.string_agg(shown.c.value, ",")).scalar_subquery()
    shown = func.json_each(column, f"$.{question}").table_valued("value")
    return select(func.group_concat(shown.c.value, ",")).scalar_subquery()


def _answer_columns(question: Question, bands: list[str]) -> list[Any]:
    """The dataset's columns of one question: its answer (a 0/1 per option if multi-select), then
    its banded variables (copied into `responses` when answered)."""
    answers, choices = Answer.__table__.c, AnswerChoice.__table__.c
    asked = answers.question == question.id
    if question.kind is Kind.MULTI:
        return [func.max(case((choices.option == code, 1), else_=0)).filter(asked) for code in question.codes]
    if question.kind is Kind.INTEGER:
        value: Any = answers.number
    elif question.kind is Kind.TEXT:
        value = case((answers.option == SKIP, literal(SKIP)), else_=answers.text)
    else:
        value = answers.option
    return [func.max(value).filter(asked), *(Response.__table__.c[band] for band in bands)]


def records_statement(dialect: str, questionnaire: Questionnaire, keys: Sequence[str] = ()) -> Select[Any]:
    """Each response's values in the order of research.export.variables(), then whether it is a
    repeat and its analysis columns `keys` (what a weighting looks up)."""
    responses, answers, choices = Response.__table__.c, Answer.__table__.c, AnswerChoice.__table__.c
    shuffled = [q.id for q in questionnaire if q.randomize_except_last is not None]
    bands_of = questionnaire.analysis.bands_of
    pivoted = [column for q in questionnaire for column in _answer_columns(q, bands_of(q.id))]
    return (
        select(
            _uuid_text(dialect, responses.id),
            responses.questionnaire_version,
            type_coerce(responses.language, String),
            type_coerce(responses.status, String),
            _day(dialect, responses.started_at),
            _day(dialect, responses.completed_at),
            responses.duration_seconds,
            *(_shown_order(dialect, responses.option_order, question) for question in shuffled),
            *pivoted,
            responses.repeat,
            *(type_coerce(responses[key], String) for key in keys),
        )
        .select_from(Response.__table__)
        .outerjoin(Answer.__table__, answers.response_id == responses.id)
        .outerjoin(
            AnswerChoice.__table__,
            and_(choices.response_id == answers.response_id, choices.question == answers.question),
        )
        .group_by(responses.id)
        .order_by(responses.id)
    )


async def response_rows(
    sessions: async_sessionmaker[AsyncSession],
    questionnaire: Questionnaire,
    keys: Sequence[str] = (),
    partition: int = PARTITION,
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Every response's row of records_statement, in order of its random id, `partition` at a time,
    read in one transaction."""
    async with sessions() as session, session.begin():
        statement = records_statement(session.get_bind().dialect.name, questionnaire, keys)
        result = await session.stream(statement, execution_options={"yield_per": partition})
        async for rows in result.partitions():
            yield rows


async def count_responses(session: AsyncSession) -> int:
    """How many responses an export would have (one row each)."""
    return await session.scalar(select(func.count()).select_from(Response.__table__)) or 0
