"""Unlinking: once a response has settled, nothing in the database leads from a person to it, even with the key."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import UNLINK_JOB
from conversation.callbacks import Action, encode
from conversation.services import Services
from core import privacy
from core.i18n import Translator
from db import repo
from tests.conftest import RESEARCHER_ID, table_rows
from tests.harness import KNOWN_PERSON, BotHarness, User

COMMENT = "Менің жеке пікірім 5512"
SECRET_CITY = "Жаңаөзен-7"
UNLINKED = (
    "You have already taken part in this survey, thank you. Your answers have since been "
    "unlinked from your Telegram account: they can no longer be traced to you, nor changed "
    "or erased."
)


async def run_unlink_job(harness: BotHarness) -> None:
    """Run the scheduled unlink job now, as the JobQueue would at its hour."""
    [job] = harness.application.job_queue.get_jobs_by_name(UNLINK_JOB)
    await job.run(harness.application)


async def complete_survey(
    harness: BotHarness, user: User, city: str = SECRET_CITY, comment: str = COMMENT
) -> Translator:
    """Take the whole survey in Russian, typing a city name and a comment."""
    _ = harness.services.i18n.translator("ru")
    await user.send("/start")
    await user.press(_("I agree"))
    await user.send("52")
    await user.press(_("Male"))
    await user.press(_("Another city"))
    await user.send(city)
    await user.press(_("Telegram channels"))
    await user.press(_("Done"))
    await user.press(_("Ukraine is the victim of aggression"))
    await user.press(_("It is the right course"))
    await user.press(_("Prefer not to answer"))
    await user.send(comment)
    assert user.last.plain_text.startswith(_("Thank you for taking part! Your answers:"))
    return _


async def lookups(services: Services, telegram_user_id: int) -> set[str]:
    """Every value the bot's code can derive from a Telegram id, under every configured key."""
    keys = services.keys
    found = {str(telegram_user_id), services.pseudonym(telegram_user_id)}
    found |= {
        services.researcher_pseudonym(telegram_user_id),
        *await services.participant_hashes(telegram_user_id),
    }
    for key in keys:
        participation = privacy.participant_hash(key, telegram_user_id)
        found |= {
            privacy.pseudonym(key, telegram_user_id),
            privacy.researcher_pseudonym(key, telegram_user_id),
            participation,
            privacy.erasure_marker(key, participation),
        }
    return {value.lower() for value in found}


def _texts(value: Any) -> list[str]:
    """A stored value as the texts an attacker would search: its text, and its bytes as hex."""
    if isinstance(value, bytes | bytearray | memoryview):
        return [bytes(value).hex(), bytes(value).decode("utf-8", "replace").lower()]
    return [str(value).lower()]


async def rows_with(engine: AsyncEngine, needles: set[str]) -> list[tuple[str, tuple[object, ...]]]:
    """(table, row) for every row of every table in which one of `needles` occurs."""
    hits = []
    for table, rows in (await table_rows(engine)).items():
        for row in rows:
            texts = [text for value in row for text in _texts(value)]
            if any(needle in text for text in texts for needle in needles):
                hits.append((table, row))
    return hits


def response_ids(rows: dict[str, list[tuple[object, ...]]]) -> list[uuid.UUID]:
    return [uuid.UUID(str(row[0])) for row in rows["responses"]]


async def test_after_unlink_after_no_row_leads_from_a_telegram_id_to_the_answers(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """The attacker holds the database, PSEUDONYM_KEY and the person's Telegram id, and finds no way in."""
    person = harness.user(language_code="ru", **KNOWN_PERSON)
    # A researcher who also took part: their settings must not lead to their response either.
    researcher = harness.user(language_code="ru", user_id=RESEARCHER_ID)
    _ = await complete_survey(harness, person)
    await complete_survey(harness, researcher)
    await researcher.send("/language")
    await researcher.press(harness.services.i18n.gettext("kk", "Kazakh"))
    days = harness.services.settings.unlink_after_days
    needles = await lookups(harness.services, person.id)

    # While the response can change, the keyed pseudonym finds it (or the test would prove nothing).
    harness.clock.advance(days=days, minutes=-1)
    await run_unlink_job(harness)
    linked = {table for table, _row in await rows_with(engine, needles)}
    assert linked == {"respondents"}

    harness.clock.advance(minutes=2)
    await run_unlink_job(harness)
    rows = await table_rows(engine)
    assert rows["respondents"] == [] and len(rows["responses"]) == 2
    assert all(row[1] is None for row in rows["responses"])  # respondent_id
    assert {row[-2] for row in rows["answers"]} >= {COMMENT, SECRET_CITY}  # the answers stay
    for who in (person, researcher):
        for table, row in await rows_with(engine, await lookups(harness.services, who.id)):
            # What a lookup may still find: a participation hash (a whole row to itself), or a
            # researcher's language; neither holds anything that leads to a response.
            assert table in ("participants", "researcher_settings"), (table, row)
            ids = {str(i) for i in response_ids(rows)} | {i.hex for i in response_ids(rows)}
            assert not any(text in ids for value in row for text in _texts(value)), (table, row)
    assert len(rows["participants"]) == 2 and all(len(row) == 1 for row in rows["participants"])

    # The returning person is recognised and told what is still possible, in their language.
    unlinked = _(UNLINKED)
    await person.send("/start")
    assert person.last.plain_text == unlinked
    await person.send("/delete")
    assert person.last.plain_text == unlinked
    await person.send("Можно ещё раз?")
    assert person.last.plain_text == unlinked
    # Replaying the consent button does not start a second response.
    await person.press_data(encode(Action.CONSENT, "ru", "yes"), message=person.messages[0])
    assert person.messages[0].plain_text == unlinked
    assert (await table_rows(engine))["respondents"] == []
    assert (await table_rows(engine))["answers"] == rows["answers"]
    # Someone new is not mistaken for them.
    newcomer = harness.user(language_code="ru")
    await newcomer.send("/start")
    assert newcomer.buttons == [_("I agree"), _("No, thanks")]


async def test_only_settled_responses_are_unlinked(harness: BotHarness, engine: AsyncEngine) -> None:
    """An answer given within UNLINK_AFTER_DAYS keeps the response linked; the person carries on."""
    _ = harness.services.i18n.translator("ru")
    early, late = harness.user(language_code="ru"), harness.user(language_code="ru")
    for user in (early, late):
        await user.send("/start")
        await user.press(_("I agree"))
        await user.send("40")
    harness.clock.advance(days=2)
    await late.press(_("Female"))
    harness.clock.advance(days=harness.services.settings.unlink_after_days - 1, hours=1)
    await run_unlink_job(harness)
    rows = await table_rows(engine)
    assert len(rows["respondents"]) == 1
    assert sorted(row[1] is None for row in rows["responses"]) == [False, True]
    await late.press(_("Almaty"))
    assert late.screen == _("Where do you get news about the war? Choose all that apply, then press Done.")
    await early.send("/start")
    assert early.last.plain_text == _(UNLINKED)


async def test_replicas_unlinking_at_once_unlink_each_respondent_once(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """Two replicas' jobs at the same moment: every settled respondent unlinked once, no error."""
    _ = harness.services.i18n.translator("ru")
    users = [harness.user(language_code="ru") for _n in range(6)]
    for user in users:
        await user.send("/start")
        await user.press(_("I agree"))
        await user.send("33")
    harness.clock.advance(days=1)
    cutoff = harness.clock.now
    sessions = harness.services.sessions

    async def one_replica() -> int:
        unlinked, batch = 0, 2
        while batch == 2:
            async with sessions.begin() as session:
                batch = await repo.unlink_settled(session, cutoff, 2)
            unlinked += batch
        return unlinked

    counts = await asyncio.gather(one_replica(), one_replica())
    rows = await table_rows(engine)
    assert sum(counts) == 6 and rows["respondents"] == [] and len(rows["participants"]) == 6
    assert all(row[1] is None for row in rows["responses"])
