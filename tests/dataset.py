"""A small known dataset, and two ways of storing synthetic responses that store the same rows.

seed_through_repo() goes through db.repo exactly as the conversation does; seed_bulk() writes the
same rows in four statements (tests/test_dataset.py checks that they agree), so seed(), what the
other tests use, is the bulk one.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from db import repo
from db.engine import session_factory
from db.models import Answer, AnswerChoice, Respondent, Response, ResponseStatus
from survey.analysis import ANSWER_COLUMNS, analysis_value
from survey.flow import AnswerValue

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # 17:00 in Almaty


@dataclass(frozen=True)
class Person:
    """One synthetic response: when, in which language, and its answers."""

    age: int | None = 30
    stance: str = "peace"
    main_source: str | None = "ru_tv"
    sources: tuple[str, ...] = ("ru_tv",)
    neutrality: str = "support"
    city: str = "almaty"
    gender: str = "female"
    language: str = "ru"
    started: datetime = NOW - timedelta(days=10)
    minutes: float = 3
    status: ResponseStatus = ResponseStatus.COMPLETE


def _completed(stance: str, count: int, age: int, **fields: object) -> list[Person]:
    return [Person(age=age, stance=stance, **fields) for _ in range(count)]  # type: ignore[arg-type]


# Completed: 20. Stance: ukraine 10, peace 5, russia 4, skip 1. Age bands: 18-29: 10, 30-39: 6, 55+: 4.
COMPLETED = [
    *_completed("ukraine", 8, 25, sources=("telegram", "social"), main_source="telegram", language="kk"),
    *_completed("ukraine", 2, 35, sources=("intl",), main_source="intl", neutrality="more_ukraine"),
    *_completed("peace", 2, 22, city="shymkent", gender="male", started=NOW - timedelta(hours=2)),
    *_completed("peace", 3, 33, sources=("none",), main_source="none", started=NOW - timedelta(days=3)),
    *_completed("russia", 4, 61, neutrality="more_russia", minutes=10),
    *_completed("skip", 1, 31, neutrality="skip", minutes=1),
]
OTHERS = [
    Person(age=40, stance="unsure", status=ResponseStatus.IN_PROGRESS, started=NOW - timedelta(hours=1)),
    Person(age=50, stance="peace", status=ResponseStatus.CANCELLED),
    Person(age=None, stance="", status=ResponseStatus.SCREENED_OUT, started=NOW - timedelta(days=2)),
]
DATASET = COMPLETED + OTHERS


def answers_of(person: Person) -> dict[str, AnswerValue]:
    """The answers stored for a person (none for one screened out)."""
    if person.status is ResponseStatus.SCREENED_OUT:
        return {}
    answers = {
        "age": AnswerValue(number=person.age),
        "gender": AnswerValue(option=person.gender),
        "city": AnswerValue(option=person.city),
        "sources": AnswerValue(choices=person.sources),
        "stance": AnswerValue(option=person.stance),
    }
    if person.main_source:
        answers["main_source"] = AnswerValue(option=person.main_source)
    if person.status is ResponseStatus.COMPLETE:
        answers["neutrality"] = AnswerValue(option=person.neutrality)
        answers["relatives"] = AnswerValue(choices=("russia", "ukraine"))
        answers["comment"] = AnswerValue(text="Соғыс тоқтасын, мир")
    return answers


async def seed(engine: AsyncEngine, people: list[Person] = DATASET) -> None:
    """Store every person's response and answers (respondent ids apart from those the bot creates)."""
    await seed_bulk(engine, people, first_id=next(_seed_ids))


_seed_ids = itertools.count(5_000_000, 10_000)


async def seed_through_repo(engine: AsyncEngine, people: list[Person] = DATASET) -> None:
    """Store every person's response and answers, as the conversation would."""
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        for number, person in enumerate(people):
            respondent = Respondent(
                pseudonym=f"seed-pseudonym-{number:04d}",
                language=person.language,
                consented_at=person.started,
                created_at=person.started,
            )
            complete = person.status is ResponseStatus.COMPLETE
            response = Response(
                respondent=respondent,
                questionnaire_version=1,
                language=person.language,
                status=person.status,
                started_at=person.started,
                completed_at=person.started + timedelta(minutes=person.minutes) if complete else None,
                option_order={"stance": ["ukraine", "russia", "peace", "unsure", "skip"]},
                step=12,
                pending={},
            )
            session.add_all([respondent, response])
            await session.flush()
            for question, value in answers_of(person).items():
                await repo.save_answer(session, response, question, value, person.started)


async def seed_bulk(
    engine: AsyncEngine, people: list[Person], first_id: int = 1, rng: random.Random | None = None
) -> list[uuid.UUID]:
    """The rows seed() would store, written in bulk: respondents, responses, answers and choices;
    the responses' ids (random, or drawn from `rng` for a dataset the same on every run)."""
    respondents, responses, answers, choices = [], [], [], []
    ids: list[uuid.UUID] = []
    for index, person in enumerate(people):
        number = first_id + index
        complete = person.status is ResponseStatus.COMPLETE
        completed = person.started + timedelta(minutes=person.minutes) if complete else None
        values = answers_of(person)
        response_id = uuid.uuid4() if rng is None else uuid.UUID(int=rng.getrandbits(128), version=4)
        ids.append(response_id)
        respondents.append(
            {"id": number, "pseudonym": f"seed-pseudonym-{number - 1:04d}", "language": person.language,
             "consented_at": person.started, "created_at": person.started}
        )  # fmt: skip
        responses.append(
            {"id": response_id, "respondent_id": number, "questionnaire_version": 1, "language": person.language,
             "status": person.status, "started_at": person.started, "completed_at": completed,
             "duration_seconds": round((completed - person.started).total_seconds()) if completed else None,
             "option_order": {"stance": ["ukraine", "russia", "peace", "unsure", "skip"]}, "step": 12,
             "pending": {}, "current_question": None,
             **{column: analysis_value(q, values[q]) if q in values else None for q, column in ANSWER_COLUMNS.items()}}
        )  # fmt: skip
        for question, value in values.items():
            answers.append(
                {"response_id": response_id, "question": question, "option": value.option,
                 "number": value.number, "text": value.text, "answered_at": person.started}
            )  # fmt: skip
            choices += [
                {"response_id": response_id, "question": question, "option": c} for c in value.choices
            ]
    async with engine.begin() as connection:
        for table, rows in (
            (Respondent, respondents),
            (Response, responses),
            (Answer, answers),
            (AnswerChoice, choices),
        ):
            if rows:
                await connection.execute(insert(table), rows)
    return ids


CROWD_SOURCES = ("ru_tv", "kz_tv", "kz_online", "intl", "telegram", "social", "people")


def random_person(rng: random.Random) -> Person:
    """A respondent drawn at random, so that a crowd has large, mid-sized and small groups, as real ones do."""
    age = rng.choice([None] * 2 + [*range(18, 30)] * 3 + [*range(30, 55)] * 2 + [*range(55, 80)])
    stance = rng.choices(("russia", "ukraine", "peace", "unsure", "skip"), weights=(18, 30, 30, 17, 5))[0]
    source = rng.choices([None, *CROWD_SOURCES], weights=(4, 12, 20, 15, 6, 30, 10, 3))[0]
    return Person(age=age, stance=stance, main_source=source)


CRAFTED = [
    *DATASET,
    Person(age=44, city="other_city", sources=("skip",), main_source=None, gender="skip", minutes=0.5),
    Person(age=19, stance="unsure", neutrality="more_ukraine", city="village", language="kk", minutes=25),
    Person(age=70, stance="russia", city="abroad", started=NOW - timedelta(days=40, minutes=1)),
    Person(age=28, status=ResponseStatus.IN_PROGRESS, main_source=None, sources=("kz_tv", "intl")),
]
CRAFTED_TEXTS = [
    '=HYPERLINK("http://example.com")',
    "+7 701 000 0000",
    "-1",
    "@SUM(A1:A2)",
    "\tTab first",
    "\rCR first",
    'A "quoted", comma; and\na new line',
    "skip",
]
"""Typed comments a CSV must quote or keep inert (the last one literally typed "skip")."""


async def seed_crafted(engine: AsyncEngine) -> None:
    """CRAFTED with fixed ids, awkward typed texts, a typed city and a skipped comment: the dataset
    whose export tests/golden/crafted-*.csv hold as the export wrote it before it was streamed."""
    ids = await seed_bulk(engine, CRAFTED, first_id=next(_seed_ids), rng=random.Random(13))
    async with engine.begin() as connection:
        for response_id, text in zip(ids, CRAFTED_TEXTS, strict=False):
            await connection.execute(
                update(Answer)
                .where(Answer.response_id == response_id, Answer.question == "comment")
                .values(text=text)
            )
        skipped = ids[len(CRAFTED_TEXTS)]
        await connection.execute(
            update(Answer)
            .where(Answer.response_id == skipped, Answer.question == "comment")
            .values(option="skip", text=None)
        )
        typed_city = ids[len(DATASET)]
        await connection.execute(
            insert(Answer).values(
                response_id=typed_city, question="city_name", text='Жаңаөзен, "Мұнайлы"', answered_at=NOW
            )
        )
