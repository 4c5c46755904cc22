"""SPSS .sav and Stata .dta as researchers expect them: labels, declared missing values, scale variables."""

from __future__ import annotations

import math
from pathlib import Path

import pyreadstat
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.i18n import I18n
from db.engine import session_factory
from db.models import ResponseStatus
from research.export import REFUSED, collect, write_dta, write_sav
from research.labels import Labels
from survey.model import load_questionnaire
from tests.dataset import Person, seed

LONG = "😀" * 1000
PEOPLE = [
    Person(age=34, stance="ukraine"),
    Person(age=61, stance="skip"),  # prefers not to say: declared missing
    Person(age=45, stance="russia"),
    Person(age=29, stance="peace", status=ResponseStatus.IN_PROGRESS),  # no comment yet: unanswered
]


async def _table(engine: AsyncEngine):  # type: ignore[no-untyped-def]
    await seed(engine, PEOPLE)
    async with engine.begin() as connection:  # the 61-year-old also skipped the comment
        await connection.execute(
            text(
                "UPDATE answers SET option = 'skip', text = NULL WHERE question = 'comment' AND response_id IN "
                "(SELECT response_id FROM answers WHERE question = 'age' AND number = 61)"
            )
        )
        await connection.execute(  # the longest comment there can be, four bytes a character
            text(
                "UPDATE answers SET text = :long WHERE question = 'comment' AND response_id IN "
                "(SELECT response_id FROM answers WHERE question = 'age' AND number = 34)"
            ),
            {"long": LONG},
        )
    labels = Labels(I18n.load().translator("ru"), load_questionnaire())
    return labels, await collect(session_factory(engine), labels)


def _by_age(frame) -> dict[int, dict]:  # type: ignore[no-untyped-def]
    return {int(row["age"]): row for row in frame.to_dict("records")}


async def _written(engine: AsyncEngine, path: Path, write, read):  # type: ignore[no-untyped-def]
    """Write the crafted dataset with `write`, read it back with user-missing values kept."""
    labels, table = await _table(engine)
    write(table, path)
    frame, meta = read(str(path), user_missing=True)
    return labels, _by_age(frame), meta


async def test_sav_declares_prefer_not_to_answer_missing_and_keeps_no_answer_system_missing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """In the .sav: skip is 99, user-missing; unanswered is system-missing; a skipped text is "skip", missing."""
    path = tmp_path / "data.sav"
    labels, rows, meta = await _written(engine, path, write_sav, pyreadstat.read_sav)
    assert rows[34]["stance"] == 2 and rows[45]["stance"] == 1  # ukraine, russia in questionnaire order
    assert rows[61]["stance"] == REFUSED
    assert math.isnan(rows[29]["neutrality"])  # not reached: system-missing, not a category
    assert meta.missing_ranges["stance"] == [{"lo": REFUSED, "hi": REFUSED}]
    assert meta.variable_value_labels["stance"][REFUSED] == labels._("Prefer not to answer")
    assert rows[61]["comment"] == "skip" and rows[29]["comment"] == "" and rows[34]["comment"] != "skip"
    assert meta.missing_ranges["comment"] == [{"lo": "skip", "hi": "skip"}]
    assert meta.variable_measure["age"] == "scale" and meta.variable_measure["duration_seconds"] == "scale"
    assert meta.variable_measure["stance"] == "nominal"
    assert meta.original_variable_types["age"] == "F8.0"

    plain, _meta = pyreadstat.read_sav(str(path))  # as frequencies see it: the refusal is missing
    assert math.isnan(_by_age(plain)[61]["stance"])


async def test_dta_has_value_labels_and_an_extended_missing_value_for_refusals(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """In the .dta: choices are labelled numbers; skip is .a (labelled), unanswered is the plain missing value."""
    path = tmp_path / "data.dta"
    labels, rows, meta = await _written(engine, path, write_dta, pyreadstat.read_dta)
    assert rows[34]["stance"] == 2 and rows[61]["stance"] == "a"
    assert meta.missing_user_values["stance"] == ["a"]
    assert meta.variable_value_labels["stance"][2] == labels._("Ukraine is the victim of aggression")
    assert meta.variable_value_labels["stance"]["a"] == labels._("Prefer not to answer")
    assert math.isnan(rows[29]["neutrality"])
    assert meta.column_names_to_labels["stance"] == labels._("View of the war")
    assert rows[34]["comment"] == LONG and rows[29]["comment"] == ""  # 4,000 bytes of text kept whole

    plain, _meta = pyreadstat.read_dta(str(path))
    assert math.isnan(_by_age(plain)[61]["stance"])
