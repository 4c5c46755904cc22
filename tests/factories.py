"""Completed responses written through the same repository calls the conversation uses."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from db import repo
from db.engine import session_factory
from db.models import Respondent, Response, ResponseStatus
from survey.flow import AnswerValue

_serial = itertools.count(1)


@dataclass(frozen=True)
class Person:
    """One completed response: the answers that statistics and the digest read."""

    age: int | None = 30
    stance: str = "peace"
    main_source: str | None = "telegram"
    language: str = "ru"
    neutrality: str = "support"
    gender: str = "female"
    city: str = "almaty"


async def seed(engine: AsyncEngine, people: Iterable[Person], completed_at: datetime) -> None:
    """Store each person as a respondent with one complete response."""
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        for person in people:
            respondent = Respondent(
                pseudonym=f"seed-{next(_serial):08d}", language=person.language,
                consented_at=completed_at - timedelta(minutes=3), created_at=completed_at - timedelta(minutes=3),
            )  # fmt: skip
            response = Response(
                respondent=respondent, questionnaire_version=1, language=person.language,
                status=ResponseStatus.COMPLETE, started_at=completed_at - timedelta(minutes=3),
                completed_at=completed_at, option_order={}, current_question=None, step=10, pending={},
            )  # fmt: skip
            session.add_all([respondent, response])
            await session.flush()
            answers = {
                "age": AnswerValue(number=person.age) if person.age else AnswerValue(option="skip"),
                "gender": AnswerValue(option=person.gender),
                "city": AnswerValue(option=person.city),
                "stance": AnswerValue(option=person.stance),
                "neutrality": AnswerValue(option=person.neutrality),
            }
            if person.main_source:
                answers["main_source"] = AnswerValue(option=person.main_source)
            for question, value in answers.items():
                await repo.save_answer(session, response.id, question, value, completed_at)
