"""Every response with its answers, streamed in one pass for exports.

One query reads the responses in order of their random id; correlated subqueries aggregate each
response's answers and chosen options into two JSON values in the database (json_object_agg on
PostgreSQL, json_group_object on SQLite), so Python sees one row per response, not one per answer,
and the rows arrive through the driver's cursor a partition at a time (constant memory).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Answer, AnswerChoice, Response, ResponseStatus
from survey.flow import AnswerValue

PARTITION = 5000
"""Rows fetched from the cursor at a time."""
RECORD_COLUMNS = (
    "id",
    "questionnaire_version",
    "language",
    "status",
    "started_at",
    "completed_at",
    "duration_seconds",
    "option_order",
)


@dataclass(frozen=True)
class ResponseRecord:
    """One response as exported: paradata and current answers (never who gave them)."""

    id: uuid.UUID
    questionnaire_version: int
    language: str
    status: ResponseStatus
    started_at: datetime
    completed_at: datetime | None
    duration_seconds: int | None
    option_order: dict[str, Any]
    answers: dict[str, AnswerValue]


JSON_FUNCTIONS = {
    "postgresql": ("json_build_array", "json_object_agg", "json_agg"),
    "sqlite": ("json_array", "json_group_object", "json_group_array"),
}
"""Each database's names for a JSON array, an object aggregate and an array aggregate."""


def records_statement(dialect: str) -> Select[Any]:
    """Each response's columns, its answers {question: [option, number, text]} and its chosen
    options [[question, option], ...], in order of id."""
    responses, answers, choices = Response.__table__.c, Answer.__table__.c, AnswerChoice.__table__.c
    array, group_object, group_array = (getattr(func, name) for name in JSON_FUNCTIONS[dialect])
    given: ColumnElement[Any] = (
        select(group_object(answers.question, array(answers.option, answers.number, answers.text)))
        .where(answers.response_id == responses.id)
        .scalar_subquery()
    )
    chosen: ColumnElement[Any] = (
        select(group_array(array(choices.question, choices.option)))
        .where(choices.response_id == responses.id)
        .scalar_subquery()
    )
    columns = [responses[name] for name in RECORD_COLUMNS]
    return select(*columns, type_coerce(given, JSON), type_coerce(chosen, JSON)).order_by(responses.id)


def _record(row: Any) -> ResponseRecord:
    *paradata, given, chosen = row
    picked: dict[str, list[str]] = {}
    for question, option in chosen or ():
        picked.setdefault(question, []).append(option)
    answers = {
        question: AnswerValue(
            option=option, choices=tuple(picked.get(question, ())), number=number, text=text
        )
        for question, (option, number, text) in (given or {}).items()
    }
    return ResponseRecord(*paradata, answers=answers)  # type: ignore[misc]


async def response_records(
    sessions: async_sessionmaker[AsyncSession], partition: int = PARTITION
) -> AsyncIterator[list[ResponseRecord]]:
    """Every response in order of its random id, `partition` at a time, read in one transaction."""
    async with sessions() as session, session.begin():
        statement = records_statement(session.get_bind().dialect.name)
        result = await session.stream(statement, execution_options={"yield_per": partition})
        async for rows in result.partitions():
            yield [_record(row) for row in rows]


async def count_responses(session: AsyncSession) -> int:
    """How many responses an export would have (one row each)."""
    return await session.scalar(select(func.count()).select_from(Response.__table__)) or 0
