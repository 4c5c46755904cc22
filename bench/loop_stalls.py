"""How long heavy work keeps the bot's event loop from serving respondents, on N synthetic responses.

    .venv/bin/python bench/loop_stalls.py --n 20000
    .venv/bin/python bench/loop_stalls.py --crowd --n 100000 [--db sqlite|postgresql|both] [--trace]

The first seeds a fresh SQLite database, then builds the export (read, CSV + XLSX + SAV + codebook)
three times while a probe on the event loop asks for 1 ms sleeps: reading the dataset on the bot's
loop (as /export did: research.export.collect awaited there, the writers in a thread); all of it in
a thread (research.datasets.build_export: the GIL still stalls the loop); in a process of its own, as
/export does now (research.datasets.export_in_a_process).
It prints, for each, the total time and the longest and 99th-percentile delay of the probe: the
longest a respondent's update could have waited for the loop.

--crowd: the real Application on the in-process emulator (Telegram's paces as in production), on
a fresh database of each kind seeded with N completed responses. A researcher sends /export and the
digest is posted (gathered, drawn, sent to its channel) while --respondents people take the survey
again and again on the bot's loop, each thinking --think seconds between actions, until both are
done. It prints the respondents' reply p50/p99/max, the loop's lag (a probe sleeping 10 ms) and how
long the export and the digest took; --trace adds where the loop's thread was while it stalled
(stacks sampled by a watchdog thread; see devtools/lag.py), for finding what holds the loop.
The same run with the bound asserted is tests/test_loop_lag.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # devtools/ is not installed

from telegram import Update

from bot.app import build_application
from bot.digest import publish
from core.config import Settings
from core.i18n import I18n
from db.engine import create_engine, session_factory
from db.migrate import upgrade_to_head
from devtools.emulator import BotApiEmulator
from devtools.emulator.request import EmulatorRequest
from devtools.lag import Crowd, Replies, Stalls, loop_lag, trace_stalls
from devtools.sandbox.postgres import fresh_database
from devtools.sandbox.scripted import percentile
from devtools.seeding import seed, seed_sqlite
from research import export
from research.datasets import Export, build_export, export_in_a_process, write_all
from research.labels import Labels
from survey.model import load_questionnaire

PROBE = 0.001
T = TypeVar("T")
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TOKEN = "123456789:BENCH-token-loop-stalls"
KEY = "e4a95c182471781d771293e168246325f8e2ed6b0496343e4eb211b4574cd983"
RESEARCHER = {"id": 5_000_000_001, "is_bot": False, "first_name": "R", "language_code": "ru"}
CHANNEL = -1_001_234_567_890


async def probed(work: Callable[[], Awaitable[object]]) -> tuple[float, list[float]]:
    """Run `work` while probing the loop: its wall time and every probe's delay beyond PROBE."""
    async with loop_lag(PROBE) as lag:
        start = time.perf_counter()
        await work()
        seconds = time.perf_counter() - start
    return seconds, lag.lags


async def export_ways(n: int) -> None:
    """The export of `n` responses on the loop, in a thread and in a process: time and probe delays."""
    questionnaire = load_questionnaire()
    labels = Labels(I18n.load().translator("ru"), questionnaire)
    with tempfile.TemporaryDirectory(prefix="survey-stalls-") as name:
        folder = Path(name)
        url = f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
        engine = create_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        await asyncio.to_thread(seed_sqlite, folder / "bench.sqlite3", n)
        engine = create_engine(url)

        what = Export(url, "ru", questionnaire, True, None, Settings.model_fields["speeder_fraction"].default)

        async def on_the_loop() -> None:
            table = await export.collect(session_factory(engine), labels)
            await asyncio.to_thread(write_all, table, folder, "before")

        async def in_a_thread() -> None:
            await asyncio.to_thread(build_export, what, folder, "thread")

        async def in_a_process() -> None:
            await export_in_a_process(what, folder, "now")

        print(f"| /export of {n:,} responses | total s | longest stall ms | p99 stall ms |")
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


async def timed(work: Awaitable[object]) -> float:
    start = time.perf_counter()
    await work
    return time.perf_counter() - start


async def phase(crowd: Crowd, respondents: int, work: Awaitable[T]) -> tuple[str, Stalls, T]:
    """The crowd answering until `work` is done: a row's cells, where the loop was held, what work gave."""
    done, wall, cpu, load = asyncio.Event(), time.perf_counter(), time.process_time(), os.getloadavg()[0]
    async with loop_lag() as lag, trace_stalls() as stalls:
        crowding = asyncio.create_task(crowd.run(respondents, until=done))
        result = await work
        done.set()
        replies = await crowding
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if replies.failures:
        print(f"{len(replies.failures)} respondents stuck: {replies.failures[:3]}", file=sys.stderr)
    ms = [percentile(values, q) * 1000 for values in (replies.times, lag.lags) for q in (0.5, 0.99, 1)]
    cells = (
        f"{len(replies.times)} | {ms[0]:.0f} | {ms[1]:.0f} | {ms[2]:.0f} | {ms[4]:.0f} | {ms[5]:.0f} | "
        f"{wall:.0f} | {cpu / wall * 100:.0f} | {load:.1f}–{os.getloadavg()[0]:.1f}"
    )
    return cells, stalls, result


async def crowd_run(kind: str, args: argparse.Namespace) -> None:
    """Respondents on the bot's loop alone, then while a researcher exports and the digest is posted."""
    think = tuple(float(s) for s in args.think.split(","))
    with tempfile.TemporaryDirectory(prefix="survey-stalls-") as folder:
        async with fresh_database(kind, Path(folder), PG_ADMIN_URL, "survey_lag") as url:
            seeded = await timed(seed(url, args.n))
            print(f"{kind}: seeded {args.n:,} responses in {seeded:.0f} s", file=sys.stderr, flush=True)
            emulator = BotApiEmulator(TOKEN)
            emulator.record_calls = False
            emulator.open_chat(CHANNEL, "channel", "Survey results")
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                bot_token=TOKEN,
                database_url=url,
                pseudonym_key=KEY,
                researcher_ids=str(RESEARCHER["id"]),
                digest_chat_id=CHANNEL,
                digest_grace_hours=0,  # no digest at start: it is posted below, during the export
            )
            application = build_application(settings, request=EmulatorRequest(emulator))
            await application.initialize()
            await application.start()
            services = application.bot_data["services"]
            crowd = Crowd(application, emulator, (think[0], think[1]))
            command = Update.de_json(emulator.user_message(RESEARCHER, text="/export"), application.bot)

            async def heavy() -> list[float]:
                """The researcher's /export and the digest, at once: how long each took."""
                return await asyncio.gather(
                    timed(application.process_update(command)),
                    timed(publish(services, application.bot, services.clock())),
                )

            try:
                alone, _, _ = await phase(crowd, args.respondents, asyncio.sleep(args.alone))
                print(f"| {kind} | alone | {alone} |", flush=True)
                crowd.replies = Replies()
                during, stalls, (exported, posted) = await phase(crowd, args.respondents, heavy())
                print(f"| {kind} | /export and the digest | {during} |", flush=True)
            finally:
                await application.stop()
                await application.shutdown()
                if application.post_shutdown:
                    await application.post_shutdown(application)
    print(f"{kind}: the export took {exported:.0f} s, the digest {posted:.1f} s", file=sys.stderr, flush=True)
    if args.trace:
        print(f"{kind}: where the loop was held\n{stalls.top()}", file=sys.stderr, flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="completed responses to seed")
    parser.add_argument("--crowd", action="store_true", help="respondents during an export and the digest")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both", help="with --crowd")
    parser.add_argument("--respondents", type=int, default=20, help="with --crowd: respondents at once")
    parser.add_argument("--think", default="1,3", help="with --crowd: seconds between actions, from,to")
    parser.add_argument(
        "--alone", type=float, default=60, help="with --crowd: seconds of the crowd alone first"
    )
    parser.add_argument("--trace", action="store_true", help="with --crowd: stacks that held the loop")
    args = parser.parse_args()
    if not args.crowd:
        await export_ways(args.n)
        return
    print(f"Respondents' replies while /export of {args.n:,} responses and the digest run (ms, s, %)")
    columns = "database, phase, replies, p50, p99, max, loop lag p99, loop lag max, s, bot CPU %, load avg"
    print("| " + " | ".join(columns.split(", ")) + " |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for kind in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        await crowd_run(kind, args)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
