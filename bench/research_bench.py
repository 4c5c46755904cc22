"""Benchmark of the researchers' commands on N synthetic completed responses, on SQLite and PostgreSQL.

    python bench/research_bench.py --n 1000000

seeds a fresh database of each kind (bulk insert, indexes built afterwards), then prints how long
/stats, a cross-tab, a chart and an export take there, as a Markdown table. Each figure is the
best of --repeat runs of the same code the bot runs (queries, formatting, drawing, writing); the
CSV export is the streamed one of `python -m bot export --format csv`, timed once.

    python bench/research_bench.py --n 1000000 --db postgresql --formats csv --keep
    python bench/research_bench.py --database postgresql+asyncpg://.../survey_bench_1a2b3c4d --formats csv

--keep leaves the seeded databases in place and prints their DATABASE_URLs; --database measures
one of them again without seeding it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Index
from sqlalchemy.ext.asyncio import AsyncEngine

from core.i18n import I18n
from db import stats
from db.engine import create_engine, session_factory
from db.migrate import upgrade_to_head
from db.models import Base
from research import charts, export, report, tables, weights
from research.labels import Labels
from survey.analysis import STATS_CUBE, analysis_value
from survey.flow import AnswerValue
from survey.model import load_questionnaire
from survey.targets import load_targets

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
SEED_START = datetime(2026, 1, 1, tzinfo=UTC)
SEED_DAYS = 90
ZONE = ZoneInfo("Asia/Almaty")
MIN_CELL = 10
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
    """The rows of one synthetic response, one list per table."""

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
        columns = ", ".join(column.name for column in index.columns)
        connection.execute(f"CREATE INDEX {index.name} ON {index.table.name} ({columns})")
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()


async def seed_postgresql(url: str, n: int) -> None:
    """COPY with the secondary indexes dropped, then rebuild them and VACUUM ANALYZE."""
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
            columns = ", ".join(column.name for column in index.columns)
            await connection.execute(f"CREATE INDEX {index.name} ON {index.table.name} ({columns})")
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def timed(action: Callable[[], Awaitable[object]], repeat: int) -> float:
    """The best wall time of `repeat` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        await action()
        best = min(best, time.perf_counter() - start)
    return best


async def measure(
    engine: AsyncEngine, repeat: int, formats: list[str] | None, folder: Path
) -> dict[str, float]:
    """Time the researchers' commands as the bot runs them, without Telegram."""
    sessions = session_factory(engine)
    labels = Labels(I18n.load().translator("ru"), load_questionnaire())
    now = SEED_START + timedelta(days=SEED_DAYS)

    async def stats_command() -> None:
        async with sessions.begin() as session:
            figures = await stats.overview(session, now, ZONE, STATS_CUBE)
        report.split_message(report.stats_lines(labels, figures, MIN_CELL))

    async def crosstab_command() -> None:
        async with sessions.begin() as session:
            cells = await stats.counts(session, ["age_band", "stance"])
        table = tables.crosstab(labels, "stance", "age_band", cells)
        report.split_message(report.crosstab_lines(labels, table, MIN_CELL))

    plan = weights.Plan(load_targets(labels.questionnaire), 5.0, 1 / 3)

    async def weighted_crosstab_command() -> None:
        async with sessions.begin() as session:
            weighting = await weights.weighting(session, plan)
            cells = await stats.counts(session, ["age_band", "stance"], weighting.scope)
            weighted = await weights.weighted_counts(session, weighting, ["age_band", "stance"])
        table = tables.crosstab(labels, "stance", "age_band", cells, weighted)
        report.split_message(report.crosstab_lines(labels, table, MIN_CELL, weighting))

    async def chart_command() -> None:
        async with sessions.begin() as session:
            cells = await stats.counts(session, ["age_band", "stance"])
        table = tables.crosstab(labels, "stance", "age_band", cells)
        charts.render_png(charts.crosstab_spec(labels, table, MIN_CELL))

    figures: dict[str, float] = {}

    def note(step: str, seconds: float) -> None:
        figures[step] = seconds
        print(f"  {step}: {seconds:.3f} s", file=sys.stderr, flush=True)

    note("/stats", await timed(stats_command, repeat))
    note("/crosstab stance age raw", await timed(crosstab_command, repeat))
    note("/crosstab stance age (weighted)", await timed(weighted_crosstab_command, repeat))
    note("/chart stance age", await timed(chart_command, repeat))
    if formats is None:
        return figures
    if "csv" in formats:  # as `python -m bot export --format csv` writes it: streamed, weighted
        start, cpu = time.perf_counter(), time.process_time()
        await export.stream_csv(sessions, labels, folder / "bench.csv", plan, 1 / 3)
        note("export: csv, streamed (read and write)", time.perf_counter() - start)
        note("export: csv, CPU time of this process (not the server's)", time.process_time() - cpu)
    in_memory = [extension for extension in formats if extension != "csv"]
    if not in_memory:
        return figures
    start = time.perf_counter()
    table = await export.collect(sessions, labels)
    note("export: read into memory (other formats)", time.perf_counter() - start)
    for extension in in_memory:
        start = time.perf_counter()
        await asyncio.to_thread(export.WRITERS[extension], table, folder / f"bench.{extension}")
        note(f"export: write {extension}", time.perf_counter() - start)
    return figures


async def run_sqlite(
    n: int, repeat: int, formats: list[str] | None, folder: Path, keep: bool = False
) -> tuple[float, dict[str, float]]:
    path = Path.cwd() / f"survey_bench_{n}.sqlite3" if keep else folder / "bench.sqlite3"
    path.unlink(missing_ok=True)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade_to_head(engine)
    await engine.dispose()
    start = time.perf_counter()
    await asyncio.to_thread(seed_sqlite, path, n)
    seeded = time.perf_counter() - start
    print(f"SQLite: seeded {n:,} responses in {seeded:.1f} s", file=sys.stderr, flush=True)
    if keep:
        print(f"SQLite: kept as sqlite+aiosqlite:///{path}", file=sys.stderr, flush=True)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        return seeded, await measure(engine, repeat, formats, folder)
    finally:
        await engine.dispose()


async def run_postgresql(
    n: int, repeat: int, formats: list[str] | None, folder: Path, admin_url: str, keep: bool = False
) -> tuple[float, dict[str, float]]:
    import asyncpg

    name = f"survey_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = create_engine(url.replace("postgresql://", "postgresql+asyncpg://"))
        await upgrade_to_head(engine)
        start = time.perf_counter()
        await seed_postgresql(url, n)
        seeded = time.perf_counter() - start
        print(f"PostgreSQL: seeded {n:,} responses in {seeded:.1f} s", file=sys.stderr, flush=True)
        try:
            return seeded, await measure(engine, repeat, formats, folder)
        finally:
            await engine.dispose()
    finally:
        if keep:
            kept = url.replace("postgresql://", "postgresql+asyncpg://")
            print(f"PostgreSQL: kept as {kept}", file=sys.stderr, flush=True)
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run_existing(
    url: str, repeat: int, formats: list[str] | None, folder: Path
) -> tuple[float, dict[str, float]]:
    """Measure a database seeded before (by an earlier run with --keep), without seeding."""
    engine = create_engine(url)
    try:
        return float("nan"), await measure(engine, repeat, formats, folder)
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="completed responses to seed")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default="csv,sav", help="export formats to time (csv,xlsx,sav)")
    parser.add_argument("--skip-export", action="store_true", help="time the commands only")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument(
        "--database", help="measure this DATABASE_URL, seeded before (by --keep), instead of seeding one"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the seeded databases and print their DATABASE_URLs"
    )
    args = parser.parse_args()
    formats = None if args.skip_export else [f for f in args.formats.split(",") if f]
    results: dict[str, tuple[float, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="survey-bench-") as folder:
        if args.database:
            kind = "SQLite" if args.database.startswith("sqlite") else "PostgreSQL"
            results[kind] = await run_existing(args.database, args.repeat, formats, Path(folder))
        if args.db in ("sqlite", "both") and not args.database:
            results["SQLite"] = await run_sqlite(args.n, args.repeat, formats, Path(folder), args.keep)
        if args.db in ("postgresql", "both") and not args.database:
            results["PostgreSQL"] = await run_postgresql(
                args.n, args.repeat, formats, Path(folder), args.pg_admin_url, args.keep
            )
    kinds = list(results)
    seeded = "the responses of --database" if args.database else f"{args.n:,} completed responses"
    print(f"\n{seeded}; seconds (best of {args.repeat} for the commands)\n")
    print("| step | " + " | ".join(kinds) + " |")
    print("| --- | " + " | ".join("---:" for _ in kinds) + " |")
    if not args.database:
        seeds = " | ".join(f"{results[k][0]:.1f}" for k in kinds)
        print(f"| seed (bulk insert, build indexes) | {seeds} |")
    for step in results[kinds[0]][1]:
        print(f"| {step} | " + " | ".join(f"{results[k][1][step]:.3f}" for k in kinds) + " |")


if __name__ == "__main__":
    asyncio.run(main())
