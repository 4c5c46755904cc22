"""The phone: after /delete (or "clear this chat") the chat shows no answer, the bot's or the respondent's.

A phone check reads the chat as the emulator holds it after the bot's deletions, which the
emulator allows as Telegram does: both sides of a private chat, within 48 hours, 100 per call.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from core.i18n import Translator
from db import repo
from tests.conftest import make_settings, start_application, stop_application, table_rows
from tests.harness import BotHarness, User
from tests.test_conversation import consent, stored, tr

CITY, COMMENT = "Жанаозен", "Мой брат воюет"
ERASED = (
    "All your answers have been erased and the survey's messages removed from this chat. Thank you. "
    "If you want to take part again, send /start."
)


async def answer_everything(user: User, _: Translator, age: str = "34") -> None:
    """Consent and answer every question, typing age, city name and comment."""
    await consent(user, _)
    await user.send(age)
    await user.press(_("Male"))
    await user.press(_("Another city"))
    await user.send(CITY)
    await user.press(_("Telegram channels"))
    await user.press(_("Done"))
    await user.press(_("Ukraine is the victim of aggression"))
    await user.press(_("Kazakhstan should support Ukraine more openly"))
    await user.press(_("Ukraine"))
    await user.press(_("Done"))
    await user.send(COMMENT)
    assert user.last.plain_text.startswith(_("Thank you for taking part! Your answers:"))


def showing_answers(user: User, _: Translator) -> list[str]:
    """Texts left in the chat that show an answer: typed ones, or a label after an arrow or in a list."""
    typed = {"34", CITY, COMMENT}
    labels = [_(label) for label in ("Male", "Telegram channels", "Ukraine is the victim of aggression")]
    found = []
    for message in user.chat:
        text = message.plain_text
        if text in typed or "➡️" in text or any(label in text for label in labels) or COMMENT in text:
            found.append(text)
    return found


async def restart_then_delete(harness: BotHarness, database_url: str, user: User, _: Translator) -> None:
    """Restart the bot, then erase with /delete: no answer is left in the chat."""
    await stop_application(harness.application)
    harness.application = await start_application(
        make_settings(database_url), harness.emulator, harness.clock, seed=1
    )
    await user.send("/delete")
    await user.press(_("Yes, erase my answers"))
    assert showing_answers(user, _) == []


async def test_delete_within_48_hours_leaves_no_answer_in_the_chat(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await answer_everything(user, _)
    harness.clock.advance(hours=47)
    assert len(showing_answers(user, _)) >= 5, "answers shown in several messages before /delete"
    await user.send("/delete")
    await user.press(_("Yes, erase my answers"))
    assert showing_answers(user, _) == []
    assert [(m.from_bot, m.plain_text) for m in user.chat] == [(False, "/start"), (True, _(ERASED))]
    deleted = {d.text for d in harness.emulator.deleted}
    assert {"34", CITY, COMMENT, "/delete"} <= deleted, "the respondent's own messages are deleted too"
    assert len(harness.calls("deleteMessages")) == 1
    rows = await table_rows(engine)
    assert rows["chat_messages"] == [] and rows["responses"] == []


async def test_messages_older_than_48_hours_are_named_with_how_to_clear_them(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """What Telegram no longer lets the bot delete stays; the reply says up to when, and what to do."""
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("34")
    old = [m.message_id for m in user.chat]
    harness.clock.advance(hours=49)
    await user.press(_("Male"))
    await user.send("/delete")
    await user.press(_("Yes, erase my answers"))
    assert [m.message_id for m in user.chat][:-1] == old, "the old messages stay, the newer ones are gone"
    until = "20.03.2026 17:00"  # the 12:00 UTC answer in Almaty time (UTC+5 since 2024)
    named = _(
        "Telegram does not let bots delete messages older than 48 hours, so the survey's messages "
        "up to {date} are still here. To remove them, open this chat's menu (⋮ or the bot's name "
        "at the top) and choose \u201cClear history\u201d.",
        date=until,
    )
    assert user.last.plain_text.endswith(named)
    assert user.last.message_id not in old


async def test_clear_this_chat_keeps_the_answers(harness: BotHarness, engine: AsyncEngine) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await answer_everything(user, _)
    before = await stored(engine)
    await user.press(_("Clear this chat, keep my answers"))
    assert showing_answers(user, _) == []
    assert await stored(engine) == before
    assert [m.plain_text for m in user.chat if m.from_bot] == [
        _(
            "The survey's messages are removed from this chat; your answers are kept. "
            "Send /start to see or change them, or /delete to erase them."
        )
    ]
    # The summary comes back on /start, and /delete clears what was shown since.
    await user.send("/start")
    assert COMMENT in user.last.plain_text
    await user.send("/delete")
    await user.press(_("Yes, erase my answers"))
    assert showing_answers(user, _) == [] and len(user.chat) == 2


async def test_a_restart_before_the_next_turn_leaves_no_answer_after_delete(
    harness: BotHarness, database_url: str
) -> None:
    """The question sent after a typed answer is noted by the next turn; a restart in between
    loses only that: /delete leaves at most that question (no answer) in the chat."""
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("34")
    gender = user.last
    await user.press(_("Male"))  # the press notes the message it turned into an answer
    await user.press(_("Another city"))
    await user.send(CITY)
    sources = user.last
    await restart_then_delete(harness, database_url, user, _)
    left = [m.message_id for m in user.chat if m.from_bot][:-1]
    assert gender.message_id not in left and left == [sources.message_id], "only the unnoted question"
    assert user.chat[-1].plain_text == _(ERASED)


async def test_a_restart_right_after_the_summary_leaves_no_answer_after_delete(
    harness: BotHarness, database_url: str
) -> None:
    """The summary shows every answer, so its id is kept as soon as it is sent, not by the next
    turn: a restart right after it, and /delete still removes it."""
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await answer_everything(user, _)
    await restart_then_delete(harness, database_url, user, _)
    assert [(m.from_bot, m.plain_text) for m in user.chat] == [(False, "/start"), (True, _(ERASED))]


async def test_screened_out_minor_chat_shows_no_age(harness: BotHarness) -> None:
    """A 16-year-old's typed age and the question disappear from their chat after they confirm it."""
    _ = tr(harness, "kk")
    user = harness.user(language_code="kk")
    await consent(user, _)
    await user.send("16")
    await user.press(_("Yes, that is right"))
    assert [m.plain_text for m in user.chat if not m.from_bot] == ["/start"]
    assert "16" not in " ".join(m.plain_text for m in user.chat)


async def flooded(harness: BotHarness, engine: AsyncEngine, _: Translator, messages: int) -> User:
    """A respondent who agreed, then sent `messages` more messages the response keeps (up to its limit)."""
    user = harness.user(language_code="ru")
    await consent(user, _)
    [response_id] = [row[0] for row in (await table_rows(engine))["responses"]]
    flood = [(message_id, harness.clock.now) for message_id in range(10_000, 10_000 + messages)]
    async with harness.services.sessions.begin() as session:
        await repo.remember_messages(session, response_id, flood)
    return user


async def test_a_flood_keeps_a_bounded_number_of_message_ids(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """2,000 more messages of one account leave 1,000 ids; /delete sends them 100 per call."""
    _ = tr(harness, "ru")
    user = await flooded(harness, engine, _, 2_000)
    assert len((await table_rows(engine))["chat_messages"]) == repo.MAX_KEPT_MESSAGES
    await user.send("/delete")  # past the limit: not kept, so left by /delete
    await user.press(_("Yes, erase my answers"))
    calls = harness.calls("deleteMessages")
    assert [len(call.params["message_ids"]) for call in calls] == [100] * 10
    assert [m.plain_text for m in user.chat if not m.from_bot] == ["/start", "/delete"]


async def test_past_the_limit_a_typed_answer_is_handled_once(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """A flood filled the response's kept ids: a typed answer, no longer kept, is claimed by its
    update id, stored once, and delivered again changes nothing."""
    _ = tr(harness, "ru")
    user = await flooded(harness, engine, _, 1_000)
    await user.send("34")
    await user.replay()
    rows = await table_rows(engine)
    assert len(rows["chat_messages"]) == repo.MAX_KEPT_MESSAGES
    assert user.last_update is not None
    assert user.last_update["update_id"] in {row[0] for row in rows["processed_updates"]}
    assert await stored(engine) == {"age": 34}
    assert [m.plain_text for m in user.messages].count(_("What is your gender?")) == 1


async def test_telegram_failing_to_delete_still_tells_the_respondent(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """A 502 on deleteMessages: the erase stands and its notice arrives (the messages stay)."""
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("34")
    await user.send("/delete")
    harness.emulator.failing_calls = 1
    await user.press(_("Yes, erase my answers"))
    assert user.last.plain_text == _(ERASED)
    assert (await table_rows(engine))["responses"] == []
