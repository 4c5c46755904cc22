"""Many synthetic completed responses, fast: bulk inserts with the secondary indexes dropped, then rebuilt.

For benchmarks and load tests (bench/research_bench.py, bench/loop_stalls.py, tests/test_loop_lag.py):
seed(url, n) migrates and fills an empty database of either kind, SQLite through the sqlite3 module's
executemany, PostgreSQL through asyncpg's COPY. Respondents get the ids 1..n; on PostgreSQL the id
sequence is moved past them, so that the bot can still create respondents of its own afterwards.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Index
from sqlalchemy.engine import make_url

from db.engine import create_engine
from db.migrate import upgrade_to_head
from db.models import Base
from survey.analysis import analysis_value
from survey.flow import AnswerValue

SEED_START = datetime(2026, 1, 1, tzinfo=UTC)
SEED_DAYS = 90
SEED_END = SEED_START + timedelta(days=SEED_DAYS + 1)
"""A moment after every seeded response completed."""
TABLES = ("respondents", "responses", "answers", "answer_choices")

CITIES = ["almaty"] * 6 + ["astana"] * 4 + ["shymkent"] * 3 + [
    "karaganda", "aktobe", "taraz", "pavlodar", "oskemen", "semey", "kostanay", "atyrau", "aktau",
    "other_city", "village", "village", "abroad", "skip",
]  # fmt: skip
SOURCES = ["ru_tv", "kz_tv", "kz_online", "intl", "telegram", "social", "people"]
STANCES = ["russia", "ukraine", "peace", "unsure"]
RELATIVES = [("none",), ("russia",), ("russia", "ukraine"), ("skip",)]


@dataclass
class Rows:
    """The rows of a batch of synthetic responses, one list per table."""

    respondents: list[tuple[Any, ...]]
    responses: list[tuple[Any, ...]]
    answers: list[tuple[Any, ...]]
    answer_choices: list[tuple[Any, ...]]


def _answers(rng: random.Random) -> dict[str, AnswerValue]:
    """One plausible set of answers (older respondents lean on Russian TV and Russia's side)."""
    age = rng.randint(18, 80)
    sources = tuple(sorted(rng.sample(SOURCES, rng.choice([1, 1, 2, 2, 3]))))
    if rng.random() < 0.03:
        sources = ("none",)
    old = age >= 55
    stance = rng.choices([*STANCES, "skip"], weights=[3 + 4 * old, 5 - 2 * old, 4, 2, 1])[0]
    answers = {
        "age": AnswerValue(number=age),
        "gender": AnswerValue(option=rng.choice(["female", "male", "male", "female", "skip"])),
        "city": AnswerValue(option=rng.choice(CITIES)),
        "sources": AnswerValue(choices=sources),
        "stance": AnswerValue(option=stance),
        "neutrality": AnswerValue(
            option=rng.choice(["support", "support", "more_ukraine", "more_russia", "unsure", "skip"])
        ),
        "relatives": AnswerValue(choices=rng.choice(RELATIVES)),
        "comment": AnswerValue(option="skip"),
    }
    if answers["city"].option == "other_city":
        answers["city_name"] = AnswerValue(text="Zhanaozen")
    if sources != ("none",):
        answers["main_source"] = AnswerValue(option=rng.choice(sources))
    return answers


def synthetic(n: int, seed: int = 1, sqlite: bool = False) -> Iterator[Rows]:
    """Rows of `n` completed responses in batches, as the database driver of each kind takes them."""
    rng = random.Random(seed)
    batch = Rows([], [], [], [])
    for number in range(1, n + 1):
        started = SEED_START + timedelta(seconds=rng.randrange(SEED_DAYS * 86400))
        duration = rng.randint(50, 900)
        completed = started + timedelta(seconds=duration)
        language = rng.choice(["kk", "ru", "ru"])
        response_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        answers = _answers(rng)
        order = [*rng.sample(STANCES[:3], 3), "unsure", "skip"]
        analysis = {q: analysis_value(q, answers[q]) if q in answers else None for q in ANALYSED}
        key = response_id.hex if sqlite else response_id
        moments = (_sqlite_time(started), _sqlite_time(completed)) if sqlite else (started, completed)
        batch.respondents.append((number, uuid.uuid4().hex * 2, language, moments[0], moments[0]))
        paradata = (1, language, "complete", *moments, json.dumps({"stance": order}), None, 14, "{}", None)
        batch.responses.append((key, number, *paradata, duration, *analysis.values()))
        for question, value in answers.items():
            batch.answers.append((key, question, value.option, value.number, value.text, moments[1]))
            batch.answer_choices += [(key, question, option) for option in value.choices]
        if number % 20_000 == 0 or number == n:
            yield batch
            batch = Rows([], [], [], [])


ANALYSED = ("age", "gender", "city", "main_source", "stance", "neutrality")
RESPONSE_COLUMNS = (
    "id", "respondent_id", "questionnaire_version", "language", "status", "started_at", "completed_at",
    "option_order", "current_question", "step", "pending", "question_message_id", "duration_seconds",
    "age_band", "gender", "city", "main_source", "stance", "neutrality",
)  # fmt: skip
COLUMNS = {
    "respondents": ("id", "pseudonym", "language", "consented_at", "created_at"),
    "responses": RESPONSE_COLUMNS,
    "answers": ("response_id", "question", "option", "number", "text", "answered_at"),
    "answer_choices": ("response_id", "question", "option"),
}


def _sqlite_time(moment: datetime) -> str:
    """How SQLAlchemy stores a datetime in SQLite."""
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _secondary_indexes() -> list[Index]:
    return [index for name in TABLES for index in Base.metadata.tables[name].indexes]


def _create_index(index: Index) -> str:
    columns = ", ".join(column.name for column in index.columns)
    return f"CREATE INDEX {index.name} ON {index.table.name} ({columns})"  # type: ignore[union-attr]


def seed_sqlite(path: Path, n: int) -> None:
    """Bulk insert with the secondary indexes dropped, then rebuild them."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = OFF")
    for index in _secondary_indexes():
        connection.execute(f"DROP INDEX {index.name}")
    for rows in synthetic(n, sqlite=True):
        for table in TABLES:
            columns = COLUMNS[table]
            marks = ", ".join("?" * len(columns))
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            connection.executemany(statement, getattr(rows, table))
        connection.commit()
    for index in _secondary_indexes():
        connection.execute(_create_index(index))
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()


async def seed_postgresql(url: str, n: int) -> None:
    """COPY with the secondary indexes dropped, then rebuild them, move the id sequence on, VACUUM ANALYZE.

    `url` is asyncpg's (postgresql://...).
    """
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        for index in _secondary_indexes():
            await connection.execute(f"DROP INDEX {index.name}")
        for rows in synthetic(n):
            for table in TABLES:
                records = getattr(rows, table)
                await connection.copy_records_to_table(table, records=records, columns=COLUMNS[table])
        for index in _secondary_indexes():
            await connection.execute(_create_index(index))
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('respondents', 'id'), (SELECT max(id) FROM respondents))"
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def seed(url: str, n: int) -> None:
    """Bring the empty database at the SQLAlchemy `url` to the newest revision and seed `n` responses."""
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database, "a SQLite file, not an in-memory database"
        await asyncio.to_thread(seed_sqlite, Path(parsed.database), n)
    else:
        plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        await seed_postgresql(plain, n)
