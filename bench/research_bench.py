"""Benchmark of the researchers' commands on N synthetic completed responses, on SQLite and PostgreSQL.

    python bench/research_bench.py --n 1000000

seeds a fresh database of each kind (bulk insert, indexes built afterwards), then prints how long
/stats, a cross-tab, a chart and an export take there, as a Markdown table. Each figure is the
best of --repeat runs of the same code the bot runs (queries, formatting, drawing, writing).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # devtools/ is not installed

from core.i18n import I18n
from db import stats
from db.engine import create_engine, session_factory
from db.migrate import upgrade_to_head
from devtools.seeding import SEED_DAYS, SEED_START, seed_postgresql, seed_sqlite
from research import charts, export, report, tables, weights
from research.labels import Labels
from survey.analysis import STATS_CUBE
from survey.model import load_questionnaire
from survey.targets import load_targets

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
ZONE = ZoneInfo("Asia/Almaty")
MIN_CELL = 10


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
    start = time.perf_counter()
    table = await export.collect(sessions, labels)
    note("export: read from the database", time.perf_counter() - start)
    for extension in formats:
        start = time.perf_counter()
        await asyncio.to_thread(export.WRITERS[extension], table, folder / f"bench.{extension}")
        note(f"export: write {extension}", time.perf_counter() - start)
    return figures


async def run_sqlite(
    n: int, repeat: int, formats: list[str] | None, folder: Path
) -> tuple[float, dict[str, float]]:
    path = folder / "bench.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade_to_head(engine)
    await engine.dispose()
    start = time.perf_counter()
    await asyncio.to_thread(seed_sqlite, path, n)
    seeded = time.perf_counter() - start
    print(f"SQLite: seeded {n:,} responses in {seeded:.1f} s", file=sys.stderr, flush=True)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        return seeded, await measure(engine, repeat, formats, folder)
    finally:
        await engine.dispose()


async def run_postgresql(
    n: int, repeat: int, formats: list[str] | None, folder: Path, admin_url: str
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
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


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
    args = parser.parse_args()
    formats = None if args.skip_export else [f for f in args.formats.split(",") if f]
    results: dict[str, tuple[float, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="survey-bench-") as folder:
        if args.db in ("sqlite", "both"):
            results["SQLite"] = await run_sqlite(args.n, args.repeat, formats, Path(folder))
        if args.db in ("postgresql", "both"):
            results["PostgreSQL"] = await run_postgresql(
                args.n, args.repeat, formats, Path(folder), args.pg_admin_url
            )
    kinds = list(results)
    print(f"\n{args.n:,} completed responses; seconds (best of {args.repeat} for the commands)\n")
    print("| step | " + " | ".join(kinds) + " |")
    print("| --- | " + " | ".join("---:" for _ in kinds) + " |")
    print("| seed (bulk insert, build indexes) | " + " | ".join(f"{results[k][0]:.1f}" for k in kinds) + " |")
    for step in results[kinds[0]][1]:
        print(f"| {step} | " + " | ".join(f"{results[k][1][step]:.3f}" for k in kinds) + " |")


if __name__ == "__main__":
    asyncio.run(main())
