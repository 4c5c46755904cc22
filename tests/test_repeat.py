"""Repeats: someone who erased and answers again while linked is flagged, counted, and never identified."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core import privacy
from core.config import Settings
from core.i18n import Translator
from db.engine import session_factory
from db.models import Response
from research.export import CSV_ENCODING
from research.weights import Plan, weighting
from survey.model import load_questionnaire
from survey.targets import load_targets
from tests.conftest import RESEARCHER_ID, table_rows
from tests.dataset import Person, seed
from tests.harness import KNOWN_PERSON, BotHarness, User
from tests.test_unlinking import complete_survey, lookups, response_ids, rows_with, run_unlink_job

ERASE_LEAVES = (
    "For {period} we keep only a coded mark that this Telegram account erased its answers (not "
    "the answers, nor the ID itself): if you take the survey again in that time, your new answers "
    "are counted as a repeat."
)


async def erase(harness: BotHarness, user: User) -> Translator:
    """/delete, confirmed."""
    _ = harness.services.i18n.translator("ru")
    await user.send("/delete")
    period = _.ngettext("{n} day", "{n} days", harness.services.settings.unlink_after_days)
    assert _(ERASE_LEAVES, period=period) in user.last.plain_text  # said before it is done
    await user.press(_("Yes, erase my answers"))
    erased = _(
        "All your answers have been erased and the survey's messages removed from this chat. Thank you. "
        "If you want to take part again, send /start."
    )
    assert user.last.plain_text == erased
    return _


async def marker_of(harness: BotHarness, user: User) -> str:
    """The erasure marker the bot derives from this person's Telegram id (current key)."""
    [current, *_old] = await harness.services.participant_hashes(user.id)
    return privacy.erasure_marker(harness.services.keys[0], current)


def repeat_column(rows: dict[str, list[tuple[object, ...]]]) -> list[object]:
    """The `repeat` flag of every stored response, in table order."""
    position = list(Response.__table__.c.keys()).index("repeat")
    return [row[position] for row in rows["responses"]]


async def export_rows(harness: BotHarness) -> list[dict[str, str]]:
    """The CSV a researcher's /export sends, as rows."""
    researcher = harness.user(user_id=RESEARCHER_ID, language_code="ru")
    await researcher.send("/export")
    data = next(m.file for m in researcher.messages if m.file_name and m.file_name.endswith(".csv"))
    assert data is not None
    return list(csv.DictReader(io.StringIO(data.decode(CSV_ENCODING))))


@pytest.mark.slow  # /export starts its process
async def test_answering_again_after_delete_is_a_repeat_in_stats_and_export(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """A person completes, erases, completes again: that response is a repeat, counted in /stats and
    flagged in the export; a second person who never erased is not, and the marker is gone."""
    person = harness.user(language_code="ru", **KNOWN_PERSON)
    other = harness.user(language_code="ru")
    await complete_survey(harness, person)
    _ = await erase(harness, person)
    rows = await table_rows(engine)
    assert rows["responses"] == [] and rows["answers"] == []
    assert [row[0] for row in rows["erasure_markers"]] == [await marker_of(harness, person)]

    await complete_survey(harness, other)  # someone else, while the first person's marker is kept
    await complete_survey(harness, person)
    rows = await table_rows(engine)
    assert sorted(repeat_column(rows)) == [False, True]
    assert rows["erasure_markers"] == []  # taken by the new response

    researcher = harness.user(user_id=RESEARCHER_ID, language_code="ru")
    await researcher.send("/stats raw")
    count = _("Repeats (completed after erasing an earlier response): {count}", count="1")
    assert count in researcher.last.plain_text

    exported = await export_rows(harness)
    assert sorted(row["repeat"] for row in exported) == ["0", "1"]
    # The weights keep repeats (WEIGHT_REPEATS=true by default): the person's only response.
    assert all(row["weight"] for row in exported)


async def test_a_repeat_leaves_nothing_that_leads_from_the_telegram_id_after_unlinking(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """The attacker holds the database, every key and the person's Telegram id: while the marker is
    kept it tells only that this id erased (nothing about answers); after the repeat is unlinked,
    no row leads from the id to a response, and no pseudonym or marker is left."""
    person = harness.user(language_code="ru", **KNOWN_PERSON)
    await complete_survey(harness, person)
    await erase(harness, person)
    needles = await lookups(harness.services, person.id)  # the erasure marker among them
    found = await rows_with(engine, needles)
    assert [table for table, _row in found] == ["erasure_markers"]  # the documented trade-off
    assert len(found[0][1]) == 2  # the marker and its day: no answer, no response id

    await complete_survey(harness, person)
    harness.clock.advance(days=harness.services.settings.unlink_after_days, minutes=1)
    await run_unlink_job(harness)
    rows = await table_rows(engine)
    assert rows["respondents"] == [] and rows["erasure_markers"] == []
    assert repeat_column(rows) == [True]
    ids = {str(i) for i in response_ids(rows)} | {i.hex for i in response_ids(rows)}
    for table, row in await rows_with(engine, needles):
        assert table == "participants" and not ids & {str(value) for value in row}, (table, row)


async def test_a_marker_expires_with_the_linking_window(harness: BotHarness, engine: AsyncEngine) -> None:
    """After UNLINK_AFTER_DAYS (rounded up to the UTC day) the marker is dropped: a later response
    of the same person is not a repeat."""
    person = harness.user(language_code="ru", **KNOWN_PERSON)
    await complete_survey(harness, person)
    await erase(harness, person)
    harness.clock.advance(days=harness.services.settings.unlink_after_days)
    await run_unlink_job(harness)
    assert len((await table_rows(engine))["erasure_markers"]) == 1  # still within its last day
    harness.clock.advance(days=1)
    await run_unlink_job(harness)
    assert (await table_rows(engine))["erasure_markers"] == []
    await complete_survey(harness, person)
    assert repeat_column(await table_rows(engine)) == [False]


async def test_a_second_person_is_not_taken_for_one_who_erased(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """Two people erase; only the one who comes back has a repeat, and the other's marker stays."""
    first = harness.user(language_code="ru", **KNOWN_PERSON)
    second = harness.user(language_code="ru")
    for user in (first, second):
        await complete_survey(harness, user)
        await erase(harness, user)
    await complete_survey(harness, first)
    rows = await table_rows(engine)
    assert repeat_column(rows) == [True]
    assert [row[0] for row in rows["erasure_markers"]] == [await marker_of(harness, second)]


async def test_weight_repeats_false_leaves_repeats_out_of_weighted_figures(engine: AsyncEngine) -> None:
    """WEIGHT_REPEATS=false: repeats are counted and left out of the weighting; by default they are kept."""
    await seed(engine, [Person(age=25 + i, stance="peace") for i in range(12)])
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        some = (await session.scalars(select(Response.id).limit(3))).all()
        await session.execute(update(Response).where(Response.id.in_(some)).values(repeat=True))
    targets = load_targets(load_questionnaire())
    assert Plan.from_settings(targets, Settings()).repeats
    async with sessions.begin() as session:
        kept = await weighting(session, Plan.from_settings(targets, Settings()))
        left = await weighting(session, Plan.from_settings(targets, Settings(weight_repeats=False)))
    assert (kept.people, kept.left_out_repeats) == (12, None)
    assert (left.people, left.left_out_repeats) == (9, 3)
    assert left.leaves_out(speeder=0, repeat=1) and not kept.leaves_out(speeder=0, repeat=1)
