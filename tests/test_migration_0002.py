"""Migration 0002 fills the analysis columns of responses that existed before it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from db.engine import create_engine
from db.migrate import alembic_config
from tests.conftest import PG_ADMIN_URL, _pg_admin

RESPONSE = uuid.UUID("0b7e9c1e-6d57-4a59-9d1e-2d0f3c1a9b11")
ANSWERS = [("age", None, 64), ("gender", "male", None), ("city", "pavlodar", None), ("stance", "skip", None)]


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A new, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
        return
    name = f"survey_test_{uuid.uuid4().hex[:12]}"
    try:
        await _pg_admin(f'CREATE DATABASE "{name}"')
    except (TimeoutError, OSError) as exc:
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _upgrade(connection: object, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_upgrade_copies_existing_answers(empty_url: str) -> None:
    """A response answered under revision 0001 has its columns and duration after the upgrade."""
    engine = create_engine(empty_url)
    key = RESPONSE.hex if empty_url.startswith("sqlite") else str(RESPONSE)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, "0001")
            await connection.execute(
                text(
                    "INSERT INTO respondents (id, pseudonym, language, consented_at, created_at) "
                    "VALUES (1, 'p', 'kk', '2026-03-01 10:00:00', '2026-03-01 10:00:00')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO responses (id, respondent_id, questionnaire_version, language, status, "
                    "started_at, completed_at, option_order, step, pending) VALUES (:id, 1, 1, 'kk', "
                    "'complete', '2026-03-01 10:00:00', '2026-03-01 10:02:30', '{}', 9, '{}')"
                ),
                {"id": key},
            )
            for question, option, number in ANSWERS:
                await connection.execute(
                    text(
                        "INSERT INTO answers (response_id, question, option, number, answered_at) "
                        "VALUES (:id, :question, :option, :number, '2026-03-01 10:01:00')"
                    ),
                    {"id": key, "question": question, "option": option, "number": number},
                )
            await connection.run_sync(_upgrade, "head")
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT age_band, gender, city, main_source, stance, neutrality, duration_seconds "
                        "FROM responses"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    assert tuple(row) == ("55+", "male", "pavlodar", None, "skip", None, 150)
