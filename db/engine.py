"""The async engine and session factory, with SQLite tuned for a busy bot."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000
AUTOCOMMIT = "AUTOCOMMIT"
"""The isolation level of autocommit(): one statement, one transaction of its own."""
SQLITE_POOL_SIZE = 15
"""SQLite connections kept open: as many as the default pool allows at most (5 + 10 overflow), none
closed on return; opening an aiosqlite connection starts a thread, and the event loop waits for it."""
POOL_SIZE = 20
"""PostgreSQL connections kept open. A crowd's answers need a few at once, and a burst more; past the
default 5 each extra connection was opened for one transaction and closed after it (0.5 ms of the
bot's CPU and a server process started each time)."""
READ_ONLY = "survey_read_only"
"""Execution option of the engine behind read_session_factory(): its transactions only read."""


def _tune_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, write transactions that take the lock up front, and
    deleted content overwritten with zeros (secure_delete) rather than left in free space."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock at BEGIN, so two transactions never both read a
        # respondent's position and then race to write it: the second waits (busy_timeout).
        # A read-only transaction begins DEFERRED: in WAL mode it reads a snapshot without the
        # write lock, so a long report or export never holds an answer back. An AUTOCOMMIT
        # connection runs single statements, each atomic on its own: no BEGIN.
        options = connection.get_execution_options()
        if options.get("isolation_level") != AUTOCOMMIT:
            connection.exec_driver_sql("BEGIN" if options.get(READ_ONLY, False) else "BEGIN IMMEDIATE")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the engine for `url`; a SQLite file's folder is created when missing.

    Statement parameters (answer texts among them) are kept out of error messages, and so of logs.
    """
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
            kwargs.setdefault("max_overflow", 0)
        engine = create_async_engine(url, **kwargs)
        _tune_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", POOL_SIZE)
    return create_async_engine(url, **kwargs)


async def wipe_deleted(engine: AsyncEngine) -> None:
    """After an erase: on SQLite, copy the WAL into the database file and truncate it to nothing.

    With secure_delete the database file then holds zeros where the erased rows were, and the
    WAL no longer holds their earlier versions. PostgreSQL keeps WAL and backups as its operator
    configures them (docs/privacy.md); nothing is done there.
    """
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        # The driver's own connection: SQLAlchemy would wrap the PRAGMA in a transaction (see "begin").
        driver = raw.driver_connection
        assert driver is not None, "a connection checked out of the pool has its driver's connection"
        cursor = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await cursor.close()


@asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[None]:
    """Wait for this process's turn to write: on SQLite, one writer at a time, first come first served.

    SQLite has one writer; a transaction waiting for the write lock sleeps and polls (busy_timeout),
    so under load one answer can lose the lock to later ones again and again (a 2 s tail measured by
    tests/test_loop_lag.py). An asyncio.Lock hands itself over in arrival order, so the process's
    own writers queue fairly and only another process's writer is polled for. PostgreSQL locks rows:
    no wait here.
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    lock = _WRITE_TURNS.get(engine.sync_engine)
    if lock is None:
        lock = _WRITE_TURNS[engine.sync_engine] = asyncio.Lock()
    async with lock:
        yield


_WRITE_TURNS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()
"""The SQLite engines' queues of writers (writing())."""


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose every statement commits by itself (no BEGIN, no COMMIT round trip)."""
    async with writing(engine), engine.connect() as connection:
        yield await connection.execution_options(isolation_level=AUTOCOMMIT)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """One AsyncSession per update or job; the caller owns the transaction."""
    return async_sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose transactions only read (reports, the digest's figures, exports).

    On SQLite they begin without the write lock (a write in one would fail, not wait); on
    PostgreSQL they are ordinary sessions, readers never block writers there.
    """
    return async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


@asynccontextmanager
async def one_session(url: str) -> AsyncIterator[AsyncSession]:
    """One session on an engine of its own for `url`, disposed of afterwards: for a one-off check."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()
