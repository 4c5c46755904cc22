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
