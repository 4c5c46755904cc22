"""The channel digest: schedule, misfires, exactly one post per period, flood control, safe figures."""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import digest
from db import repo
from db.models import DigestPost, DigestStatus, Respondent
from devtools.emulator import BotApiEmulator
from devtools.emulator.core import Chat
from research.digest import NOT_STATED, DigestWriter, gather
from research.disclosure import TOTAL
from tests.conftest import RESEARCHER_ID, make_settings, start_application, stop_application
from tests.dataset import Person, seed_bulk
from tests.harness import BotHarness, Clock

CHANNEL = -1001234567890
ALMATY = ZoneInfo("Asia/Almaty")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ALMATY)  # type: ignore[misc]


@pytest.fixture
async def channel_bot(database_url: str, emulator: BotApiEmulator, clock: Clock):  # type: ignore[no-untyped-def]
    """The bot with a digest channel it may post to, and a researcher who has opened a chat."""
    emulator.open_chat(CHANNEL, "channel", "Survey results")
    emulator.open_chat(RESEARCHER_ID).started = True
    clock.now = local(2026, 3, 20, 12, 0).astimezone(UTC)
    settings = make_settings(database_url, digest_chat_id=CHANNEL, min_cell=10)
    application = await start_application(settings, emulator, clock)
    harness = BotHarness(application, emulator, clock)
    yield harness
    await stop_application(harness.application)


async def seed(engine: AsyncEngine, people: list[Person], completed_at: datetime) -> None:
    """Store these people as having completed the survey at `completed_at` (3 minutes after starting)."""
    started = completed_at - timedelta(minutes=3)
    await seed_bulk(engine, [replace(p, started=started, minutes=3) for p in people], first_id=next(_ids))


_ids = itertools.count(1_000_000, 10_000)


def posts(emulator: BotApiEmulator) -> list[str]:
    return [m.plain_text for m in emulator.bot_messages(CHANNEL) if m.text is not None]


async def digest_rows(engine: AsyncEngine) -> list[DigestPost]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(DigestPost).order_by(DigestPost.period_key))).all())


async def run_due(harness: BotHarness) -> DigestStatus | None:
    return await digest.publish_due(harness.services, harness.application.bot)


MIXED = (
    [Person(age=22, stance="ukraine", main_source="telegram")] * 30
    + [Person(age=35, stance="peace", main_source="kz_tv")] * 25
    + [Person(age=60, stance="russia", main_source="ru_tv")] * 20
    + [Person(age=47, stance="unsure", main_source="kz_tv")] * 12
)


async def test_the_digest_fires_at_the_scheduled_local_time(
    channel_bot: BotHarness, engine: AsyncEngine
) -> None:
    await seed(engine, MIXED, local(2026, 3, 20, 10, 0))
    [job] = channel_bot.application.job_queue.get_jobs_by_name("digest")
    assert job.next_t is not None and job.next_t.astimezone(ALMATY).time() == time(20, 0)
    assert digest.trigger(channel_bot.services).get_next_fire_time(None, local(2026, 3, 20, 12, 0)) == local(
        2026, 3, 20, 20, 0
    )
    channel_bot.clock.now = local(2026, 3, 20, 19, 59).astimezone(UTC)
    assert await run_due(channel_bot) is None
    assert posts(channel_bot.emulator) == []
    channel_bot.clock.now = local(2026, 3, 20, 20, 0, 1).astimezone(UTC)
    assert await run_due(channel_bot) is DigestStatus.SENT
    [text] = posts(channel_bot.emulator)
    assert "20.03.2026 20:00" in text and "87" in text
    assert [m.media for m in channel_bot.emulator.bot_messages(CHANNEL)] == [None, "photo"]
    [row] = await digest_rows(engine)
    assert row.period_key == "2026-03-20T20:00" and row.status == DigestStatus.SENT and row.message_id
    # The same period is never posted again, by this or a later run.
    assert await run_due(channel_bot) is None
    assert len(posts(channel_bot.emulator)) == 1


async def test_a_missed_digest_is_posted_once_within_the_grace_window(
    channel_bot: BotHarness, engine: AsyncEngine
) -> None:
    await seed(engine, MIXED, local(2026, 3, 19, 10, 0))
    channel_bot.clock.now = local(2026, 3, 21, 1, 30).astimezone(
        UTC
    )  # down at 20:00 yesterday, back 5.5 h later
    assert await run_due(channel_bot) is DigestStatus.SENT
    assert [r.period_key for r in await digest_rows(engine)] == ["2026-03-20T20:00"]
    channel_bot.clock.now = local(2026, 3, 21, 2, 30).astimezone(UTC)  # 6.5 h: too late, and no backlog
    assert await run_due(channel_bot) is None
    channel_bot.clock.now = local(2026, 3, 23, 3, 0).astimezone(UTC)  # two periods missed: nothing
    assert await run_due(channel_bot) is None
    assert len(posts(channel_bot.emulator)) == 1


async def test_the_start_of_the_application_posts_a_missed_digest(
    database_url: str, emulator: BotApiEmulator, clock: Clock, engine: AsyncEngine
) -> None:
    """The catch-up job that build_application() schedules at start posts the missed period."""
    emulator.open_chat(CHANNEL, "channel", "Survey results")
    await seed(engine, MIXED, local(2026, 3, 20, 10, 0))
    clock.now = local(2026, 3, 20, 21, 0).astimezone(UTC)
    posted = asyncio.Event()

    def on_change(chat: Chat) -> None:
        if chat.id == CHANNEL and posts(emulator):
            posted.set()

    emulator.observers.append(on_change)
    application = await start_application(
        make_settings(database_url, digest_chat_id=CHANNEL), emulator, clock
    )
    await asyncio.wait_for(posted.wait(), 10)
    await stop_application(application)
    assert len(posts(emulator)) == 1


async def test_two_applications_never_post_the_same_period_twice(
    channel_bot: BotHarness, engine: AsyncEngine, database_url: str
) -> None:
    await seed(engine, MIXED, local(2026, 3, 20, 10, 0))
    second = await start_application(
        make_settings(database_url, digest_chat_id=CHANNEL), channel_bot.emulator, channel_bot.clock, seed=3
    )
    try:
        channel_bot.clock.now = local(2026, 3, 20, 20, 0, 5).astimezone(UTC)
        results = await asyncio.gather(
            *(
                digest.publish_due(app.bot_data["services"], app.bot)
                for app in [channel_bot.application, second] * 3
            )
        )
    finally:
        await stop_application(second)
    # (The start-up catch-up job of either application may be the one that posts.)
    assert results.count(DigestStatus.SENT) <= 1
    assert len(posts(channel_bot.emulator)) == 1
    [row] = await digest_rows(engine)
    assert row.attempts == 1 and row.status == DigestStatus.SENT


async def test_a_crash_between_claim_and_send_is_retried_once(
    channel_bot: BotHarness, engine: AsyncEngine
) -> None:
    from db import digests

    await seed(engine, MIXED, local(2026, 3, 20, 10, 0))
    channel_bot.clock.now = local(2026, 3, 20, 20, 0, 5).astimezone(UTC)
    async with channel_bot.services.sessions.begin() as session:  # the process dies right after this
        assert await digests.claim(
            session, "2026-03-20T20:00", CHANNEL, channel_bot.clock.now, digest.CLAIM_LEASE
        )
    assert await run_due(channel_bot) is None, "a fresh claim may be another instance at work"
    channel_bot.clock.advance(minutes=3)
    assert await run_due(channel_bot) is DigestStatus.SENT
    channel_bot.clock.advance(minutes=10)
    assert await run_due(channel_bot) is None
    assert len(posts(channel_bot.emulator)) == 1
    [row] = await digest_rows(engine)
    assert row.attempts == 2 and row.status == DigestStatus.SENT


async def test_flood_control_is_waited_out_for_exactly_one_post(
    channel_bot: BotHarness, engine: AsyncEngine
) -> None:
    await seed(engine, MIXED, local(2026, 3, 20, 10, 0))
    channel_bot.emulator.flood_after = 0
    channel_bot.emulator.flood_retry_after = 1
    channel_bot.clock.now = local(2026, 3, 20, 20, 0, 5).astimezone(UTC)
    assert await run_due(channel_bot) is DigestStatus.SENT
    assert len(posts(channel_bot.emulator)) == 1
    assert [c.method for c in channel_bot.emulator.calls if c.params.get("chat_id") == CHANNEL].count(
        "sendMessage"
    ) == 2


async def test_a_channel_the_bot_cannot_post_to_is_reported_once(
    channel_bot: BotHarness, engine: AsyncEngine
) -> None:
    channel_bot.emulator.chats[CHANNEL].bot_can_post = False
    await seed(engine, MIXED, local(2026, 3, 20, 10, 0))
    for day in (20, 21):
        channel_bot.clock.now = local(2026, 3, day, 20, 0, 5).astimezone(UTC)
        assert await run_due(channel_bot) is DigestStatus.FAILED
    reports = channel_bot.emulator.bot_messages(RESEARCHER_ID)
    assert len(reports) == 1 and "DIGEST_CHAT_ID" in reports[0].plain_text
    assert [r.status for r in await digest_rows(engine)] == [DigestStatus.FAILED, DigestStatus.FAILED]


async def gather_figures(harness: BotHarness, now: datetime):  # type: ignore[no-untyped-def]
    services = harness.services
    return await gather(
        services.sessions, services.questionnaire, services.settings.min_cell, now, services.rng
    )


async def test_nothing_under_the_minimum_cell_size_is_published(
    channel_bot: BotHarness, engine: AsyncEngine
) -> None:
    """Every count is rounded to a step of MIN_CELL: no figure tells of a group of 1 to 9 people."""
    people = (
        [Person(age=22, stance="ukraine", main_source="telegram")] * 40
        + [Person(age=23, stance="russia", main_source="telegram")] * 3  # 3 young pro-Russia
        + [Person(age=65, stance="russia", main_source="ru_tv")] * 30
        + [Person(age=70, stance="ukraine", main_source="ru_tv")] * 12
        + [Person(age=None, stance="peace", main_source=None)] * 4  # a whole small row
    )
    await seed(engine, people, local(2026, 3, 20, 10, 0))
    figures = await gather_figures(channel_bot, local(2026, 3, 20, 20, 0).astimezone(UTC))
    by_age = figures.tables["age_band"]
    assert by_age.count("18-29", "russia") in (None, 10), "3 people: rounded to nothing or to 10"
    assert by_age.count(NOT_STATED, TOTAL) in (0, 10)
    for table in figures.tables.values():
        assert all(value % 10 == 0 for value in table.counts.values())
    channel_bot.clock.now = local(2026, 3, 20, 20, 0, 5).astimezone(UTC)
    await run_due(channel_bot)
    [text] = posts(channel_bot.emulator)
    ru = channel_bot.services.i18n.translator("ru")
    russian = text[text.index(ru("By age:")) :]
    assert "89" in text and not re.search(
        r"\b[1-9]\b(?!%)", russian.replace("18–29", "").replace("30–39", "")
    )


async def test_an_unchanged_digest_shows_exactly_the_figures_before_whatever_was_erased(
    channel_bot: BotHarness, engine: AsyncEngine
) -> None:
    """An erasure between digests must not move the figures: the change would be the erased person's view.
    They move on, with "new since the last digest", once MIN_CELL people have completed since."""
    await seed(engine, MIXED, local(2026, 3, 20, 10, 0))
    sessions = channel_bot.services.sessions
    for day, newcomers in ((20, 0), (21, 4), (22, 8)):
        if newcomers:
            async with sessions.begin() as session:
                someone = (await session.execute(select(Respondent).limit(1))).scalar_one()
                await repo.erase_respondent(session, someone)
            await seed(engine, [Person(age=30, stance="ukraine")] * newcomers, local(2026, 3, day, 9, 0))
        channel_bot.clock.now = local(2026, 3, day, 20, 0, 5).astimezone(UTC)
        await run_due(channel_bot)
    first, second, third = posts(channel_bot.emulator)
    numbers = re.compile(r"\d+%?")
    for language in ("kk", "ru"):
        unchanged = channel_bot.services.i18n.translator(language)(
            "Fewer than {k} people have taken part since the last digest, so the figures are unchanged.", k=10
        )
        assert unchanged in second
        second = second.replace(unchanged, "")
    assert numbers.findall(second) == numbers.findall(first)
    stored = [row.published for row in await digest_rows(engine)]
    assert stored[0] == stored[1] and stored[0]["total"] == 87
    ru = channel_bot.services.i18n.translator("ru")
    grown = ru.ngettext(
        "{n} person has taken part so far, {new} of them since the last digest.",
        "{n} people have taken part so far, {new} of them since the last digest.",
        97,
        new=10,
    )
    assert stored[2]["total"] == 97 and grown in third, "12 new and 2 erased since the figures last moved"


async def test_fewer_than_the_minimum_cell_size_say_so_in_one_line(
    channel_bot: BotHarness, engine: AsyncEngine
) -> None:
    await seed(engine, [Person(age=30, stance="ukraine")] * 9, local(2026, 3, 20, 10, 0))
    channel_bot.clock.now = local(2026, 3, 20, 20, 0, 5).astimezone(UTC)
    await run_due(channel_bot)
    [text] = posts(channel_bot.emulator)
    ru = channel_bot.services.i18n.translator("ru")
    assert ru("Not enough people have taken part yet to publish results safely.") in text
    assert ru("By age:") not in text and "9" not in text
    assert [m.media for m in channel_bot.emulator.bot_messages(CHANNEL)] == [None]


async def test_digest_fits_telegram_and_is_in_both_languages(
    channel_bot: BotHarness, engine: AsyncEngine
) -> None:
    await seed(engine, MIXED, local(2026, 3, 20, 10, 0))
    figures = await gather_figures(channel_bot, local(2026, 3, 20, 20, 0).astimezone(UTC))
    services = channel_bot.services
    writer = DigestWriter(services.settings, services.i18n, services.questionnaire)
    messages = writer.compose(figures, "https://t.me/survey_test_bot")
    assert all(len(m) <= 4096 for m in messages)
    kk, ru = (channel_bot.services.i18n.translator(lang) for lang in ("kk", "ru"))
    joined = "\n".join(messages)
    assert kk("By age:") in joined and ru("By age:") in joined
    assert joined.index(kk("By age:")) < joined.index(ru("By age:"))


async def test_researchers_preview_the_digest_privately(channel_bot: BotHarness, engine: AsyncEngine) -> None:
    await seed(engine, MIXED, local(2026, 3, 20, 10, 0))
    researcher = channel_bot.user(language_code="ru", user_id=RESEARCHER_ID)
    await researcher.send("/digest_preview")
    preview = [m for m in researcher.messages if m.media is None]
    assert len(preview) == 1 and "87" in preview[0].plain_text
    assert researcher.last.media == "photo"
    assert posts(channel_bot.emulator) == [] and await digest_rows(engine) == []
    someone = channel_bot.user(language_code="ru")
    await someone.send("/digest_preview")
    _ = channel_bot.services.i18n.translator("ru")
    assert someone.texts == [_("I don't know this command. Send /help to see what I can do.")]


async def test_network_errors_are_retried_with_backoff(
    channel_bot: BotHarness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two network errors in a row are retried (after 1 s, then 2 s; here a hundred times sooner): one post."""
    monkeypatch.setattr(digest, "FIRST_RETRY_DELAY", digest.FIRST_RETRY_DELAY / 100)
    await seed(engine, MIXED, local(2026, 3, 20, 10, 0))
    channel_bot.emulator.failing_calls = 2
    channel_bot.clock.now = local(2026, 3, 20, 20, 0, 5).astimezone(UTC)
    assert await run_due(channel_bot) is DigestStatus.SENT
    assert len(posts(channel_bot.emulator)) == 1
    [row] = await digest_rows(engine)
    assert row.status == DigestStatus.SENT and row.attempts == 1


async def test_telegrams_reason_is_shown_to_researchers_as_text_not_markup(
    channel_bot: BotHarness, engine: AsyncEngine
) -> None:
    """Every text goes out as HTML (the default parse mode): a refusal whose description holds markup
    (`<b>`, `&`) reaches the researchers verbatim."""
    reason = 'can\'t parse entities: Unsupported start tag "<b&>" at byte offset 3'
    channel_bot.emulator.refusals["sendMessage"] = reason
    await seed(engine, MIXED, local(2026, 3, 20, 10, 0))
    channel_bot.clock.now = local(2026, 3, 20, 20, 0, 5).astimezone(UTC)
    assert await run_due(channel_bot) is DigestStatus.FAILED
    reports = channel_bot.emulator.bot_messages(RESEARCHER_ID)
    assert len(reports) == 1 and reason.lower() in reports[0].plain_text.lower()
    assert {call.params.get("parse_mode") for call in channel_bot.calls("sendMessage")} == {"HTML"}
