"""The two ways tests store synthetic responses agree, row for row."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import table_rows
from tests.dataset import DATASET, seed_bulk, seed_through_repo


def _comparable(rows: dict[str, list[tuple[object, ...]]]) -> dict[str, list[tuple[object, ...]]]:
    """Rows without the keys each way generates itself (ids, response UUIDs)."""
    keep = {
        "respondents": lambda r: r[1:],
        "responses": lambda r: r[2:],
        "answers": lambda r: r[1:],
        "answer_choices": lambda r: r[1:],
    }
    return {table: sorted(map(keep[table], rows[table]), key=repr) for table in keep}


async def test_bulk_seeding_stores_what_the_repository_stores(engine: AsyncEngine, database_url: str) -> None:
    await seed_through_repo(engine)
    through_repo = _comparable(await table_rows(engine))
    async with engine.begin() as connection:
        for table in ("answer_choices", "answers", "responses", "respondents"):
            await connection.exec_driver_sql(f"DELETE FROM {table}")
    await seed_bulk(engine, DATASET)
    assert _comparable(await table_rows(engine)) == through_repo
