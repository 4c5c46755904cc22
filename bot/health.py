"""Health check for the container: the database answers and its schema is the code's."""

from __future__ import annotations

from sqlalchemy import text

from core.config import Settings
from db.engine import create_engine
from db.migrate import head_revision


class UnhealthyError(Exception):
    """The bot cannot do its work; the message says why."""


async def check(settings: Settings) -> str:
    """The schema revision when all is well; raises UnhealthyError otherwise."""
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            revision = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception as exc:  # any failure to read is "unhealthy", with its reason
        raise UnhealthyError(f"database unreachable: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    finally:
        await engine.dispose()
    if revision != head_revision():
        raise UnhealthyError(f"database schema at revision {revision!r}, expected {head_revision()!r}")
    return revision
