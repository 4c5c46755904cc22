"""The questionnaire conversation, through the real Application, checked in the database."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.handlers import TRY_AGAIN
from conversation.turns import ALREADY_AGREED, ALREADY_ANSWERED
from core.i18n import Translator
from db.models import Answer, AnswerChoice, Respondent, Response, ResponseStatus
from tests.conftest import RESEARCHER_ID, make_settings, start_application, stop_application, table_rows
from tests.harness import BotHarness, User


def tr(harness: BotHarness, language: str) -> Translator:
    return harness.services.i18n.translator(language)


async def stored(engine: AsyncEngine) -> dict[str, Any]:
    """Every answer in the database as {question: option | number | text | sorted choices}."""
    async with engine.connect() as connection:
        answers = (await connection.execute(select(Answer))).all()
        choices = (await connection.execute(select(AnswerChoice))).all()
    result: dict[str, Any] = {}
    for row in answers:
        picked = sorted(
            c.option for c in choices if c.question == row.question and c.response_id == row.response_id
        )
        result[row.question] = picked or row.option or row.number or row.text
    return result


async def responses(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(Response))).all())


async def consent(user: User, _: Translator) -> None:
    await user.send("/start")
    await user.press(_("I agree"))


async def test_complete_survey_in_russian_with_every_branch(harness: BotHarness, engine: AsyncEngine) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await user.send("/start")
    assert "псевдонимный, а не анонимный" in user.screen
    assert user.buttons == [_("I agree"), _("No, thanks")]
    await user.press(_("I agree"))
    assert user.screen == _("How old are you? Please type your age as a number, for example 34.")
    await user.send("34")
    await user.press(_("Male"))
    await user.press(_("Another city"))
    assert user.screen == _("Which city? Please type its name.")
    await user.send("Жанаозен")
    await user.press(_("Russian TV channels"))
    await user.press(_("Telegram channels"))
    assert CHECK + _("Russian TV channels") in user.buttons and CHECK + _("Telegram channels") in user.buttons
    await user.press(_("Done"))
    assert user.buttons == [_("Russian TV channels"), _("Telegram channels"), _("Prefer not to answer")]
    await user.press(_("Telegram channels"))
    await user.press(_("Ukraine is the victim of aggression"))
    await user.press(_("Kazakhstan should support Ukraine more openly"))
    await user.press(_("Ukraine"))
    await user.press(_("Russia"))
    await user.press(_("Done"))
    await user.send("Нет войне")

    assert user.screen.startswith(_("Thank you for taking part! Your answers:"))
    assert "/delete" in user.screen
    assert "✏️ " + _("View of the war") in user.buttons
    assert await stored(engine) == {
        "age": 34,
        "gender": "male",
        "city": "other_city",
        "city_name": "Жанаозен",
        "sources": ["ru_tv", "telegram"],
        "main_source": "telegram",
        "stance": "ukraine",
        "neutrality": "more_ukraine",
        "relatives": ["russia", "ukraine"],
        "comment": "Нет войне",
    }
    [response] = await responses(engine)
    assert response.status == ResponseStatus.COMPLETE and response.language == "ru"
    assert response.completed_at is not None and response.questionnaire_version == 1
    assert response.option_order["stance"][-2:] == ["unsure", "skip"]
    # Each press turned its message into the answer given and the next question: four messages of
    # the bot for ten answers, every pressed answer still shown; typed ones are the person's own.
    assert len(user.messages) == 4
    chat = "\n".join(user.texts)
    for shown in (_("I agree"), _("Male"), _("Another city"), _("Ukraine is the victim of aggression")):
        assert f"➡️ {shown}" in chat
    # The skip button left under a question answered by typing is stale, and harmless.
    await user.press(_("Prefer not to answer"), message=user.messages[0])
    assert user.toasts[-1] == _("This question has already been answered. Send /start to continue.")
    assert (await stored(engine))["age"] == 34 and len(user.messages) == 4


CHECK = "✅ "


async def test_complete_survey_in_kazakh_with_skips_and_derived_main_source(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    _ = tr(harness, "kk")
    user = harness.user(language_code="kk")
    await consent(user, _)
    assert user.screen == _("How old are you? Please type your age as a number, for example 34.")
    await user.send("67")
    await user.press(_("Prefer not to answer"))
    await user.press(_("Oskemen (Ust-Kamenogorsk)"))
    await user.press(_("Russian TV channels"))
    await user.press(_("Done"))
    assert user.screen == _("Which statement is closest to your view of the war in Ukraine?")
    await user.press(_("Russia is right, it is protecting its security"))
    await user.press(_("Prefer not to answer"))
    await user.press(_("Ukraine"))
    await user.press(_("None of these"))
    assert user.buttons[:4] == [_("Ukraine"), _("Russia"), _("Belarus"), CHECK + _("None of these")]
    await user.press(_("Done"))
    await user.press(_("Skip"))
    assert user.screen.startswith(_("Thank you for taking part! Your answers:"))
    assert await stored(engine) == {
        "age": 67,
        "gender": "skip",
        "city": "oskemen",
        "sources": ["ru_tv"],
        "main_source": "ru_tv",
        "stance": "russia",
        "neutrality": "skip",
        "relatives": ["none"],
        "comment": "skip",
    }
    [response] = await responses(engine)
    assert response.language == "kk" and response.status == ResponseStatus.COMPLETE


async def test_language_is_asked_when_telegram_gives_neither(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    kk = tr(harness, "kk")
    user = harness.user(language_code="en")
    await user.send("/start")
    assert user.buttons == ["Қазақша", "Русский"]
    await user.press("Қазақша")
    assert user.buttons == [kk("I agree"), kk("No, thanks")]
    assert len(user.messages) == 1, "the language prompt turns into the consent text"
    await user.press(kk("I agree"))
    assert user.screen == kk("How old are you? Please type your age as a number, for example 34.")
    async with engine.connect() as connection:
        assert (await connection.execute(select(Respondent.language))).scalar() == "kk"


async def test_language_switch_mid_survey_shows_the_question_again(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    ru, kk = tr(harness, "ru"), tr(harness, "kk")
    user = harness.user(language_code="ru")
    await consent(user, ru)
    await user.send("30")
    old_question = user.last
    assert old_question.plain_text == ru("What is your gender?")
    await user.send("/language")
    await user.press("Қазақша")
    assert user.screen == kk("What is your gender?")
    assert user.buttons == [kk("Female"), kk("Male"), kk("Prefer not to answer")]
    assert user.emulator.chats[user.id].messages[old_question.message_id].buttons == []
    await user.press(kk("Female"))
    assert user.screen == kk("Where do you live?")
    assert (await stored(engine))["gender"] == "female"
    [response] = await responses(engine)
    assert response.language == "kk"


async def test_declining_consent_stores_nothing(harness: BotHarness, engine: AsyncEngine) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await user.send("/start")
    await user.press(_("No, thanks"))
    assert user.screen == _("Thank you anyway. If you change your mind, send /start.")
    rows = await table_rows(engine)
    assert all(rows[t] == [] for t in ("respondents", "responses", "answers", "answer_choices"))


async def test_a_mistyped_age_under_18_can_be_corrected(harness: BotHarness, engine: AsyncEngine) -> None:
    """17 typed for 71 is asked back; "No" asks the age again and nothing is screened out."""
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("17")
    assert user.last.plain_text == _(
        "You typed {age}. Is that right? This survey is only for people aged 18 and over.", age=17
    )
    assert user.buttons == [_("Yes, that is right"), _("No, let me correct it")]
    await user.press(_("No, let me correct it"))
    assert user.last.plain_text == _("How old are you? Please type your age as a number, for example 34.")
    await user.send("71")
    assert user.last.plain_text == _("What is your gender?")
    assert await stored(engine) == {"age": 71}
    # Typing the right age straight away, without pressing a button, works too.
    other = harness.user(language_code="ru")
    await consent(other, _)
    await other.send("17")
    await other.send("71")
    assert other.last.plain_text == _("What is your gender?")
    assert [r.status for r in await responses(engine)] == [ResponseStatus.IN_PROGRESS] * 2


async def test_a_confirmed_under_18_leaves_only_a_count(harness: BotHarness, engine: AsyncEngine) -> None:
    """After "yes, I am 16": no respondent, response or message id, only the tally; the chat is cleared."""
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("16")
    await user.press(_("Yes, that is right"))
    assert user.last.plain_text == _(
        "Thank you for your interest. This survey is only for people aged 18 and over, "
        "so we have not kept your answers."
    )
    rows = await table_rows(engine)
    assert rows["tallies"] == [("screened_out", 1)]
    kept = {
        table: found
        for table, found in rows.items()
        if found and table not in ("tallies", "processed_updates")
    }
    assert kept == {}
    assert [m.text for m in user.chat if "16" in (m.text or "")] == []
    # A new /start is a new person: nothing recognises them.
    await user.send("/start")
    assert user.buttons == [_("I agree"), _("No, thanks")]
    assert (await table_rows(engine))["tallies"] == [("screened_out", 1)]
    researcher = harness.user(language_code="ru", user_id=RESEARCHER_ID)
    await researcher.send("/stats")
    assert f"{_('Screened out (under 18)')}: 1" in researcher.last.plain_text


async def test_bad_ages_are_explained_and_asked_again(harness: BotHarness, engine: AsyncEngine) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    expected = {
        "двадцать": _("Please type just the number of years, for example 34."),
        "25 лет": _("Please type just the number of years, for example 34."),
        "0": _("Please type an age from {minimum} to {maximum}.", minimum=18, maximum=99),
        "-5": _("Please type an age from {minimum} to {maximum}.", minimum=18, maximum=99),
        "150": _("Please type an age from {minimum} to {maximum}.", minimum=18, maximum=99),
        "1e3": _("Please type a whole number, for example 34."),
        "25.5": _("Please type a whole number, for example 34."),
    }
    for typed, message in expected.items():
        await user.send(typed)
        assert user.screen == message, typed
    assert await stored(engine) == {}
    await user.send("25")
    assert await stored(engine) == {"age": 25}
    assert user.screen == _("What is your gender?")


async def test_text_where_buttons_are_expected_shows_the_buttons_again(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("40")
    first = user.last
    await user.send("мужской")
    assert user.screen.startswith(_("Please answer with the buttons below the question."))
    assert user.buttons == [_("Female"), _("Male"), _("Prefer not to answer")]
    assert first.buttons == [] and user.last.buttons, "the question moved down, below the nudge"
    await user.press(_("Female"))
    assert await stored(engine) == {"age": 40, "gender": "female"}


NON_TEXT: dict[str, dict[str, Any]] = {
    "sticker": {"sticker": {"file_id": "s1", "file_unique_id": "u1", "width": 512, "height": 512,
                            "is_animated": False, "is_video": False, "type": "regular"}},
    "photo": {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}]},
    "voice": {"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 3}},
    "video_note": {"video_note": {"file_id": "n1", "file_unique_id": "u4", "length": 240, "duration": 2}},
    "location": {"location": {"latitude": 43.25, "longitude": 76.95}},
    "contact": {"contact": {"phone_number": "+77010000000", "first_name": "Aigerim"}},
    "document": {"document": {"file_id": "d1", "file_unique_id": "u5", "file_name": "cv.pdf"}},
}  # fmt: skip


async def test_non_text_messages_get_a_clear_reply_everywhere(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    for content in NON_TEXT.values():
        await user.send_other(**content)
        assert user.screen == _("Please type your answer as a number, for example 34.")
    await user.send("50")
    for content in NON_TEXT.values():
        await user.send_other(**content)
        assert user.screen.startswith(_("Please answer with the buttons below the question."))
    assert await stored(engine) == {"age": 50}
    rows = await table_rows(engine)
    assert "+77010000000" not in str(rows) and "Aigerim" not in str(rows)


async def test_comment_limits_and_invisible_characters(harness: BotHarness, engine: AsyncEngine) -> None:
    _ = await reach_comment(harness, harness.user(language_code="ru"))
    user = harness.last_user
    await user.send("я" * 10_000)
    assert user.screen == _(
        "Your message has {length} characters; the limit is {maximum}. Please shorten it and send it again.",
        length=10_000,
        maximum=1000,
    )
    await user.send("\u200b\u200d\u2060")
    assert user.screen == _("The message is empty. Please type your answer, or press Skip.")
    assert "comment" not in await stored(engine)
    await user.send("Мир\u200b\x00 всем\u202e")
    assert (await stored(engine))["comment"] == "Мир всем"


async def reach_comment(harness: BotHarness, user: User) -> Translator:
    """Answer everything up to the comment question."""
    _ = tr(harness, "ru")
    harness.last_user = user  # type: ignore[attr-defined]
    await consent(user, _)
    await user.send("29")
    await user.press(_("Female"))
    await user.press(_("Almaty"))
    await user.press(_("I don't follow the news"))
    await user.press(_("Done"))
    await user.press(_("I don't take sides, I want peace"))
    await user.press(_("It is the right course"))
    await user.press(_("Prefer not to answer"))
    assert user.screen == _(
        "Is there anything you would like to add? Type it in one message (up to 1,000 characters), or press Skip."
    )
    return _


async def test_edited_messages_and_commands_mid_question(harness: BotHarness, engine: AsyncEngine) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("33")
    typed = user.emulator.chats[user.id].messages
    my_age_message = max(m.message_id for m in typed.values() if not m.from_bot)
    await user.edit(my_age_message, "93")
    assert user.screen == _(
        "Editing a sent message does not change your answer. Please send a new message instead."
    )
    await user.send("/help")
    assert "/delete" in user.screen and "/language" in user.screen
    await user.send("/stats")
    assert user.screen == _("I don't know this command. Send /help to see what I can do.")
    await user.send("/start")
    assert user.screen.endswith(_("What is your gender?"))
    await user.press(_("Male"))
    assert await stored(engine) == {"age": 33, "gender": "male"}


async def test_groups_and_channels_never_run_the_survey(harness: BotHarness, engine: AsyncEngine) -> None:
    user = harness.user(language_code="ru")
    group_id = -100123
    await harness.deliver(
        harness.emulator.user_message(user.data, chat_id=group_id, chat_type="supergroup", text="/start")
    )
    [invite] = harness.emulator.bot_messages(group_id)
    assert invite.buttons[0][0].url == "https://t.me/survey_test_bot?start=survey"
    await harness.deliver(
        harness.emulator.user_message(user.data, chat_id=group_id, chat_type="supergroup", text="34")
    )
    await harness.deliver(harness.emulator.raw_update({"channel_post": {
        "message_id": 1, "date": 0, "chat": {"id": -100999, "type": "channel", "title": "News"}, "text": "/start",
    }}))  # fmt: skip
    await harness.deliver(harness.emulator.raw_update({"edited_channel_post": {
        "message_id": 1, "date": 0, "edit_date": 1, "chat": {"id": -100999, "type": "channel", "title": "News"},
        "text": "/start",
    }}))  # fmt: skip
    await harness.deliver(harness.emulator.raw_update({"message": {
        "message_id": 7, "date": 0, "chat": {"id": group_id, "type": "supergroup", "title": "Group"},
        "sender_chat": {"id": group_id, "type": "supergroup", "title": "Group"}, "text": "/start",
    }}))  # fmt: skip
    assert len(harness.emulator.bot_messages(group_id)) == 1
    rows = await table_rows(engine)
    assert all(rows[t] == [] for t in ("respondents", "responses", "answers"))


async def test_a_restarted_bot_continues_at_the_same_question(
    harness: BotHarness, engine: AsyncEngine, database_url: str
) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("45")
    await user.press(_("Female"))
    question = user.last
    await stop_application(harness.application)
    harness.application = await start_application(
        make_settings(database_url), harness.emulator, harness.clock, seed=1
    )
    await user.press(_("Shymkent"), message=question)
    assert user.screen == _("Where do you get news about the war? Choose all that apply, then press Done.")
    await user.send("/start")
    assert user.screen.endswith(
        _("Where do you get news about the war? Choose all that apply, then press Done.")
    )
    assert await stored(engine) == {"age": 45, "gender": "female", "city": "shymkent"}


async def test_repeated_updates_and_double_taps_store_one_answer(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("52")
    await user.replay()
    sent_before = len(harness.calls("sendMessage"))
    await user.press(_("Male"))
    await user.replay()
    assert len(harness.calls("sendMessage")) == sent_before, (
        "the press turned its message into the next question"
    )
    assert user.screen == _("Where do you live?")
    # Two presses of the same button at once: one answer, the other gets a toast.
    city_question = user.keyboard_message
    stale_data = city_question.buttons[0][0].callback_data or ""
    first, second = user.press_update(_("Astana")), user.press_update(_("Astana"))
    await asyncio.gather(harness.deliver(first), harness.deliver(second))
    assert await stored(engine) == {"age": 52, "gender": "male", "city": "astana"}
    assert _("This question has already been answered. Send /start to continue.") in user.toasts
    # A press on an answered question's button (kept from the message before it was edited).
    await user.press_data(stale_data, message=city_question)
    assert user.toasts[-1] == _("This question has already been answered. Send /start to continue.")
    # Concurrent toggles on a multi question: one ticks it, the other finds it ticked as asked.
    a, b = user.press_update(_("Russian TV channels")), user.press_update(_("Russian TV channels"))
    await asyncio.gather(harness.deliver(a), harness.deliver(b))
    assert user.buttons.count(CHECK + _("Russian TV channels")) == 1
    assert await stored(engine) == {"age": 52, "gender": "male", "city": "astana"}
    async with engine.connect() as connection:
        assert len((await connection.execute(select(Answer))).all()) == 3


async def test_forged_and_foreign_button_data_change_nothing(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("23")
    [response] = await responses(engine)
    tag = response.id.hex[:8]
    forged = [
        "garbage",
        "a:deadbeef:2:male",
        f"a:{tag}:{response.step}:mars",
        f"a:{tag}:{response.step}:ru_tv",
        f"t:{tag}:{response.step}:male",
        f"d:{tag}:{response.step}",
        f"e:{tag}:{response.step}:age",
        "x" * 64,
        "",
    ]
    for data in forged:
        await user.press_data(data, message=user.keyboard_message)
        assert user.toasts[-1] == _("This button is no longer active. Send /start to continue."), data
    assert await stored(engine) == {"age": 23}
    await user.press(_("Female"))
    assert await stored(engine) == {"age": 23, "gender": "female"}


async def test_delete_leaves_nothing_of_the_respondent(harness: BotHarness, engine: AsyncEngine) -> None:
    _ = await reach_comment(harness, harness.user(language_code="ru"))
    user = harness.last_user
    await user.send("/delete")
    await user.press(_("No, keep my answers"))
    assert user.screen == _("Nothing was erased.")
    assert (await table_rows(engine))["answers"]
    await user.send("/delete")
    await user.press(_("Yes, erase my answers"))
    rows = await table_rows(engine)
    assert all(rows[t] == [] for t in ("respondents", "responses", "answers", "answer_choices"))
    # Buttons of the erased response are dead; the person can start afresh.
    await user.press_data("a:00000000:1:skip", message=user.messages[0])
    await user.send("/start")
    await user.press(_("I agree"))
    assert user.screen == _("How old are you? Please type your age as a number, for example 34.")


async def test_cancel_keeps_answers_and_start_resumes(harness: BotHarness, engine: AsyncEngine) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("61")
    await user.send("/cancel")
    [response] = await responses(engine)
    assert response.status == ResponseStatus.CANCELLED
    assert "/delete" in user.screen and user.messages[-2].buttons == [], "the question lost its buttons"
    await user.send("/start")
    assert user.screen.endswith(_("What is your gender?"))
    await user.press(_("Male"))
    [response] = await responses(engine)
    assert response.status == ResponseStatus.IN_PROGRESS
    assert await stored(engine) == {"age": 61, "gender": "male"}


async def test_telegram_failing_on_a_reply_keeps_the_answer_and_the_way_on(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """A 502 on the next question: "try again", and the way on from there; a press on the message
    the failed edit left behind shows what it should; the same update delivered again shows it too."""
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    harness.emulator.failing_calls = 1  # the gender question, sent after the typed age
    await user.send("52")
    assert user.screen == _(TRY_AGAIN)
    assert await stored(engine) == {"age": 52}
    await user.send("/start")
    assert user.screen.endswith(_("What is your gender?"))
    harness.emulator.failing_calls = 1  # the edit that turns the gender question into the city question
    await user.press(_("Female"))
    assert user.toasts[-1] == _(TRY_AGAIN)
    assert await stored(engine) == {"age": 52, "gender": "female"}
    await user.press(_("Female"))  # its button is still there: pressed again
    assert user.toasts[-1] == _("This question has already been answered. Send /start to continue.")
    assert user.screen == _("Where do you live?"), "the message shows the question it missed: no dead end"
    harness.emulator.failing_calls = 1  # the edit to the sources question
    await user.press(_("Almaty"))
    await user.replay()  # Telegram delivers the press again: handled already, its question shown now
    assert user.screen.startswith(_(harness.services.questionnaire["sources"].text))
    await user.replay()  # and once more: nothing new
    assert user.screen.startswith(_(harness.services.questionnaire["sources"].text))
    assert await stored(engine) == {"age": 52, "gender": "female", "city": "almaty"}


async def test_ticks_stored_but_never_shown_work_on_from_the_message_left_behind(
    harness: BotHarness, engine: AsyncEngine, database_url: str
) -> None:
    """The bot dies between storing a tick and editing its message (the edit and the error notice
    never reach Telegram; the bot is started again). A press on the message left behind shows the
    stored ticks and does what it was pressed for: another option is ticked beside them, the option
    already ticked stays so, Done takes every stored tick and moves on. None of them is answered
    "already answered", and no choice is stored twice."""
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("30")
    await user.press(_("Female"))
    await user.press(_("Almaty"))
    ru_tv, kz_tv, intl, telegram = (
        _("Russian TV channels"),
        _("Kazakhstani TV channels"),
        _("International media (BBC, Azattyq, DW and the like)"),
        _("Telegram channels"),
    )

    async def crash_after_storing(label: str) -> None:
        """Press `label`: the tick is stored, then the bot dies before the person sees anything."""
        answered = len(user.toasts)
        harness.emulator.failing_calls = 2  # the edit, then the "try again" notice: as after kill -9
        await user.press(label)
        assert len(user.toasts) == answered, "the press was never answered"
        await stop_application(harness.application)
        harness.application = await start_application(
            make_settings(database_url), harness.emulator, harness.clock, seed=1
        )

    def ticked() -> list[str]:
        return [label.removeprefix(CHECK) for label in user.buttons if label.startswith(CHECK)]

    await crash_after_storing(ru_tv)
    assert ticked() == [], "the message looks as before the press"
    await user.press(telegram)  # another option, on the message left behind
    assert ticked() == [ru_tv, telegram]
    await crash_after_storing(kz_tv)
    assert ticked() == [ru_tv, telegram]
    await user.press(kz_tv)  # the same option again: it was meant ticked, and is
    assert ticked() == [ru_tv, kz_tv, telegram]
    await crash_after_storing(intl)
    await crash_after_storing(CHECK + telegram)  # and taken back, unseen
    assert ticked() == [ru_tv, kz_tv, telegram]
    await user.press(_("Done"))  # Done takes what is stored, not what the message still showed
    assert user.screen == _("Which of these is your MAIN source of news about the war?")
    assert f"➡️ {_('Russian TV channels')}, {_('Kazakhstani TV channels')}, {intl}" in user.last.plain_text
    stale = {
        _("This question has already been answered. Send /start to continue."),
        _("This button is no longer active. Send /start to continue."),
    }
    assert stale.isdisjoint(user.toasts), user.toasts
    assert (await stored(engine))["sources"] == ["intl", "kz_tv", "ru_tv"]
    async with engine.connect() as connection:
        choices = (await connection.execute(select(AnswerChoice.option))).scalars().all()
    assert sorted(choices) == ["intl", "kz_tv", "ru_tv"]


async def test_a_press_crossing_a_language_switch_answers_the_question_on_turn(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """The person switches language (the question is sent anew, its old message loses its buttons)
    and presses the old message before that reaches them: the question is still on turn, so the
    press answers it; a press of the same question afterwards is answered "already answered"."""
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("29")
    russian = user.keyboard_message
    female = next(b.callback_data for row in russian.buttons for b in row if b.text == _("Female")) or ""
    await user.send("/language")
    await user.press("Қазақша")
    kazakh = tr(harness, "kk")
    assert user.screen.endswith(kazakh("What is your gender?"))
    assert russian.buttons == [], "the old message lost its buttons"
    await user.press_data(female, message=russian)
    assert await stored(engine) == {"age": 29, "gender": "female"}
    assert kazakh(ALREADY_ANSWERED) not in user.toasts
    assert f"➡️ {kazakh('Female')}" in user.emulator.chats[user.id].messages[russian.message_id].plain_text
    await user.press_data(female, message=russian)
    assert user.toasts[-1] == kazakh(ALREADY_ANSWERED)
    assert await stored(engine) == {"age": 29, "gender": "female"}


async def test_agreeing_again_on_a_later_consent_prompt_moves_the_survey_there(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """/start sent three times before agreeing (the replies were slow) shows three prompts; agreeing
    on the first turns it into the first question. "I agree" on the last moves the question there,
    below, where the person is (the first loses its buttons: no live question is left above), and
    "I agree" on the middle one shows the agreement there: the newest buttons are always the survey's."""
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    for _sent in range(3):
        await user.send("/start")
    first, middle, last = user.messages
    age = _("How old are you? Please type your age as a number, for example 34.")
    await user.press(_("I agree"), message=first)
    assert user.keyboard_message.message_id == last.message_id, "two prompts still below the question"
    await user.press(_("I agree"), message=last)
    assert user.toasts[-1] == _(ALREADY_AGREED)
    assert user.keyboard_message.message_id == last.message_id
    assert user.keyboard_message.plain_text.endswith(age)
    assert user.messages[0].buttons == []
    await user.press(_("I agree"), message=middle)
    assert user.toasts[-1] == _(ALREADY_AGREED)
    assert user.messages[1].buttons == [] and user.messages[1].plain_text.endswith(f"➡️ {_('I agree')}")
    assert [m.message_id for m in user.messages if m.buttons] == [last.message_id]
    await user.send("41")
    assert await stored(engine) == {"age": 41}


async def test_changing_answers_from_the_summary(harness: BotHarness, engine: AsyncEngine) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("38")
    await user.press(_("Male"))
    await user.press(_("Another city"))
    await user.send("Жезказган")
    await user.press(_("Kazakhstani TV channels"))
    await user.press(_("International media (BBC, Azattyq, DW and the like)"))
    await user.press(_("Done"))
    await user.press(_("Kazakhstani TV channels"))
    await user.press(_("Hard to say"))
    await user.press(_("Hard to say"))
    await user.press(_("Prefer not to answer"))
    await user.press(_("Skip"))
    [before] = await responses(engine)

    await user.press("✏️ " + _("View of the war"))
    await user.press(_("I don't take sides, I want peace"))
    assert user.screen.startswith(_("Thank you for taking part! Your answers:"))
    await user.press("✏️ " + _("Place of residence"))
    await user.press(_("Karaganda"))
    await user.press("✏️ " + _("News sources"))
    assert CHECK + _("Kazakhstani TV channels") in user.buttons
    await user.press(CHECK + _("Kazakhstani TV channels"))
    await user.press(_("Done"))
    assert user.screen.startswith(_("Thank you for taking part! Your answers:"))
    assert await stored(engine) == {
        "age": 38,
        "gender": "male",
        "city": "karaganda",
        "sources": ["intl"],
        "main_source": "intl",
        "stance": "peace",
        "neutrality": "unsure",
        "relatives": ["skip"],
        "comment": "skip",
    }
    [after] = await responses(engine)
    assert after.status == ResponseStatus.COMPLETE and after.completed_at == before.completed_at


async def test_multi_question_needs_a_choice_before_done(harness: BotHarness, engine: AsyncEngine) -> None:
    _ = tr(harness, "ru")
    user = harness.user(language_code="ru")
    await consent(user, _)
    await user.send("44")
    await user.press(_("Female"))
    await user.press(_("Village or rural area"))
    await user.press(_("Done"))
    assert user.toasts[-1] == _("Please choose at least one option, or press “Prefer not to answer”.")
    await user.press(_("Prefer not to answer"))
    assert (await stored(engine))["sources"] == ["skip"]
    assert "main_source" not in await stored(engine)
