"""Migration 0022a keeps only a count of the people screened out before it, nothing tied to them."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from db.engine import create_engine
from tests.test_migration_0002 import _upgrade, empty_url

__all__ = ["empty_url"]  # the fixture, for pytest


async def test_screened_out_people_become_a_tally(empty_url: str) -> None:
    engine = create_engine(empty_url)
    sqlite = empty_url.startswith("sqlite")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, "0003")
            for number, status in ((1, "screened_out"), (2, "complete"), (3, "screened_out")):
                await connection.execute(
                    text(
                        "INSERT INTO respondents (id, pseudonym, language, consented_at, created_at) "
                        "VALUES (:n, :pseudonym, 'kk', '2026-03-01 10:00:00', '2026-03-01 10:00:00')"
                    ),
                    {"n": number, "pseudonym": f"person-{number}"},
                )
                response = uuid.uuid4()
                await connection.execute(
                    text(
                        "INSERT INTO responses (id, respondent_id, questionnaire_version, language, status, "
                        "started_at, option_order, step, pending) VALUES (:id, :n, 1, 'kk', :status, "
                        "'2026-03-01 10:00:00', '{}', 1, '{}')"
                    ),
                    {"id": response.hex if sqlite else str(response), "n": number, "status": status},
                )
            await connection.run_sync(_upgrade, "0022a")
        async with engine.connect() as connection:
            tallies = (await connection.execute(text("SELECT name, count FROM tallies"))).all()
            people = (await connection.execute(text("SELECT pseudonym FROM respondents"))).scalars().all()
            statuses = (await connection.execute(text("SELECT status FROM responses"))).scalars().all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in tallies] == [("screened_out", 2)]
    assert (people, statuses) == (["person-2"], ["complete"])
