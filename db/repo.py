"""Queries the conversation needs. Repositories never commit: the caller owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Answer, AnswerChoice, ProcessedUpdate, ResearcherSetting, Respondent, Response
from survey.analysis import ANSWER_COLUMNS, analysis_value
from survey.flow import AnswerValue


def upsert(session: AsyncSession, table: Any) -> Any:
    """The dialect's INSERT for `table`, which knows ON CONFLICT DO NOTHING / DO UPDATE."""
    return (pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert)(table)


async def claim_update(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Record that an update is being handled; False when it was handled before."""
    statement = upsert(session, ProcessedUpdate).values(update_id=update_id, processed_at=now)
    result = await session.execute(statement.on_conflict_do_nothing(index_elements=["update_id"]))
    return result.rowcount == 1


async def forget_updates_before(session: AsyncSession, cutoff: datetime) -> int:
    """Drop update ids older than `cutoff` (Telegram never redelivers those)."""
    result = await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff))
    return result.rowcount


async def lock_respondent(session: AsyncSession, pseudonym: str) -> Respondent | None:
    """The respondent with this pseudonym, row-locked until the transaction ends."""
    statement = select(Respondent).where(Respondent.pseudonym == pseudonym).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def lock_respondent_with_response(
    session: AsyncSession, pseudonym: str
) -> tuple[Respondent | None, Response | None]:
    """The respondent with this pseudonym, row-locked until the transaction ends, and their newest
    response (each respondent has one in this version), in one statement.

    Every change to a response happens under its respondent's lock, so that lock serialises them.
    """
    statement = (
        select(Respondent, Response)
        .outerjoin(Response, Response.respondent_id == Respondent.id)
        .where(Respondent.pseudonym == pseudonym)
        .order_by(Response.started_at.desc())
        .limit(1)
        .with_for_update(of=Respondent)
    )
    row = (await session.execute(statement)).one_or_none()
    return (None, None) if row is None else (row[0], row[1])


async def load_answers(session: AsyncSession, response_id: uuid.UUID) -> dict[str, AnswerValue]:
    """Every current answer of a response, keyed by question code (choices joined in: one statement)."""
    choice = AnswerChoice.option.label("choice")
    statement = (
        select(Answer.question, Answer.option, Answer.number, Answer.text, choice)
        .outerjoin(
            AnswerChoice,
            (AnswerChoice.response_id == Answer.response_id) & (AnswerChoice.question == Answer.question),
        )
        .where(Answer.response_id == response_id)
        .order_by(Answer.question, choice)
    )
    rows: dict[str, Any] = {}
    choices: dict[str, list[str]] = {}
    for row in (await session.execute(statement)).all():
        rows[row.question] = row
        choices.setdefault(row.question, [])
        if row.choice is not None:
            choices[row.question].append(row.choice)
    return {
        question: AnswerValue(
            option=row.option, choices=tuple(choices[question]), number=row.number, text=row.text
        )
        for question, row in rows.items()
    }


async def save_answer(
    session: AsyncSession,
    response: Response,
    question: str,
    value: AnswerValue,
    now: datetime,
    replaces: AnswerValue | None = None,
) -> None:
    """Store the answer of `response` to `question`, replacing `replaces`, the earlier one (one
    current answer per question); its analysis column is set on `response`, written at flush."""
    values = {"option": value.option, "number": value.number, "text": value.text, "answered_at": now}
    statement = upsert(session, Answer).values(response_id=response.id, question=question, **values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["response_id", "question"], set_=values)
    )
    if replaces is not None and replaces.choices:
        await session.execute(
            delete(AnswerChoice).where(
                AnswerChoice.response_id == response.id, AnswerChoice.question == question
            )
        )
    if value.choices:
        await session.execute(
            insert(AnswerChoice),
            [{"response_id": response.id, "question": question, "option": c} for c in value.choices],
        )
    if question in ANSWER_COLUMNS:
        setattr(response, ANSWER_COLUMNS[question], analysis_value(question, value))


async def delete_answers(session: AsyncSession, response: Response, questions: Iterable[str]) -> None:
    """Remove the answers of `response` to `questions` (their choices go with them), analysis columns too."""
    questions = list(questions)
    if not questions:
        return
    await session.execute(
        delete(AnswerChoice).where(
            AnswerChoice.response_id == response.id, AnswerChoice.question.in_(questions)
        )
    )
    await session.execute(
        delete(Answer).where(Answer.response_id == response.id, Answer.question.in_(questions))
    )
    for question in questions:
        if question in ANSWER_COLUMNS:
            setattr(response, ANSWER_COLUMNS[question], None)


async def remember_question_message(
    session: AsyncSession, response_id: uuid.UUID, step: int, message_id: int
) -> None:
    """Note which message shows the current question, unless the response moved on meanwhile."""
    await session.execute(
        update(Response)
        .where(Response.id == response_id, Response.step == step)
        .values(question_message_id=message_id)
    )


async def erase_respondent(session: AsyncSession, respondent: Respondent) -> None:
    """Delete a respondent and everything that belongs to them."""
    response_ids = select(Response.id).where(Response.respondent_id == respondent.id)
    await session.execute(delete(AnswerChoice).where(AnswerChoice.response_id.in_(response_ids)))
    await session.execute(delete(Answer).where(Answer.response_id.in_(response_ids)))
    await session.execute(delete(Response).where(Response.respondent_id == respondent.id))
    await session.execute(delete(Respondent).where(Respondent.id == respondent.id))


async def researcher_language(session: AsyncSession, pseudonym: str) -> str | None:
    """The language a researcher chose for statistics and exports, if any."""
    return await session.scalar(
        select(ResearcherSetting.language).where(ResearcherSetting.pseudonym == pseudonym)
    )


async def set_researcher_language(session: AsyncSession, pseudonym: str, language: str) -> None:
    """Remember a researcher's language (insert or replace)."""
    statement = upsert(session, ResearcherSetting).values(pseudonym=pseudonym, language=language)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["pseudonym"], set_={"language": language})
    )
