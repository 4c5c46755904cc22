"""Completed responses stored in bulk, as the conversation would have left them."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import Answer, Respondent, Response, ResponseStatus
from survey.analysis import ANSWER_COLUMNS, analysis_value
from survey.flow import AnswerValue

_serial = itertools.count(1_000_000)  # clear of the ids the bot itself assigns


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

    def answers(self) -> dict[str, AnswerValue]:
        found = {
            "age": AnswerValue(number=self.age) if self.age else AnswerValue(option="skip"),
            "gender": AnswerValue(option=self.gender),
            "city": AnswerValue(option=self.city),
            "stance": AnswerValue(option=self.stance),
            "neutrality": AnswerValue(option=self.neutrality),
        }
        if self.main_source:
            found["main_source"] = AnswerValue(option=self.main_source)
        return found


async def seed(engine: AsyncEngine, people: Iterable[Person], completed_at: datetime) -> None:
    """Store each person as a respondent with one complete response, its answers and analysis columns."""
    started = completed_at - timedelta(minutes=3)
    respondents, responses, answers = [], [], []
    for person in people:
        serial = next(_serial)
        response_id = uuid.uuid4()
        respondents.append(
            {"id": serial, "pseudonym": f"seed-{serial:08d}", "language": person.language,
             "consented_at": started, "created_at": started}
        )  # fmt: skip
        values = person.answers()
        responses.append(
            {"id": response_id, "respondent_id": serial, "questionnaire_version": 1, "language": person.language,
             "status": ResponseStatus.COMPLETE, "started_at": started, "completed_at": completed_at,
             "duration_seconds": 180, "option_order": {}, "current_question": None, "step": 10, "pending": {},
             **{column: analysis_value(q, values[q]) if q in values else None for q, column in ANSWER_COLUMNS.items()}}
        )  # fmt: skip
        answers += [
            {"response_id": response_id, "question": question, "option": value.option, "number": value.number,
             "text": value.text, "answered_at": completed_at}
            for question, value in values.items()
        ]  # fmt: skip
    async with engine.begin() as connection:
        await connection.execute(insert(Respondent), respondents)
        await connection.execute(insert(Response), responses)
        await connection.execute(insert(Answer), answers)
