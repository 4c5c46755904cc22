"""Queries the conversation needs. Repositories never commit: the caller owns the transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import (
    CursorResult,
    Text,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    inspect,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from db.models import (
    Answer,
    AnswerChoice,
    ChatMessage,
    ErasureMarker,
    Participant,
    ProcessedUpdate,
    ResearcherSetting,
    Respondent,
    Response,
    Tally,
)
from survey.analysis import ANSWER_COLUMNS, analysis_value
from survey.flow import AnswerValue

MAX_KEPT_MESSAGES = 1000
"""Message ids kept per response for deletion; a survey takes about 30, so only a flood reaches it."""
KEPT_PER_STATEMENT = 100
"""Message ids kept by one statement at most (SQLite allows 500 terms in a compound SELECT)."""
SCREENED_OUT_TALLY = "screened_out"
"""The tally of people under 18 who confirmed their age: nothing else of them is kept."""


def upsert(session: AsyncSession, table: Any) -> Any:
    """The dialect's INSERT for `table`, which knows ON CONFLICT DO NOTHING / DO UPDATE."""
    return _insert(_dialect(session), table)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _insert(dialect: str, table: Any) -> Any:
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


# The statements of every answer are built once per dialect (building one costs more than running
# it), their values bound as parameters at each execution.


@cache
def _claim_statement(dialect: str) -> Any:
    statement = _insert(dialect, ProcessedUpdate).values(
        update_id=bindparam("update_id"), processed_at=bindparam("now")
    )
    return statement.on_conflict_do_nothing(index_elements=["update_id"])


async def claim_update(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Record that an update is being handled; False when it was handled before."""
    connection = await session.connection()  # Core: the ORM would take parameters for a bulk INSERT
    result = await connection.execute(
        _claim_statement(_dialect(session)), {"update_id": update_id, "now": now}
    )
    return cast("CursorResult[Any]", result).rowcount == 1


async def forget_updates_before(session: AsyncSession, cutoff: datetime) -> int:
    """Drop update ids older than `cutoff` (Telegram never redelivers those)."""
    result = await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff))
    return cast("CursorResult[Any]", result).rowcount


async def lock_respondent(session: AsyncSession, pseudonym: str) -> Respondent | None:
    """The respondent with this pseudonym, row-locked until the transaction ends."""
    statement = select(Respondent).where(Respondent.pseudonym == pseudonym).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def rekey_respondent(session: AsyncSession, old: str, new: str) -> Locked:
    """Move a respondent found under PSEUDONYM_KEY_OLD to the current key's pseudonym, locked,
    with their newest response (as lock_respondent_with_response)."""
    await session.execute(update(Respondent).where(Respondent.pseudonym == old).values(pseudonym=new))
    return await lock_respondent_with_response(session, new)


async def participated(session: AsyncSession, hashes: Iterable[str]) -> bool:
    """True when one of these participation hashes is of someone whose response was unlinked."""
    return bool(await session.scalar(select(exists().where(Participant.hash.in_(list(hashes))))))


async def unlink_settled(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Cut the link of respondents whose responses last changed before `cutoff`; how many.

    Each keeps its answers; its participation hash moves to `participants` (sorted, so row order
    says nothing of when), its response loses the respondent, the message id and the ids of its
    chat's messages, and the respondent row (the pseudonym) is deleted. Rows another replica is
    unlinking are skipped.
    """
    # Driven by respondents (only the linked few), each looked up by the responses' and answers' keys.
    recent_answer = exists().where(Answer.response_id == Response.id, Answer.answered_at >= cutoff)
    changed = exists().where(
        Response.respondent_id == Respondent.id,
        or_(Response.started_at >= cutoff, Response.completed_at >= cutoff, recent_answer),
    )
    statement = (
        select(Respondent.id, Respondent.participant_hash)
        .where(~changed)
        .order_by(Respondent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    settled = (await session.execute(statement)).all()
    if not settled:
        return 0
    ids = [row.id for row in settled]
    hashes = sorted({row.participant_hash for row in settled if row.participant_hash})
    if hashes:
        insert_hashes = upsert(session, Participant).values([{"hash": h} for h in hashes])
        await session.execute(insert_hashes.on_conflict_do_nothing(index_elements=["hash"]))
    of_settled = select(Response.id).where(Response.respondent_id.in_(ids))
    await session.execute(delete(ChatMessage).where(ChatMessage.response_id.in_(of_settled)))
    await session.execute(
        update(Response)
        .where(Response.respondent_id.in_(ids))
        .values(respondent_id=None, question_message_id=None, pending={})
    )
    await session.execute(delete(Respondent).where(Respondent.id.in_(ids)))
    return len(ids)


@dataclass(frozen=True)
class HeldMessage:
    """A question message sent but not noted yet (held in memory for the person's next turn)."""

    response_id: uuid.UUID
    step: int
    """The response's step it was sent at: it shows the current question while the step is the same."""
    message_id: int
    sent_at: datetime


_Model = TypeVar("_Model", Respondent, Response)
Locked = tuple[Respondent | None, Response | None, dict[str, AnswerValue] | None]
"""The respondent, their newest response, and its answers when they were read with them (else None)."""


def _answers_json() -> Any:
    """The answers of `responses.id` (the enclosing row) as one JSON text: [[question, option,
    number, text, [choice, ...]], ...], built by SQLite's json1 functions."""
    choices = (
        select(func.json_group_array(AnswerChoice.option))
        .where(AnswerChoice.response_id == Answer.response_id, AnswerChoice.question == Answer.question)
        .scalar_subquery()
    )
    row = func.json_array(Answer.question, Answer.option, Answer.number, Answer.text, func.json(choices))
    return select(func.json_group_array(row)).where(Answer.response_id == Response.id).scalar_subquery()


def _answers_from_json(text: str) -> dict[str, AnswerValue]:
    return _answers_from_rows(json.loads(text))


def _answers_from_rows(rows: list[list[Any]]) -> dict[str, AnswerValue]:
    return {
        question: AnswerValue(option=option, choices=tuple(sorted(choices)), number=number, text=value)
        for question, option, number, value, choices in rows
    }


def _newest(*columns: Any) -> Any:
    """SELECT `columns` of the respondent with the pseudonym bound as `pseudonym` and of their newest
    response."""
    return (
        select(*columns)
        .join_from(Respondent, Response, Response.respondent_id == Respondent.id)
        .where(Respondent.pseudonym == bindparam("pseudonym"))
        .order_by(Response.started_at.desc())
        .limit(1)
    )


@cache
def _lock_statement(dialect: str) -> Any:
    columns: list[Any] = [Respondent, Response]
    if dialect == "sqlite":
        columns.append(_answers_json().label("answers"))
    return _newest(*columns).with_for_update()


async def lock_respondent_with_response(session: AsyncSession, pseudonym: str) -> Locked:
    """The respondent with this pseudonym and their newest response (each respondent has one in this
    version), both row-locked until the transaction ends: one statement where both exist.

    Both rows are locked because PostgreSQL, when the statement had to wait for a lock, reads the
    locked rows again as the transaction that held them left them, but a joined row that is not
    locked as it was before the wait: a double tap on two replicas would see a stale response.
    For the same reason the answers are read there by a later statement, after the lock
    (load_answers, or keep_messages_reading_answers with the person's message). SQLite took its
    write lock at BEGIN IMMEDIATE, so nothing can change under this statement: it reads the
    answers too (as JSON, one row); for a typed message the statement that keeps it reads all
    three instead (keep_message_reading). Without a response (a first contact, before consent), the
    respondent alone is looked up.
    """
    dialect = _dialect(session)
    row = (await session.execute(_lock_statement(dialect), {"pseudonym": pseudonym})).one_or_none()
    if row is not None:
        return row[0], row[1], _answers_from_json(row[2]) if dialect == "sqlite" else None
    return await lock_respondent(session, pseudonym), None, None


@cache
def _answers_statement() -> Any:
    choice = AnswerChoice.option.label("choice")
    return (
        select(Answer.question, Answer.option, Answer.number, Answer.text, choice)
        .outerjoin(
            AnswerChoice,
            (AnswerChoice.response_id == Answer.response_id) & (AnswerChoice.question == Answer.question),
        )
        .where(Answer.response_id == bindparam("response_id"))
        .order_by(Answer.question, choice)
    )


async def load_answers(session: AsyncSession, response_id: uuid.UUID) -> dict[str, AnswerValue]:
    """Every current answer of a response, keyed by question code (choices joined in: one statement)."""
    rows: dict[str, Any] = {}
    choices: dict[str, list[str]] = {}
    for row in (await session.execute(_answers_statement(), {"response_id": response_id})).all():
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


@cache
def _save_statement(dialect: str) -> Any:
    columns = ("response_id", "question", "option", "number", "text", "answered_at")
    statement = _insert(dialect, Answer).values({name: bindparam(name) for name in columns})
    replaced = {name: statement.excluded[name] for name in columns[2:]}
    return statement.on_conflict_do_update(index_elements=["response_id", "question"], set_=replaced)


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
    answered_at = now.replace(microsecond=0)  # to the second: paradata needs no finer
    values = {"option": value.option, "number": value.number, "text": value.text, "answered_at": answered_at}
    connection = await session.connection()
    await connection.execute(
        _save_statement(_dialect(session)), {"response_id": response.id, "question": question, **values}
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


async def note_sent_message(
    connection: AsyncConnection,
    response_id: uuid.UUID,
    message: tuple[int, datetime],
    step: int | None = None,
) -> None:
    """Keep a message the bot sent, after sending, in one statement of its own (`connection` in
    autocommit: a single statement needs no transaction around it).

    With `step` it shows the current question at that step: it becomes the response's
    question_message_id, which /delete counts among the kept messages; a response that moved on
    meanwhile keeps it in chat_messages instead (a second statement, only then).
    """
    if step is not None:
        moved = update(Response).where(Response.id == response_id, Response.step == step)
        result = await connection.execute(moved.values(question_message_id=message[0]))
        if cast("CursorResult[Any]", result).rowcount == 1:
            return
    statement = _keep_statement(connection.dialect.name, 1)
    await connection.execute(statement, _keep_parameters(response_id, [message], MAX_KEPT_MESSAGES))


@cache
def _keep_statement(dialect: str, rows: int) -> Any:
    """INSERT `rows` messages (message_id0, sent_at0, ...) into chat_messages unless the response is
    gone, at most up to `limit` rows for the response; RETURNING the ids that were new."""
    message_id, sent_at = ChatMessage.message_id.type, ChatMessage.sent_at.type
    each = [
        select(
            bindparam(f"message_id{i}", type_=message_id).label("message_id"),
            bindparam(f"sent_at{i}", type_=sent_at).label("sent_at"),
        )
        for i in range(rows)
    ]
    new = (each[0] if rows == 1 else union_all(*each)).subquery("new")  # VALUES would not be cached
    response_id = bindparam("response_id", type_=ChatMessage.response_id.type)
    source = (
        select(response_id, new.c.message_id, new.c.sent_at)
        .where(exists().where(Response.id == response_id))
        .limit(_room(response_id))
    )
    return _insert_kept(dialect, source)


def _room(response_id: Any) -> Any:
    """How many more messages the response `response_id` may keep: up to the bound `limit` in all."""
    count = (
        select(func.count()).select_from(ChatMessage).where(ChatMessage.response_id == response_id)
    ).scalar_subquery()
    return case((count < bindparam("limit"), bindparam("limit") - count), else_=0)


def _insert_kept(dialect: str, source: Any) -> Any:
    """INSERT the (response id, message id, date) rows of `source` into chat_messages, each once;
    RETURNING the ids that were new."""
    statement = _insert(dialect, ChatMessage).from_select(["response_id", "message_id", "sent_at"], source)
    return statement.on_conflict_do_nothing(index_elements=["response_id", "message_id"]).returning(
        ChatMessage.message_id
    )


def _keep_parameters(
    response_id: uuid.UUID, messages: Sequence[tuple[int, datetime]], limit: int
) -> dict[str, Any]:
    parameters: dict[str, Any] = {"response_id": response_id, "limit": limit}
    for i, (message_id, sent_at) in enumerate(messages):
        parameters |= {f"message_id{i}": message_id, f"sent_at{i}": sent_at}
    return parameters


async def remember_messages(
    session: AsyncSession,
    response_id: uuid.UUID,
    messages: Sequence[tuple[int, datetime]],
    limit: int = MAX_KEPT_MESSAGES,
) -> set[int]:
    """Keep (message id, date) of survey messages in the chat, unless the response is gone meanwhile;
    the ids that were not kept before.

    At most `limit` per response: an account flooding the bot cannot grow the table without end.
    One statement for up to KEPT_PER_STATEMENT of them: the checks are part of the INSERT ... SELECT.
    """
    connection, new = await session.connection(), set()
    for start in range(0, len(messages), KEPT_PER_STATEMENT):
        chunk = messages[start : start + KEPT_PER_STATEMENT]
        statement = _keep_statement(_dialect(session), len(chunk))
        result = await connection.execute(statement, _keep_parameters(response_id, chunk, limit))
        new |= set(result.scalars())
    return new


@cache
def _keep_and_read_statement(rows: int) -> Any:
    """PostgreSQL: _keep_statement's INSERT as a CTE, and the response's answers read by the same
    statement (after the lock, so as they now are) as JSON like _answers_json's."""
    kept = _keep_statement("postgresql", rows).cte("kept")
    choices = (
        select(func.coalesce(func.json_agg(AnswerChoice.option), literal_column("'[]'::json")))
        .where(AnswerChoice.response_id == Answer.response_id, AnswerChoice.question == Answer.question)
        .scalar_subquery()
    )
    row = func.json_build_array(Answer.question, Answer.option, Answer.number, Answer.text, choices)
    answers = (
        select(func.coalesce(func.json_agg(row), literal_column("'[]'::json")).cast(Text))
        .where(Answer.response_id == bindparam("response_id"))
        .scalar_subquery()
    )
    new = select(func.array_agg(kept.c.message_id)).scalar_subquery()
    return select(new.label("new"), answers.label("answers"))


async def keep_messages_reading_answers(
    session: AsyncSession, response_id: uuid.UUID, messages: Sequence[tuple[int, datetime]]
) -> tuple[set[int], dict[str, AnswerValue] | None]:
    """remember_messages, and on PostgreSQL the response's answers read by the same statement
    (SQLite read them with the lock: None)."""
    if _dialect(session) != "postgresql" or len(messages) > KEPT_PER_STATEMENT:
        return await remember_messages(session, response_id, messages), None
    connection = await session.connection()
    statement = _keep_and_read_statement(len(messages))
    row = (
        await connection.execute(statement, _keep_parameters(response_id, messages, MAX_KEPT_MESSAGES))
    ).one()
    return set(row.new or ()), _answers_from_json(row.answers)


@cache
def _keep_reading_statement(held: bool) -> Any:
    """SQLite: _keep_statement's INSERT for the newest response of the respondent with `pseudonym`:
    the person's message (message_id, sent_at), the question message this process holds unnoted
    when it is of that response (held_*), and the message showing the current question (dated
    `now`); RETURNING, with the person's message if new, the respondent, the response and its
    answers as one JSON array (see keep_message_reading).

    They are read by a CTE: SQLite's RETURNING names columns without their table, which a
    subquery over several tables cannot do without."""
    columns = [*Respondent.__table__.columns, *Response.__table__.columns, func.json(_answers_json())]
    newest = _newest(
        Response.id.label("response_id"),
        Response.question_message_id.label("shown"),
        func.json_array(*columns).label("state"),
    ).cte("newest")
    message_id, sent_at = ChatMessage.message_id.type, ChatMessage.sent_at.type
    person = bindparam("message_id", type_=message_id)
    sent = bindparam("sent_at", type_=sent_at).label("sent_at")
    rows = [select(newest.c.response_id, person.label("message_id"), sent)]
    if held:
        unnoted = [bindparam("held_message_id", type_=message_id), bindparam("held_sent_at", type_=sent_at)]
        held_response = bindparam("held_response_id", type_=Response.id.type)
        rows.append(select(newest.c.response_id, *unnoted).where(newest.c.response_id == held_response))
    now = bindparam("now", type_=sent_at)
    rows.append(select(newest.c.response_id, newest.c.shown, now).where(newest.c.shown.is_not(None)))
    new = union_all(*rows).subquery("new")
    room = _room(select(newest.c.response_id).scalar_subquery())
    source = select(new).limit(room)
    state = case((ChatMessage.message_id == person, select(newest.c.state).scalar_subquery()))
    return _insert_kept("sqlite", source).add_cte(newest).returning(state.label("state"))


async def keep_message_reading(
    session: AsyncSession,
    pseudonym: str,
    message: tuple[int, datetime],
    held: HeldMessage | None,
    now: datetime,
) -> tuple[set[int], Locked] | None:
    """SQLite, first in a transaction that took the write lock at BEGIN IMMEDIATE: keep the person's
    message, `held` (a question message to be noted later) and the current question's message for
    the respondent's newest response, and read in the same statement the respondent, that response
    and its answers, as lock_respondent_with_response would (nothing can change between the two:
    the lock is held). The ids kept that were new, and what was read.

    None where the person's message was not kept (kept before, no response, a flood: the caller
    reads as for any other update), and on PostgreSQL, where the respondent is locked first.
    """
    if _dialect(session) != "sqlite":
        return None
    parameters: dict[str, Any] = {
        "pseudonym": pseudonym,
        "message_id": message[0],
        "sent_at": message[1],
        "now": now,
        "limit": MAX_KEPT_MESSAGES,
    }
    if held is not None:
        parameters |= {
            "held_response_id": held.response_id,
            "held_message_id": held.message_id,
            "held_sent_at": held.sent_at,
        }
    connection = await session.connection()
    rows = (await connection.execute(_keep_reading_statement(held is not None), parameters)).all()
    state = next((json.loads(row.state) for row in rows if row.state is not None), None)
    if state is None:
        return None
    width = len(Respondent.__table__.columns)
    respondent = _as_read(session, Respondent, state[:width])
    response = _as_read(session, Response, state[width:-1])
    return {row.message_id for row in rows}, (respondent, response, _answers_from_rows(state[-1]))


def _as_read(session: AsyncSession, model: type[_Model], values: list[Any]) -> _Model:
    """An instance of `model` with the columns' `values` (as JSON gives them), in the session as if
    read from the database by it."""
    dialect, mapper = session.get_bind().dialect, inspect(model)
    columns = {}
    for column, value in zip(mapper.local_table.columns, values, strict=True):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        columns[mapper.get_property_by_column(column).key] = value if process is None else process(value)
    instance = model(**columns)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


async def message_kept(session: AsyncSession, response_id: uuid.UUID, message_id: int) -> bool:
    """True when this message of the response's chat is kept."""
    where = exists().where(ChatMessage.response_id == response_id, ChatMessage.message_id == message_id)
    return bool(await session.scalar(select(where)))


async def forget_messages(session: AsyncSession, response_id: uuid.UUID) -> list[tuple[int, datetime]]:
    """Remove and return the kept (message id, date) of a response's chat, oldest first."""
    kept = select(ChatMessage.message_id, ChatMessage.sent_at).where(ChatMessage.response_id == response_id)
    messages = [
        (row.message_id, row.sent_at) for row in await session.execute(kept.order_by(ChatMessage.message_id))
    ]
    await session.execute(delete(ChatMessage).where(ChatMessage.response_id == response_id))
    return messages


async def add_to_tally(session: AsyncSession, name: str) -> None:
    """Count one more in the tally `name` (atomically: replicas may count at once)."""
    statement = upsert(session, Tally).values(name=name, count=1)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["name"], set_={"count": Tally.count + 1})
    )


async def tally(session: AsyncSession, name: str) -> int:
    """The count of the tally `name` (0 before the first)."""
    return int(await session.scalar(select(Tally.count).where(Tally.name == name)) or 0)


async def erase_respondent(session: AsyncSession, respondent: Respondent) -> None:
    """Delete a respondent and everything that belongs to them."""
    response_ids = select(Response.id).where(Response.respondent_id == respondent.id)
    await session.execute(delete(AnswerChoice).where(AnswerChoice.response_id.in_(response_ids)))
    await session.execute(delete(Answer).where(Answer.response_id.in_(response_ids)))
    await session.execute(delete(ChatMessage).where(ChatMessage.response_id.in_(response_ids)))
    await session.execute(delete(Response).where(Response.respondent_id == respondent.id))
    await session.execute(delete(Respondent).where(Respondent.id == respondent.id))


async def remember_erasure(session: AsyncSession, marker: str, kept_until: date) -> None:
    """Keep the marker of an erasure until the UTC day `kept_until` (a later erasure extends it)."""
    statement = upsert(session, ErasureMarker).values(marker=marker, kept_until=kept_until)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["marker"], set_={"kept_until": kept_until})
    )


async def take_erasure(session: AsyncSession, markers: Sequence[str], today: date) -> bool:
    """Drop these erasure markers; True when one of them was still kept (the person erased lately)."""
    if not markers:
        return False
    kept = ErasureMarker.marker.in_(list(markers)), ErasureMarker.kept_until >= today
    result = await session.execute(delete(ErasureMarker).where(*kept))
    return cast("CursorResult[Any]", result).rowcount > 0


async def forget_erasures_before(session: AsyncSession, today: date) -> int:
    """Drop the erasure markers kept until a day before `today`; how many."""
    result = await session.execute(delete(ErasureMarker).where(ErasureMarker.kept_until < today))
    return cast("CursorResult[Any]", result).rowcount


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
