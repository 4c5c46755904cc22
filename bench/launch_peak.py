"""A launch peak: respondents arriving after a post in a popular channel, against Telegram's limits.

    .venv/bin/python bench/launch_peak.py                       # 2,000 over 10 minutes, every configuration
    .venv/bin/python bench/launch_peak.py --databases postgresql --replicas 1
    .venv/bin/python bench/launch_peak.py --respondents 300 --minutes 2     # a short run while developing

`--respondents` people (2,000) arrive over `--minutes` (10): half of them within the first minute,
the rest evenly over the remaining time. Each takes the survey once, the 14 actions of
bench/survey_speed.py (devtools/sandbox/scripted.py: 4 typed answers, 10 presses), thinking
between `--think` MIN and MAX seconds (3 to 15, uniformly at random) before each action after
/start, and waiting for the bot's reply to each. The real bot runs as a separate process
(`python -m bot run`, as in production) against the Bot API emulator over HTTP, every Bot API call
taking `--latency-ms` (60) more, as the round trip to Telegram does, and the emulator enforcing
Telegram's limits (TELEGRAM_LIMITS: per private chat, per group or channel, bulk for unsolicited
messages; a message over a limit gets 429 with retry_after). Configurations: each of
`--databases` (SQLite file; PostgreSQL in a throwaway database on BENCH_PG_URL's server) with one
polling process, and with `--replicas` N > 1 webhook processes behind one URL on PostgreSQL (the
emulator delivers each person's updates to the replicas in turn, as in devtools/sandbox/faults.py).
Then the same crowd against bench/noop_bot.py (one message per update), polling with one process
and as N webhook replicas: the ceiling of this harness on this machine.

`--participant-hash-n N` is a what-if, not the bot as shipped: the bot process runs with the
participation hash (core/privacy.py: scrypt, about 0.1 s of one core, once per person and process)
at scrypt cost N instead of 2**15, to show what the rest of the bot costs at the peak.

Figures, per configuration:
- completed: respondents who got a reply to every one of their 14 actions (none waited 60 s in vain);
- answers/s: actions (answers) over the run, from the first arrival to the last reply; "busiest 10 s":
  the most answers in any 10 seconds, the rate the bot sustained when most was asked of it;
- reply p50/p95/p99: from sending an action to the bot's reply, over every action of the run;
- bot CPU ms/answer: user + system CPU time of the bot process(es) (/proc/PID/stat) over the run,
  per answer; "1-core ceiling" = processes x 1000 / that: answers/s if each process had a core;
  beside it the CPU of this process (the emulator and the crowd, on the same two cores) per answer;
- chat calls/answer and peak chat calls/s: Bot API calls that carry a chat (messages, edits, not
  answerCallbackQuery), per answer, and the most in any one second; 429s: requests the emulator
  refused for a limit;
- ratio = no-op bot's CPU per answer / survey bot's CPU per answer, with the same number of
  processes (1.0: the bot costs what the least a PTB bot can do costs; 0.5: twice that).

A timeline per run follows: each minute's arrivals, answers, reply p50/p99, the bot processes' CPU
(share of one core) and the machine's 1-minute load average. The crowd and the emulator run in this
process, on the same cores as the bot: on a shared machine every figure is rough; the load average
says how rough.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.emulator.core import ApiCall, ApiError, Chat, FloodLimits, RateLimit  # noqa: E402
from devtools.sandbox.postgres import fresh_database  # noqa: E402
from devtools.sandbox.process import BOT_COMMAND, Sandbox, sandbox  # noqa: E402
from devtools.sandbox.scripted import (  # noqa: E402
    CHAT_METHODS,
    NOOP_COMMAND,
    NoReply,
    act,
    cpu_seconds,
    noop_script,
    percentile,
    survey_script,
)

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
database = partial(fresh_database, admin_url=PG_ADMIN_URL, name="launch_peak")
"""database(kind, folder): a fresh SQLite file in folder, or a throwaway PostgreSQL database."""
FIRST_MINUTE = 60.0
BUSIEST = 10
"""Seconds of the window in which the busiest rate is counted."""
SAMPLE_EVERY = 1.0
"""Seconds between readings of the bot's CPU time and the load average (and progress lines)."""
PROGRESS_EVERY = 30
CHEAP_HASH = (
    "import runpy, core.privacy as p; p.SCRYPT_COST = {{**p.SCRYPT_COST, 'n': {n}}}; "
    "runpy.run_module('bot', run_name='__main__', alter_sys=True)"
)
"""`python -c` code running the bot with the participation hash's scrypt at cost `n` (what-if runs)."""


@dataclass
class CountingLimits(FloodLimits):
    """Telegram's limits, counting the requests refused with 429."""

    refused: int = 0

    def check(self, chat: Chat, now: float) -> None:
        try:
            super().check(chat, now)
        except ApiError:
            self.refused += 1
            raise


def telegram_limits() -> CountingLimits:
    """Telegram's sending limits as the emulator enforces them in this benchmark, 429s counted.

    A private chat: 4 messages in any second (a burst; bot/sending.py paces one a second after a
    burst of 4, which stays within it); a group or channel: 20 a minute; messages the bot sends
    on its own (bulk): 30 a second over all chats. No overall cap: replies to people's own actions
    have none at Telegram.
    """
    return CountingLimits(per_chat=RateLimit(4, 1.0), per_group=RateLimit(20, 60.0), bulk=RateLimit(30, 1.0))


@dataclass(frozen=True)
class Plan:
    """Who arrives when and how long they think: the crowd of one run."""

    respondents: int
    minutes: float
    think: tuple[float, float]
    latency: float
    seed: int = 2026

    def arrivals(self) -> list[float]:
        """Seconds after the start at which each respondent arrives: half in the first minute."""
        rng = random.Random(self.seed)
        window = self.minutes * 60
        first = min(FIRST_MINUTE, window)
        early = self.respondents // 2 if window > first else self.respondents
        late = self.respondents - early
        return sorted(
            [rng.uniform(0, first) for _ in range(early)] + [rng.uniform(first, window) for _ in range(late)]
        )


@dataclass
class Sample:
    """One reading during a run: seconds since the start, the bots' CPU seconds, the load average."""

    at: float
    cpu: float
    load: float


@dataclass
class PeakRun:
    """What one configuration did with the crowd."""

    name: str
    bot: str
    processes: int
    plan: Plan
    arrivals: list[float]
    replies: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the start when the reply came, seconds the reply took) per action."""
    completed: int = 0
    failures: list[str] = field(default_factory=list)
    chat_calls: Counter[int] = field(default_factory=Counter)
    """Chat-carrying Bot API calls per second since the start."""
    refused: int = 0
    cpu: float = 0.0
    harness_cpu: float = 0.0
    """CPU seconds of this process (the emulator and the crowd) over the run."""
    samples: list[Sample] = field(default_factory=list)

    @property
    def answers(self) -> int:
        return len(self.replies)

    @property
    def seconds(self) -> float:
        return max((at for at, _took in self.replies), default=0.0) - min(self.arrivals, default=0.0)

    @property
    def rate(self) -> float:
        return self.answers / max(self.seconds, 1e-9)

    @property
    def busiest(self) -> float:
        """The most answers in any BUSIEST seconds (whole seconds since the start), per second."""
        per_second = Counter(int(at) for at, _took in self.replies)
        last = max(per_second, default=0)
        sums = [sum(per_second[s] for s in range(start, start + BUSIEST)) for start in range(last + 1)]
        return max(sums, default=0) / BUSIEST

    def reply_ms(self, p: float) -> float:
        return percentile([took for _at, took in self.replies], p) * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu / max(self.answers, 1) * 1000

    @property
    def harness_ms(self) -> float:
        return self.harness_cpu / max(self.answers, 1) * 1000

    @property
    def ceiling(self) -> float:
        """Answers/s the bot's CPU per answer allows with a whole core for each process."""
        return self.processes * 1000 / self.cpu_ms if self.cpu_ms else 0.0

    @property
    def calls_per_answer(self) -> float:
        return sum(self.chat_calls.values()) / max(self.answers, 1)

    @property
    def peak_calls(self) -> int:
        return max(self.chat_calls.values(), default=0)

    @property
    def load(self) -> float:
        return max((sample.load for sample in self.samples), default=os.getloadavg()[0])

    def row(self) -> str:
        return (
            f"| {self.name} | {self.bot} | {self.plan.respondents} | {self.completed} | {self.answers} "
            f"| {self.rate:.1f} | {self.busiest:.1f} | {self.reply_ms(0.5):.0f} | {self.reply_ms(0.95):.0f} "
            f"| {self.reply_ms(0.99):.0f} | {self.cpu_ms:.1f} | {self.ceiling:.0f} | {self.harness_ms:.1f} "
            f"| {self.calls_per_answer:.2f} | {self.peak_calls} | {self.refused} | {self.load:.1f} |"
        )

    def timeline(self) -> str:
        """Minute by minute: arrivals, answers, replies, the bots' CPU and the load average."""
        lines = [
            f"{self.name}, {self.bot}:",
            "",
            "| minute | arrived | answers | answers/s | reply p50 ms | p99 ms | bot CPU % of a core | load |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        last = max([at for at, _took in self.replies] + [sample.at for sample in self.samples], default=0.0)
        minutes = int(last // 60) + 1
        for minute in range(minutes):
            low, high = minute * 60, (minute + 1) * 60
            took = [took for at, took in self.replies if low <= at < high]
            inside = [sample for sample in self.samples if low <= sample.at < high]
            cpu = (
                (inside[-1].cpu - inside[0].cpu) / max(inside[-1].at - inside[0].at, 1e-9) if inside else 0.0
            )
            load = max((sample.load for sample in inside), default=0.0)
            arrived = sum(low <= at < high for at in self.arrivals)
            lines.append(
                f"| {minute + 1} | {arrived} | {len(took)} | {len(took) / 60:.1f} "
                f"| {percentile(took, 0.5) * 1000:.0f} | {percentile(took, 0.99) * 1000:.0f} "
                f"| {cpu * 100:.0f} | {load:.1f} |"
            )
        return "\n".join(lines)


TABLE_HEAD = (
    "| configuration | bot | respondents | completed | answers | answers/s | busiest 10 s: answers/s "
    "| reply p50 ms | p95 ms | p99 ms | bot CPU ms/answer | 1-core ceiling answers/s "
    "| emulator and crowd CPU ms/answer | chat calls/answer "
    "| peak chat calls/s | 429s | max load |\n"
    f"| --- | --- {'| ---: ' * 15}|"
)


async def crowd(box: Sandbox, run: PeakRun, script: Sequence[tuple[str, str]]) -> None:
    """Every respondent of the plan arrives on time, thinks, acts and waits; the run records it all."""
    loop = asyncio.get_running_loop()
    started = loop.time()

    def count(call: ApiCall) -> None:
        if call.method in CHAT_METHODS:
            run.chat_calls[int(loop.time() - started)] += 1

    async def respondent(number: int, arrival: float) -> None:
        pace = random.Random(f"{run.plan.seed}-{number}")
        await asyncio.sleep(max(0.0, started + arrival - loop.time()))
        user_id = await box.client.new_user("ru")
        for index, (kind, text) in enumerate(script):
            if index:
                await asyncio.sleep(pace.uniform(*run.plan.think))
            sent = loop.time()
            try:
                await act(box.client, user_id, kind, text)
            except NoReply as exc:
                run.failures.append(str(exc))
                return
            replied = loop.time()
            run.replies.append((replied - started, replied - sent))
        run.completed += 1

    async def sample() -> None:
        while True:
            at = loop.time() - started
            run.samples.append(Sample(at, sum(cpu_seconds(bot.pid) for bot in box.bots), os.getloadavg()[0]))
            if len(run.samples) % PROGRESS_EVERY == 0:
                recent = [took for replied, took in run.replies if replied > at - PROGRESS_EVERY]
                print(
                    f"  {at:4.0f} s: {sum(a <= at for a in run.arrivals)} arrived, {run.completed} done, "
                    f"{len(recent) / PROGRESS_EVERY:.1f} answers/s, p99 {percentile(recent, 0.99):.2f} s, "
                    f"load {os.getloadavg()[0]:.1f}",
                    file=sys.stderr,
                )
            await asyncio.sleep(SAMPLE_EVERY)

    box.emulator.listeners.append(count)
    sampler = asyncio.create_task(sample())
    before, harness = sum(cpu_seconds(bot.pid) for bot in box.bots), cpu_seconds(os.getpid())
    try:
        await asyncio.gather(*(respondent(n, arrival) for n, arrival in enumerate(run.arrivals)))
    finally:
        run.cpu = sum(cpu_seconds(bot.pid) for bot in box.bots) - before
        run.harness_cpu = cpu_seconds(os.getpid()) - harness
        sampler.cancel()
        box.emulator.listeners.remove(count)


def bot_command(hash_cost: int | None) -> tuple[str, ...]:
    """`python -m bot run`, or (what-if) the same with the participation hash's scrypt at cost n."""
    return BOT_COMMAND if hash_cost is None else ("-c", CHEAP_HASH.format(n=hash_cost), "run")


async def measure(
    folder: Path, name: str, bot: str, database_url: str, plan: Plan, replicas: int, hash_cost: int | None
) -> PeakRun:
    """One configuration: the bot process(es) up, Telegram's limits on, one warm-up survey, the crowd."""
    survey = bot == "survey"
    command = bot_command(hash_cost) if survey else NOOP_COMMAND
    script = survey_script() if survey else noop_script()
    log_name = f"{'-'.join(word.strip(',():') for word in name.split())}-{bot}.log"
    connections = plan.respondents + 10
    async with sandbox(
        folder, database_url, command=command, log_name=log_name, connections=connections, replicas=replicas
    ) as box:
        box.server.latency = plan.latency
        user_id = await box.client.new_user("ru")
        for kind, text in script:  # the warm-up acts without thinking: the no-op bot would flood
            await act(box.client, user_id, kind, text)
        limits = telegram_limits()
        box.emulator.limits = limits
        run = PeakRun(name, bot, replicas, plan, plan.arrivals())
        await crowd(box, run, script)
        run.refused = limits.refused
    return run


def configurations(databases: Sequence[str], replicas: Sequence[int]) -> list[tuple[str, int]]:
    """(database, processes) to run: each database with one process, PostgreSQL with more."""
    return [(kind, n) for kind in databases for n in replicas if n == 1 or kind == "postgresql"]


def label(kind: str, processes: int) -> str:
    return f"{kind}, {'one process (polling)' if processes == 1 else f'{processes} webhook replicas'}"


def ratios(runs: list[PeakRun]) -> list[str]:
    """Each survey-bot run against the no-op bot run with as many processes."""
    noop = {run.processes: run for run in runs if run.bot == "no-op"}
    lines = []
    for run in runs:
        ceiling = noop.get(run.processes)
        if run.bot == "survey" and ceiling is not None and run.cpu_ms:
            lines.append(
                f"- {run.name}: ratio {ceiling.cpu_ms / run.cpu_ms:.2f} (no-op {ceiling.cpu_ms:.1f} ms "
                f"of CPU per answer / bot {run.cpu_ms:.1f} ms); busiest 10 s {run.busiest:.1f} answers/s "
                f"against the no-op's {ceiling.busiest:.1f}; p99 {run.reply_ms(0.99):.0f} ms against "
                f"{ceiling.reply_ms(0.99):.0f} ms"
            )
    return lines


async def main(args: argparse.Namespace) -> None:
    plan = Plan(
        args.respondents, args.minutes, (args.think[0], args.think[1]), args.latency_ms / 1000, args.seed
    )
    folder = Path(tempfile.mkdtemp(prefix="launch-peak-"))
    print(
        f"{plan.respondents} respondents over {plan.minutes:g} min, thinking {plan.think[0]:g}-"
        f"{plan.think[1]:g} s, {args.latency_ms:g} ms per Bot API call; logs and SQLite files in {folder}",
        file=sys.stderr,
    )
    runs: list[PeakRun] = []
    for kind, processes in configurations(args.databases, args.replicas):
        name = label(kind, processes)
        if args.participant_hash_n is not None:
            name += f", what-if: scrypt n={args.participant_hash_n}"
        print(f"survey bot on {name}...", file=sys.stderr)
        async with database(kind, folder) as url:
            runs.append(await measure(folder, name, "survey", url, plan, processes, args.participant_hash_n))
    if not args.no_noop:
        for processes in sorted({n for _kind, n in configurations(args.databases, args.replicas)}):
            name = label("no database", processes)
            print(f"no-op bot, {name}...", file=sys.stderr)
            unused = "sqlite+aiosqlite:///unused"
            runs.append(await measure(folder, name, "no-op", unused, plan, processes, None))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"\nLaunch peak, {started}: {plan.respondents} respondents over {plan.minutes:g} min\n")
    print(TABLE_HEAD)
    print("\n".join(run.row() for run in runs))
    if lines := ratios(runs):
        print("\n" + "\n".join(lines))
    for run in runs:
        print(f"\n{run.timeline()}")
    reasons = Counter(reason for run in runs for reason in run.failures)
    for reason, count in reasons.most_common():
        print(f"broken off {count}x: {reason}", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--respondents", type=int, default=2000, help="people arriving (2000)")
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="arrival window; half arrive in its first minute"
    )
    parser.add_argument(
        "--think", type=float, nargs=2, default=[3.0, 15.0], metavar=("MIN", "MAX"), help="seconds per screen"
    )
    parser.add_argument("--latency-ms", type=float, default=60.0, help="added to every Bot API call (60)")
    parser.add_argument(
        "--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--replicas",
        type=int,
        nargs="+",
        default=[1, 2],
        help="processes: 1 polls; more serve one webhook URL",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-noop", action="store_true", help="leave out the no-op bot's runs")
    parser.add_argument(
        "--participant-hash-n",
        type=int,
        help="what-if: run the bot with the participation hash's scrypt at this cost n (the bot's: 2**15)",
    )
    asyncio.run(main(parser.parse_args()))
