"""How long /export keeps the bot's event loop from serving respondents, on N synthetic responses (SQLite).

    .venv/bin/python bench/loop_stalls.py --n 20000

seeds a fresh SQLite database, then builds the export (read, CSV + XLSX + SAV + codebook) three
times while a probe on the event loop asks for 1 ms sleeps: reading the dataset on the bot's loop
(as /export did: research.export.collect awaited there, the writers in a thread); all of it in a
thread (bot.researchers.build_export: the GIL still stalls the loop); in a process of its own, as
/export does now (bot.researchers.export_in_a_process).
It prints, for each, the total time and the longest and 99th-percentile delay of the probe: the
longest a respondent's update could have waited for the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from research_bench import seed_sqlite  # this folder (the script's own) is on sys.path

from bot.researchers import Export, build_export, export_in_a_process, write_all
from core.config import Settings
from core.i18n import I18n
from db.engine import create_engine, session_factory
from db.migrate import upgrade_to_head
from research import export
from research.labels import Labels
from survey.model import load_questionnaire

PROBE = 0.001


async def probed(work: Callable[[], Awaitable[object]]) -> tuple[float, list[float]]:
    """Run `work` while probing the loop: its wall time and every probe's delay beyond PROBE."""
    delays: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(PROBE)
            delays.append(time.perf_counter() - start - PROBE)

    prober = asyncio.create_task(probe())
    start = time.perf_counter()
    await work()
    seconds = time.perf_counter() - start
    done.set()
    await prober
    return seconds, delays


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="completed responses to seed")
    args = parser.parse_args()
    questionnaire = load_questionnaire()
    labels = Labels(I18n.load().translator("ru"), questionnaire)
    with tempfile.TemporaryDirectory(prefix="survey-stalls-") as name:
        folder = Path(name)
        url = f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
        engine = create_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        await asyncio.to_thread(seed_sqlite, folder / "bench.sqlite3", args.n)
        engine = create_engine(url)

        what = Export(url, "ru", questionnaire, True, None, Settings.model_fields["speeder_fraction"].default)

        async def on_the_loop() -> None:
            table = await export.collect(session_factory(engine), labels)
            await asyncio.to_thread(write_all, table, folder, "before")

        async def in_a_thread() -> None:
            await asyncio.to_thread(build_export, what, folder, "thread")

        async def in_a_process() -> None:
            await export_in_a_process(what, folder, "now")

        print(f"| /export of {args.n:,} responses | total s | longest stall ms | p99 stall ms |")
        print("| --- | --- | --- | --- |")
        try:
            for label, work in (
                ("read on the loop (before)", on_the_loop),
                ("in a thread", in_a_thread),
                ("in a process (now)", in_a_process),
            ):
                seconds, delays = await probed(work)
                p99 = statistics.quantiles(delays, n=100)[98] if len(delays) > 1 else max(delays)
                print(
                    f"| {label} | {seconds:.2f} | {max(delays) * 1000:.0f} | {p99 * 1000:.0f} |", flush=True
                )
        finally:
            await engine.dispose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
