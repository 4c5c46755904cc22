"""Every response with its answers, read in chunks for exports (one short transaction per chunk)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Answer, AnswerChoice, Response, ResponseStatus
from survey.flow import AnswerValue

CHUNK_SIZE = 5000


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


async def _chunk(session: AsyncSession, after: uuid.UUID | None, size: int) -> list[ResponseRecord]:
    statement = select(
        Response.id,
        Response.questionnaire_version,
        Response.language,
        Response.status,
        Response.started_at,
        Response.completed_at,
        Response.duration_seconds,
        Response.option_order,
    ).order_by(Response.id)
    if after is not None:
        statement = statement.where(Response.id > after)
    responses = (await session.execute(statement.limit(size))).all()
    ids = [row.id for row in responses]
    if not ids:
        return []
    choices: dict[tuple[uuid.UUID, str], list[str]] = defaultdict(list)
    chosen = select(AnswerChoice.response_id, AnswerChoice.question, AnswerChoice.option).where(
        AnswerChoice.response_id.in_(ids)
    )
    for response_id, question, option in await session.execute(chosen):
        choices[response_id, question].append(option)
    answers: dict[uuid.UUID, dict[str, AnswerValue]] = defaultdict(dict)
    given = select(Answer.response_id, Answer.question, Answer.option, Answer.number, Answer.text).where(
        Answer.response_id.in_(ids)
    )
    for response_id, question, option, value, text in await session.execute(given):
        picked = tuple(choices.get((response_id, question), ()))
        answers[response_id][question] = AnswerValue(option=option, choices=picked, number=value, text=text)
    return [ResponseRecord(*row, answers=answers[row.id]) for row in responses]


async def response_records(
    sessions: async_sessionmaker[AsyncSession], chunk_size: int = CHUNK_SIZE
) -> AsyncIterator[list[ResponseRecord]]:
    """Every response in order of its random id, `chunk_size` at a time."""
    after: uuid.UUID | None = None
    while True:
        async with sessions.begin() as session:
            chunk = await _chunk(session, after, chunk_size)
        if not chunk:
            return
        yield chunk
        after = chunk[-1].id
