"""Bring a database to the head revision with Alembic, from inside the running program."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
PG_MIGRATION_LOCK = 0x5375_7276  # any fixed key: replicas starting together migrate one at a time


class UnknownRevisionError(Exception):
    """The database is at a revision this code does not know (it is newer than the code)."""

    def __init__(self, revision: str) -> None:
        super().__init__(
            f"database is at revision {revision!r}, which this version of the bot does not know; "
            "run a newer version or restore a matching backup"
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
