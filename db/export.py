"""Every response with its answers, read in chunks for exports (one short transaction per chunk)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Answer, AnswerChoice, Response, ResponseStatus
from survey.flow import AnswerValue

CHUNK_SIZE = 5000
RECORD_COLUMNS = (
    "id",
    "questionnaire_version",
    "language",
    "status",
    "started_at",
    "completed_at",
    "duration_seconds",
    "option_order",
    "repeat",
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
    repeat: bool
    answers: dict[str, AnswerValue]


async def _chunk(session: AsyncSession, after: uuid.UUID | None, size: int) -> list[ResponseRecord]:
    # Core columns (Table.c), not ORM attributes: a million rows skip the ORM's per-row work.
    responses_table, answers_table = Response.__table__, Answer.__table__
    choices_table = AnswerChoice.__table__
    statement = select(*(responses_table.c[name] for name in RECORD_COLUMNS)).order_by(responses_table.c.id)
    if after is not None:
        statement = statement.where(responses_table.c.id > after)
    responses = (await session.execute(statement.limit(size))).all()
    ids = [row.id for row in responses]
    if not ids:
        return []
    choices: dict[tuple[str, str], list[str]] = defaultdict(list)
    c = choices_table.c
    chosen = select(_raw(c.response_id), c.question, c.option).where(c.response_id.in_(ids))
    for response_id, question, option in (await session.execute(chosen)).all():
        choices[_hex(response_id), question].append(option)
    answers: dict[str, dict[str, AnswerValue]] = defaultdict(dict)
    c = answers_table.c
    given = select(_raw(c.response_id), c.question, c.option, c.number, c.text).where(c.response_id.in_(ids))
    for response_id, question, option, value, text in (await session.execute(given)).all():
        key = _hex(response_id)
        picked = tuple(choices.get((key, question), ()))
        answers[key][question] = AnswerValue(option=option, choices=picked, number=value, text=text)
    return [ResponseRecord(*row, answers=answers[row.id.hex]) for row in responses]  # type: ignore[misc]


def _raw(column: Any) -> Any:
    """A UUID column without SQLAlchemy's per-row conversion (many answer rows per response)."""
    return type_coerce(column, String)


def _hex(value: Any) -> str:
    """The 32 hex digits of a UUID as either driver returns it (SQLite: hex text; asyncpg: a UUID)."""
    return value.hex if isinstance(value, uuid.UUID) else str(value).replace("-", "")


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
