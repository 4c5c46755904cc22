"""Every response with its answers, streamed in one pass for exports.

One query reads the responses in order of their random id; correlated subqueries aggregate each
response's answers and chosen options into one JSON value in the database (json_object_agg on
PostgreSQL, json_group_object on SQLite), so Python sees one row per response, not one per answer,
of text and numbers only, and the rows arrive through the driver's cursor a partition at a time
(constant memory). Times arrive as the UTC day already: that is all an export keeps of them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from sqlalchemy import Select, String, cast, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Answer, AnswerChoice, Response

PARTITION = 5000
"""Rows fetched from the cursor at a time."""


class ResponseRecord(NamedTuple):
    """One response as exported: paradata and current answers (never who gave them), as the
    database returns them for a million rows to be cheap: text and numbers, no objects."""

    id: str
    """The random UUID in its 36-character text form."""
    questionnaire_version: int
    language: str
    status: str
    started_on: str
    """The UTC day (YYYY-MM-DD) it was started: exports coarsen times to the day."""
    completed_on: str | None
    duration_seconds: int | None
    repeat: bool
    option_order: dict[str, list[str]]
    answers: dict[str, list[Any]]
    """question -> [option, number, text] (each None when not given)."""
    choices: dict[str, list[str]]
    """question -> the options chosen (multi-select questions)."""


DIALECTS = {
    "postgresql": ("json_build_array", "json_object_agg", "json_agg"),
    "sqlite": ("json_array", "json_group_object", "json_group_array"),
}
"""Each database's names for a JSON array, an object aggregate and an array aggregate."""


def _day(dialect: str, column: Any) -> Any:
    """The UTC day of a timestamp column (stored naive in UTC) as YYYY-MM-DD text."""
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    return func.substr(column, 1, 10)  # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff"


def records_statement(dialect: str) -> Select[Any]:
    """Each response's paradata and one JSON array per response: its option order, its answers
    {question: [option, number, text]} and its chosen options [[question, option], ...]."""
    responses, answers, choices = Response.__table__.c, Answer.__table__.c, AnswerChoice.__table__.c
    array, group_object, group_array = (getattr(func, name) for name in DIALECTS[dialect])
    given: Any = (
        select(group_object(answers.question, array(answers.option, answers.number, answers.text)))
        .where(answers.response_id == responses.id)
        .scalar_subquery()
    )
    chosen: Any = (
        select(group_array(array(choices.question, choices.option)))
        .where(choices.response_id == responses.id)
        .scalar_subquery()
    )
    order: Any = responses.option_order
    if dialect != "postgresql":  # SQLite: text becomes JSON again only through json()
        order, given, chosen = func.json(order), func.json(given), func.json(chosen)
    payload = array(order, given, chosen)
    return select(
        cast(responses.id, String),
        responses.questionnaire_version,
        type_coerce(responses.language, String),
        type_coerce(responses.status, String),
        _day(dialect, responses.started_at),
        _day(dialect, responses.completed_at),
        responses.duration_seconds,
        responses.repeat,
        cast(payload, String),
    ).order_by(responses.id)


def _record(row: Any) -> ResponseRecord:
    identifier, version, language, status, started, completed, duration, repeat, payload = row
    order, answers, chosen = json.loads(payload)
    picked: dict[str, list[str]] = {}
    for question, option in chosen or ():
        picked.setdefault(question, []).append(option)
    if len(identifier) == 32:  # SQLite keeps the 32 hex digits
        identifier = str(uuid.UUID(identifier))
    return ResponseRecord(
        identifier,
        version,
        language,
        status,
        started,
        completed,
        duration,
        bool(repeat),
        order or {},
        answers or {},
        picked,
    )


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
