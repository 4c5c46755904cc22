"""Typed SQLAlchemy models. The schema changes only through migrations/."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime
from itertools import combinations
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    Uuid,
    event,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, declared_attr, mapped_column, relationship

from survey.analysis import ANALYSIS, STATS_CUBE, VARIABLES
from survey.model import QuestionnaireError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CODE = String(32)
"""Question and option codes of questionnaire.md are short ASCII identifiers."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC on every database.

    PostgreSQL keeps the zone itself; SQLite stores text without one, so values are converted
    to UTC on the way in (comparisons stay right) and marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the bot stores timezone-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base with the project's naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class ResponseStatus(enum.StrEnum):
    """Where a response stands."""

    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    SCREENED_OUT = "screened_out"
    CANCELLED = "cancelled"


class DigestStatus(enum.StrEnum):
    """Where a digest post stands."""

    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"


class Respondent(Base):
    """A person who consented, known only by a keyed pseudonym of their Telegram id.

    The row lives while the response can change; unlinking (db.repo.unlink_settled) deletes it,
    moving its participation hash to `participants` and leaving the response with no respondent.
    """

    __tablename__ = "respondents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    participant_hash: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(2))
    consented_at: Mapped[datetime]
    created_at: Mapped[datetime]

    responses: Mapped[list[Response]] = relationship(
        back_populates="respondent", cascade="all, delete-orphan", passive_deletes=True
    )


def _analysis_columns(model: type) -> list[Column[str]]:
    """A column per analysed question (see `analysis` in survey/questionnaire.yaml): its answer's code."""
    for variable in ANALYSIS.variables:
        if variable.name in model.__annotations__:
            where = f"analysis variable {variable.question!r}"
            raise QuestionnaireError(where, f"column {variable.name!r} is taken by {model.__name__}")
    return [Column(variable.name, CODE) for variable in ANALYSIS.variables]


def _analysis_indexes() -> list[Index]:
    """Covering indexes that let GROUP BY stream instead of sorting a million rows.

    Every pair of analysis variables follows `status`, so any two-way table of one status is
    read from one index in group order; the /stats cube (STATS_CUBE) has an index of its own.
    """
    cube = ("status", *STATS_CUBE)
    column_sets = [cube, ("status", "duration_seconds"), ("status", "completed_at")]
    column_sets += [("status", a, b) for a, b in combinations(VARIABLES, 2) if ("status", a, b) != cube[:3]]
    return [Index(f"ix_responses_{'_'.join(columns)}", *columns) for columns in column_sets]


class Response(Base):
    """One pass through the questionnaire; the respondent's position lives here.

    The analysis columns (one per variable of the questionnaire's `analysis` section, e.g. stance)
    repeat the current answers in one row so that statistics are GROUP BY queries on one table;
    db.repo keeps them equal to the answers in the same transaction, and duration_seconds follows
    completed_at (see _set_duration below).
    """

    __tablename__ = "responses"

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            *_analysis_columns(cls),
            Index("ix_responses_respondent_id_status", "respondent_id", "status"),
            *_analysis_indexes(),
        )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    respondent_id: Mapped[int | None] = mapped_column(ForeignKey("respondents.id", ondelete="CASCADE"))
    """None once unlinked: nothing then leads from a person to this response."""
    questionnaire_version: Mapped[int]
    language: Mapped[str] = mapped_column(String(2))
    status: Mapped[ResponseStatus] = mapped_column(
        Enum(
            ResponseStatus,
            name="response_status",
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        index=True,
    )
    started_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None] = mapped_column(index=True)
    option_order: Mapped[dict[str, Any]] = mapped_column(default=dict)
    current_question: Mapped[str | None] = mapped_column(CODE)
    step: Mapped[int] = mapped_column(default=0)
    pending: Mapped[dict[str, Any]] = mapped_column(default=dict)
    question_message_id: Mapped[int | None] = mapped_column(BigInteger)
    duration_seconds: Mapped[int | None]
    repeat: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Started by someone who erased a response less than UNLINK_AFTER_DAYS before (ErasureMarker)."""

    respondent: Mapped[Respondent | None] = relationship(back_populates="responses")
    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", passive_deletes=True
    )


@event.listens_for(Response, "before_insert")
@event.listens_for(Response, "before_update")
def _set_duration(_mapper: Mapper[Response], _connection: object, response: Response) -> None:
    """Keep duration_seconds equal to completed_at - started_at, whoever sets them."""
    if response.completed_at is None or response.started_at is None:
        response.duration_seconds = None
    else:
        elapsed = response.completed_at - response.started_at
        response.duration_seconds = round(elapsed.total_seconds())


class Answer(Base):
    """The current answer of one response to one question (at most one)."""

    __tablename__ = "answers"
    __table_args__ = (Index("ix_answers_question_option", "question", "option"),)

    response_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    question: Mapped[str] = mapped_column(CODE, primary_key=True)
    option: Mapped[str | None] = mapped_column(CODE)
    number: Mapped[int | None]
    text: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime]

    response: Mapped[Response] = relationship(back_populates="answers")
    choices: Mapped[list[AnswerChoice]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="AnswerChoice.option"
    )


class AnswerChoice(Base):
    """One chosen option of a multi-select answer: a row SQL can GROUP BY."""

    __tablename__ = "answer_choices"
    __table_args__ = (
        ForeignKeyConstraint(
            ["response_id", "question"],
            ["answers.response_id", "answers.question"],
            ondelete="CASCADE",
            name="fk_answer_choices_answers",
        ),
        Index("ix_answer_choices_question_option", "question", "option"),
    )

    response_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    question: Mapped[str] = mapped_column(CODE, primary_key=True)
    option: Mapped[str] = mapped_column(CODE, primary_key=True)


class ChatMessage(Base):
    """A message of the survey in the respondent's chat (theirs or the bot's), kept so /delete
    and the summary's "clear this chat" can delete it; held only while the response is linked.
    """

    __tablename__ = "chat_messages"

    response_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sent_at: Mapped[datetime]


class Tally(Base):
    """A count with no person behind it (screened_out: people under 18 who confirmed their age)."""

    __tablename__ = "tallies"

    name: Mapped[str] = mapped_column(CODE, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class ResearcherSetting(Base):
    """A researcher's own choices (the language of statistics and exports), by researcher pseudonym.

    `pseudonym` is core.privacy.researcher_pseudonym, never a respondent's pseudonym.
    """

    __tablename__ = "researcher_settings"

    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(2))


class Participant(Base):
    """Someone whose response was unlinked: only the memory-hard hash of their Telegram id.

    No time and no order that could pair a row with a response: the hash is the whole row and
    its key, and rows arrive in batches sorted by hash.
    """

    __tablename__ = "participants"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)


class ErasureMarker(Base):
    """What /delete leaves: a keyed marker of who erased (core.privacy.erasure_marker) and the UTC
    day until which it is kept, so that their next response is flagged a repeat. No answer, no time
    finer than the day; dropped when that person starts again, or after `kept_until`.
    """

    __tablename__ = "erasure_markers"

    marker: Mapped[str] = mapped_column(String(64), primary_key=True)
    kept_until: Mapped[date]


class ProcessedUpdate(Base):
    """Telegram update ids already handled, so a redelivered update changes nothing."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(index=True)


class DigestPost(Base):
    """A channel digest, claimed by its period key before it is sent."""

    __tablename__ = "digest_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[DigestStatus] = mapped_column(
        Enum(
            DigestStatus,
            name="digest_status",
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    claimed_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    data_until: Mapped[datetime | None]
    published: Mapped[dict[str, Any] | None]
    """The figures the digest showed (research.digest.Figures.to_json), to compare and show again."""
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
