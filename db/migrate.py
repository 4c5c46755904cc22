"""Bring a database to the head revision with Alembic, from inside the running program."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import column, inspect, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"
PG_MIGRATION_LOCK = 0x5375_7276  # any fixed key: replicas starting together migrate one at a time


class UnknownRevisionError(Exception):
    """The database is at a revision this code does not know (it is newer than the code)."""

    def __init__(self, revision: str) -> None:
        super().__init__(
            f"database is at revision {revision!r}, which this version of the bot does not know; "
            "run a newer version or restore a matching backup"
        )


class RevisionMismatchError(Exception):
    """The database is not at the code's revision, and the command at hand does not migrate."""

    def __init__(self, found: str | None, expected: str) -> None:
        super().__init__(
            f"the database is at revision {found or 'none (no schema)'}, this version of the bot reads "
            f"revision {expected}; run `python -m bot migrate` first (this command changes nothing)"
        )


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config for the project's migrations folder."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["skip_logging_config"] = True
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision in migrations/."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "migrations/ has no revision"
    return head


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _recorded(connection: Connection) -> str | None:
    """The revision the database records, read without Alembic's migration context (which logs)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(select(column("version_num")).select_from(table(VERSION_TABLE))).scalar()


def _upgrade(connection: Connection) -> tuple[str | None, str]:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
    before = _current(connection)
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head() or ""
    if before is not None and script.get_revision(before) is None:
        raise UnknownRevisionError(before)
    if before != head:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return before, head


async def require_head(engine: AsyncEngine) -> str:
    """The head revision if the database is at it; RevisionMismatchError otherwise. Changes nothing."""
    async with engine.connect() as connection:
        found = await connection.run_sync(_recorded)
    head = head_revision()
    if found != head:
        raise RevisionMismatchError(found, head)
    return head


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Upgrade the database to head (a fresh one is created), logging what was done."""
    async with engine.begin() as connection:
        before, head = await connection.run_sync(_upgrade)
    if before == head:
        log.info("schema_up_to_date", extra={"revision": head})
    elif before is None:
        log.info("schema_created", extra={"revision": head})
    else:
        log.info("schema_upgraded", extra={"from_revision": before, "revision": head})
