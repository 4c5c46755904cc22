"""Other respondents' reply times while one account floods the bot with 1,000 messages.

    .venv/bin/python bench/fairness.py                       # polling and webhook, SQLite and PostgreSQL
    .venv/bin/python bench/fairness.py --databases sqlite --modes polling --respondents 5

The real bot runs as a separate process (`python -m bot run`, Telegram's sending paces) against the
emulator, in polling mode and in webhook mode, with the emulator holding each private chat to
about one message a second as Telegram does. One account sends /start, then 1,000 messages at once
(devtools/sandbox/flood.py); meanwhile `--respondents` others take the whole survey, thinking
about 0.3 s per screen; every one of their actions is timed from sending it to the bot's reply.
The same run without the flood is the baseline. The table gives p50, p90, p99 and the largest of
those reply times (ms), how many of the flood's messages the bot handled (in polling mode once the
flooder's chat has been quiet for 3 s, the rest dropped; in webhook mode when the respondents are
done, the rest still waiting at Telegram, which sends a chat's next update once the last is
answered), and the "please wait" notices the flooder got.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.handlers import PLEASE_WAIT  # noqa: E402
from core.i18n import I18n  # noqa: E402
from devtools.sandbox.flood import FLOOD, PRIVATE_CHAT_LIMIT, FloodRun, flood_while_surveyed, handled  # noqa: E402
from devtools.sandbox.postgres import fresh_database  # noqa: E402
from devtools.sandbox.process import sandbox  # noqa: E402
from devtools.sandbox.screens import Reader  # noqa: E402
from survey.model import load_questionnaire  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
database = partial(fresh_database, admin_url=PG_ADMIN_URL, name="survey_fairness")
QUIET = 3.0
"""Seconds without a new message in the flooder's chat after which its backlog is taken as done."""


async def one_run(
    folder: Path, kind: str, webhook: bool, messages: int, respondents: int, reader: Reader
) -> tuple[FloodRun, int, int]:
    """The run in a fresh database and bot process; with the flood's handled messages and notices."""
    async with database(kind, folder) as url:
        async with sandbox(folder, url, webhook=webhook, log_name=f"fairness-{kind}.log") as box:
            box.server.emulator.limits.per_chat = PRIVATE_CHAT_LIMIT
            run = await flood_while_surveyed(box.server, reader, messages, respondents)
            if not webhook:  # let the bot finish the flood's backlog (paced: about one reply a second)
                await box.client.settle(run.flooder, after=-1, first=0, quiet=QUIET)
            chat = [m.plain_text for m in box.emulator.bot_messages(run.flooder)]
        count = await handled(url, run.flood) if run.flood else 0
    return run, count, chat.count(reader.i18n.translator("ru")(PLEASE_WAIT))


async def main(args: argparse.Namespace) -> None:
    reader = Reader(I18n.load(), load_questionnaire())
    print(
        "| mode | database | flood | respondents' actions | p50 ms | p90 ms | p99 ms | max ms "
        "| flood handled | please wait | surveys not completed |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="survey-fairness-") as tmp:
        for mode in args.modes:
            for kind in args.databases:
                for messages in (0, args.flood):
                    print(f"{mode}, {kind}, flood of {messages}...", file=sys.stderr)
                    folder = Path(tmp) / f"{mode}-{kind}-{messages}"  # a fresh SQLite file each run
                    run, count, notices = await one_run(
                        folder, kind, mode == "webhook", messages, args.respondents, reader
                    )
                    unfinished = sum(outcome.status != "complete" for outcome in run.outcomes)
                    times = " | ".join(f"{run.percentile(p):.0f}" for p in (0.5, 0.9, 0.99, 1.0))
                    print(
                        f"| {mode} | {kind} | {messages} | {len(run.reply_times)} | {times} | {count} "
                        f"| {notices} | {unfinished} |",
                        flush=True,
                    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--modes", nargs="+", choices=["polling", "webhook"], default=["polling", "webhook"])
    parser.add_argument(
        "--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument("--respondents", type=int, default=5, help="others taking the survey meanwhile")
    parser.add_argument("--flood", type=int, default=FLOOD, help="messages the flooding account sends")
    asyncio.run(main(parser.parse_args()))
