"""Fault runs with their figures: the survey bot keeps every acknowledged answer when things go wrong.

    .venv/bin/python bench/faults.py kill [--respondents 200] [--database sqlite|postgresql] [--kills N]
    .venv/bin/python bench/faults.py postgres-restart [--respondents 200] [--server private|shared]
    .venv/bin/python bench/faults.py sqlite-lock [--respondents 200]
    .venv/bin/python bench/faults.py replicas [--respondents 200]
    .venv/bin/python bench/faults.py all            # the four above, one after another

Each run starts the real bot (`python -m bot run`) on the local Bot API emulator, lets a crowd
of simulated respondents take the survey over HTTP (each taking 5 to 15 s per screen, as people
do), does harm meanwhile, and checks the database against what the crowd did
(devtools/sandbox/faults.py):

- kill: SIGKILL the bot process every 5 to 15 s (at random) and start it again (until the crowd
  is done, or `--kills N` times); the crowd waits 20 s for a reply, then sends /start and goes on
  from whatever the bot shows.
- postgres-restart: stop the PostgreSQL server for 3 s, twice, while the same bot process keeps
  running. `--server private` (the default) runs a PostgreSQL server of its own (initdb in a
  temporary folder, on a free port); `--server shared` restarts this machine's cluster with
  `pg_ctlcluster --skip-systemctl-redirect VERSION main stop/start` (root only), which cuts
  every other connection to it too.
- sqlite-lock: another connection takes SQLite's write lock for 3 s, every second, during the
  run; the crowd gives no second chance (a single error or silence would show).
- replicas: two bot processes behind one webhook URL (the emulator delivers each person's
  updates to them in turn) on one PostgreSQL database, with the same digest channel and a
  digest that falls due a minute into the run; every respondent completes the survey.

"lost" counts answers the bot acknowledged (it showed the next screen) that the database does
not hold as given; "doubled" counts rows stored more than once; "dead ends" counts presses of
the question the database has on turn that the bot answered "already answered", and answers
not taken again and again until the respondent sent /start. The exit status is 0 when every
run kept every acknowledged answer, once, every respondent got through, and none met a dead end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.sandbox.faults import (  # noqa: E402
    FaultRun,
    RestartableServer,
    SharedServer,
    kill_run,
    postgres_restart_run,
    replicas_run,
    sqlite_lock_run,
)
from devtools.sandbox.postgres import fresh_database, private_server, throwaway_database  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
database = partial(fresh_database, admin_url=PG_ADMIN_URL, name="survey_faults")
"""database(kind, folder): a fresh SQLite file in folder, or a throwaway PostgreSQL database."""
RUNS = ("kill", "postgres-restart", "sqlite-lock", "replicas")


async def postgres_restart(folder: Path, args: argparse.Namespace) -> FaultRun:
    """The restart run on a private server, or on this machine's cluster (`--server shared`)."""
    with contextlib.ExitStack() as stack:
        if args.server == "shared":
            version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
            server: RestartableServer = SharedServer(PG_ADMIN_URL, version)
        else:
            server = stack.enter_context(private_server())
        async with throwaway_database(server.admin_url, "survey_faults") as url:
            size = args.respondents
            return await postgres_restart_run(folder, server, url, size, restarts=2, progress=True)


async def one(run: str, folder: Path, args: argparse.Namespace) -> FaultRun:
    print(f"{run}: {args.respondents} respondents...", file=sys.stderr)
    if run == "kill":
        async with database(args.database, folder) as url:
            return await kill_run(folder, url, args.respondents, kills=args.kills, progress=True)
    if run == "postgres-restart":
        return await postgres_restart(folder, args)
    if run == "sqlite-lock":
        async with database("sqlite", folder) as url:
            return await sqlite_lock_run(folder, url, args.respondents, progress=True)
    async with database("postgresql", folder) as url:
        return await replicas_run(folder, url, args.respondents, progress=True)


async def main(args: argparse.Namespace) -> int:
    runs = RUNS if args.run == "all" else (args.run,)
    ok = True
    for run in runs:
        with tempfile.TemporaryDirectory(prefix="survey-faults-") as tmp:
            result = await one(run, Path(tmp), args)
        print(result.report(), flush=True)
        ok = ok and result.ok
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", choices=[*RUNS, "all"])
    parser.add_argument("--respondents", type=int, default=200)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite", help="for kill")
    parser.add_argument("--kills", type=int, default=None, help="for kill: stop killing after this many")
    parser.add_argument(
        "--server", choices=["private", "shared"], default="private", help="for postgres-restart"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
