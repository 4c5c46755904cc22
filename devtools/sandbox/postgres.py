"""PostgreSQL for benchmarks and fault runs: a throwaway database, or a private server to restart.

A throwaway database lives on an existing server (the test server at 127.0.0.1:5432 by default)
and is dropped afterwards. A private server is a PostgreSQL of our own (initdb in a temporary
folder, on a free port of 127.0.0.1), so that a fault run can stop and restart it without
disturbing anybody else's connections to the shared server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from devtools.sandbox.process import free_port

SERVER_USER = "postgres"
"""The account a private server runs as when this program runs as root (PostgreSQL refuses root)."""
INSTALLED = Path("/usr/lib/postgresql")
"""Debian's folder of PostgreSQL versions, each with a bin/ of server programs."""
START_TIMEOUT = 60


class PostgresUnavailable(Exception):
    """No PostgreSQL server programs (initdb, pg_ctl) were found."""

    def __init__(self, where: str) -> None:
        super().__init__(f"no initdb and pg_ctl in {where} (set PG_BIN to their folder)")


def asyncpg_url(url: str) -> str:
    """The SQLAlchemy URL of a postgresql:// URL."""
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


@asynccontextmanager
async def fresh_database(kind: str, folder: Path, admin_url: str, name: str) -> AsyncIterator[str]:
    """A new SQLite file `name`.sqlite3 in `folder`, or a throwaway database on `admin_url`'s server."""
    if kind == "postgresql":
        async with throwaway_database(admin_url, name) as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{folder / f'{name}.sqlite3'}"


@asynccontextmanager
async def throwaway_database(admin_url: str, prefix: str = "survey_run") -> AsyncIterator[str]:
    """A new database on the server of `admin_url` (postgresql://...); its SQLAlchemy URL; dropped after."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield asyncpg_url(admin_url.rsplit("/", 1)[0] + f"/{name}")
    finally:
        admin = await asyncpg.connect(admin_url, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def server_programs() -> Path:
    """The folder of initdb and pg_ctl: PG_BIN, else the newest /usr/lib/postgresql/VERSION/bin."""
    if os.environ.get("PG_BIN"):
        folders = [Path(os.environ["PG_BIN"])]
    else:
        folders = sorted(INSTALLED.glob("*/bin"), key=lambda p: float(p.parent.name), reverse=True)
    for folder in folders:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise PostgresUnavailable(os.environ.get("PG_BIN") or f"{INSTALLED}/*/bin")


class PrivateServer:
    """A PostgreSQL server of our own in `folder`, listening on 127.0.0.1 only, at a free port."""

    def __init__(self, folder: Path) -> None:
        self.programs = server_programs()
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "server.log"
        self.port = free_port()

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.programs / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT)

    def create(self) -> None:
        """initdb: trust authentication for local connections, no fsync (it is thrown away)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, SERVER_USER)
        self._run("initdb", "-D", str(self.data), "-U", SERVER_USER, "-A", "trust", "-N", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        """A fast shutdown: open transactions are aborted and every connection is closed."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self, down: float) -> None:
        """Stop, stay down for `down` seconds, start again."""
        self.stop()
        time.sleep(down)
        self.start()

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def private_server() -> Iterator[PrivateServer]:
    """A started private server, stopped and deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="survey-pg-") as folder:
        server = PrivateServer(Path(folder))
        server.create()
        server.start()
        try:
            yield server
        finally:
            if server.running:
                server.stop()
