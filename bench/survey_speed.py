"""Speed of the survey bot over HTTP through the local emulator, against a no-op bot as the ceiling.

    .venv/bin/python bench/survey_speed.py            # full run: both databases, 1/20/100, memory at 10,000
    .venv/bin/python bench/survey_speed.py --quick    # a smaller, faster run
    .venv/bin/python bench/survey_speed.py --databases --memory 10000    # only the memory figure
    .venv/bin/python bench/survey_speed.py --concurrency-gain --quick [--latency 60]   # one at a time or not

For each database (SQLite file; PostgreSQL in a throwaway database this script creates and
drops) the real bot runs as a separate process (`python -m bot run`, as in production, only
BOT_API_URL points at the emulator), and 1, 20 and 100 simulated respondents take the survey
at once, each one the same 14 actions (4 typed, 10 button presses), each waiting for the bot's
reply before the next: for a typed message, the bot's next message; for a press, the bot's
answer to the press (the bot's last call of the turn). "answers/s" counts those actions; p50 and
p99 are over the times from sending an action to that reply. The ceiling is the same run
against bench/noop_bot.py (a PTB bot that answers every update with one message); the ratio
is bot / ceiling. "bot CPU" is the bot process's CPU time (user + system) per answer; "CPU
ratio" divides it by the no-op bot's on the same level. "chat
calls" are the Bot API calls per answer that carry a chat (messages, edits; answering a button
press does not), counted by the emulator.

Memory: the bot process's resident set size (VmRSS) is read after a warm-up of 200 respondents
and again after 10,000 more respondents (100 at a time) started the survey and consented, so
that each has a response in progress; the growth divided by 10,000 is the memory per
in-progress respondent. RSS is what the operating system charges the process, so anything the
bot keeps per respondent (PTB's per-user data, caches, the SQLite page cache) shows up in it.

--concurrency-gain: the same runs of the survey bot on each database twice, once handling one
update at a time (CONCURRENT_UPDATES=1) and once as configured by default (updates of different
people concurrently, each person's in order: bot/concurrency.py), and the ratio of the two.
`--latency 60` makes every Bot API call take 60 ms more, as the round trip to Telegram does
(the emulator answers at once otherwise): the time a bot handling one update at a time waits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.sandbox.postgres import fresh_database  # noqa: E402
from devtools.sandbox.process import Sandbox, sandbox  # noqa: E402
from devtools.sandbox.scripted import (  # noqa: E402
    NOOP_COMMAND,
    NoReply,
    act,
    chat_calls,
    cpu_seconds,
    noop_script,
    percentile,
    survey_script,
)

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
database = partial(fresh_database, admin_url=PG_ADMIN_URL, name="survey_bench")
"""database(kind, folder): a fresh SQLite file in folder, or a throwaway PostgreSQL database."""
LEVELS = (1, 20, 100)
SURVEYS = {1: 10, 20: 60, 100: 200}
QUICK_SURVEYS = {1: 4, 20: 20, 100: 100}
MEMORY_RESPONDENTS = 10_000
MEMORY_WARMUP = 200
PAGE = os.sysconf("SC_PAGE_SIZE")


NOOP_SCRIPT = noop_script()


@dataclass
class Run:
    """One measured run: how many actions, how long, and each action's reply time."""

    concurrency: int
    actions: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float
    failures: list[str]
    chat_calls: int = 0

    @property
    def rate(self) -> float:
        return self.actions / self.seconds

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000

    @property
    def cells(self) -> str:
        """answers/s, p50 and p99 (ms) as table cells."""
        return f"{self.rate:.1f} | {self.percentile(0.5):.0f} | {self.percentile(0.99):.0f}"

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds / self.actions * 1000

    @property
    def calls_per_answer(self) -> float:
        return self.chat_calls / self.actions


def rss_bytes(pid: int) -> int:
    """Resident set size of a process now."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


async def drive(box: Sandbox, script: Sequence[tuple[str, str]], concurrency: int, surveys: int) -> Run:
    """`concurrency` respondents at once take `surveys` surveys in all, timing every action."""
    client, latencies, failures, remaining = box.client, [], [], surveys

    async def respondent() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            user_id = await client.new_user("ru")
            for kind, text in script:
                started = time.perf_counter()
                try:
                    await act(client, user_id, kind, text)
                except NoReply as exc:
                    failures.append(str(exc))
                    break
                latencies.append(time.perf_counter() - started)

    cpu, calls = cpu_seconds(box.bot.pid), await chat_calls(client)
    started = time.perf_counter()
    await asyncio.gather(*(respondent() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(box.bot.pid) - cpu
    return Run(
        concurrency, len(latencies), seconds, latencies, cpu, failures, await chat_calls(client) - calls
    )


async def measure(
    folder: Path,
    database_url: str,
    script: Sequence[tuple[str, str]],
    surveys: dict[int, int],
    command: Sequence[str] | None,
    settings: dict[str, object] | None = None,
    latency: float = 0.0,
) -> dict[int, Run]:
    """Every concurrency level against one bot process (after one warm-up survey)."""
    extra: dict[str, Any] = {"command": command} if command else {}
    async with sandbox(
        folder, database_url, log_name="bench-bot.log", connections=200, settings=settings, **extra
    ) as box:
        box.server.latency = latency
        await drive(box, script, 1, 1)
        return {level: await drive(box, script, level, surveys[level]) for level in surveys}


async def memory_per_respondent(folder: Path, database_url: str, respondents: int) -> tuple[int, int, Run]:
    """RSS before and after `respondents` more in-progress respondents, and that run."""
    script = survey_script()[:2]
    async with sandbox(folder, database_url, log_name="bench-memory.log", connections=200) as box:
        await drive(box, script, 50, MEMORY_WARMUP)
        before = rss_bytes(box.bot.pid)
        run = await drive(box, script, 100, respondents)
        after = rss_bytes(box.bot.pid)
    return before, after, run


def table(results: dict[str, dict[int, Run]], ceiling: dict[int, Run]) -> str:
    lines = [
        "| database | respondents at once | answers/s | p50 ms | p99 ms | bot CPU ms/answer "
        "| chat calls/answer | no-op bot answers/s | ratio | no-op CPU ms/answer | CPU ratio "
        "| surveys broken off |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, runs in results.items():
        for level, run in runs.items():
            top = ceiling[level]
            p50, p99 = run.percentile(0.5), run.percentile(0.99)
            lines.append(
                f"| {name} | {level} | {run.rate:.0f} | {p50:.1f} | {p99:.1f} | {run.cpu_ms:.1f} "
                f"| {run.calls_per_answer:.2f} | {top.rate:.0f} | {run.rate / top.rate:.2f} "
                f"| {top.cpu_ms:.1f} | {run.cpu_ms / top.cpu_ms:.1f} | {len(run.failures)} |"
            )
    return "\n".join(lines)


def report_failures(runs: list[Run]) -> None:
    """Say why surveys broke off (the bot's last message), once per distinct reason."""
    reasons = Counter(reason for run in runs for reason in run.failures)
    for reason, count in reasons.most_common():
        print(f"broken off {count}x: {reason}", file=sys.stderr)


def gain_table(sequential: dict[str, dict[int, Run]], concurrent: dict[str, dict[int, Run]]) -> str:
    lines = [
        "| database | respondents at once | one at a time: answers/s | p50 ms | p99 ms "
        "| concurrent: answers/s | p50 ms | p99 ms | gain |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, runs in concurrent.items():
        for level, run in runs.items():
            one = sequential[name][level]
            lines.append(f"| {name} | {level} | {one.cells} | {run.cells} | {run.rate / one.rate:.2f} |")
    return "\n".join(lines)


async def concurrency_gain(args: argparse.Namespace) -> None:
    """The survey bot one update at a time, then concurrently, on each database."""
    surveys = QUICK_SURVEYS if args.quick else SURVEYS
    results: dict[str, dict[str, dict[int, Run]]] = {"sequential": {}, "concurrent": {}}
    with tempfile.TemporaryDirectory(prefix="survey-bench-") as tmp:
        for kind in args.databases:
            for mode, settings in (("sequential", {"concurrent_updates": 1}), ("concurrent", {})):
                print(f"survey bot on {kind}, {mode}, latency {args.latency:.0f} ms...", file=sys.stderr)
                async with database(kind, Path(tmp) / mode) as url:
                    latency = args.latency / 1000
                    runs = await measure(Path(tmp), url, survey_script(), surveys, None, settings, latency)
                results[mode][kind] = runs
    print(gain_table(results["sequential"], results["concurrent"]))
    every_run = [run for by_kind in results.values() for level in by_kind.values() for run in level.values()]
    report_failures(every_run)


async def main(args: argparse.Namespace) -> None:
    if args.concurrency_gain:
        await concurrency_gain(args)
        return
    surveys = QUICK_SURVEYS if args.quick else SURVEYS
    script = survey_script()
    folder = Path(tempfile.mkdtemp(prefix="survey-bench-"))
    print(f"bot logs and SQLite files in {folder}", file=sys.stderr)
    runs: list[Run] = []
    if args.databases:
        print("no-op bot (ceiling)...", file=sys.stderr)
        ceiling = await measure(folder, "sqlite+aiosqlite:///unused", NOOP_SCRIPT, surveys, NOOP_COMMAND)
        results: dict[str, dict[int, Run]] = {}
        for kind in args.databases:
            print(f"survey bot on {kind}...", file=sys.stderr)
            async with database(kind, folder) as url:
                results[kind] = await measure(folder, url, script, surveys, None)
            runs += results[kind].values()
        print(table(results, ceiling))
    if args.memory:
        print(f"memory: {args.memory} respondents in progress on SQLite...", file=sys.stderr)
        async with database("sqlite", folder / "memory") as url:
            before, after, run = await memory_per_respondent(folder, url, args.memory)
        runs.append(run)
        in_progress = args.memory - len(run.failures)
        print(
            f"\nbot process memory: RSS {before / 2**20:.1f} MiB after {MEMORY_WARMUP} respondents, "
            f"{after / 2**20:.1f} MiB after {in_progress} more in progress: "
            f"{(after - before) / in_progress / 1024:.2f} KiB per in-progress respondent"
        )
    report_failures(runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer surveys per level")
    parser.add_argument(
        "--concurrency-gain", action="store_true", help="one update at a time vs concurrently (no ceiling)"
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="with --concurrency-gain: milliseconds each Bot API call takes (the round trip to Telegram)",
    )
    parser.add_argument(
        "--databases", nargs="*", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--memory",
        type=int,
        default=MEMORY_RESPONDENTS,
        help="in-progress respondents for the memory figure (0: skip)",
    )
    asyncio.run(main(parser.parse_args()))
