"""Logs: one JSON line per event, and no Telegram id, name, username, typed answer or token in any line."""

from __future__ import annotations

import io
import json
import logging

import pytest
from telegram import Update

from bot.handlers import TRY_AGAIN
from core.logs import WITHHELD, JsonFormatter
from tests.conftest import TEST_TOKEN, entries
from tests.harness import KNOWN_PERSON, BotHarness

IDENTITY = {str(value) for value in KNOWN_PERSON.values()}
TYPED = {"Жезқазған-құпия", "Менің жеке пікірім 4821"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_whole_survey_with_a_failure_logs_events_without_identity_or_answers(
    harness: BotHarness, log_lines: io.StringIO
) -> None:
    """A survey with typed answers and one failed Bot API call: events, a one-line traceback, nothing personal."""
    _ = harness.services.i18n.translator("ru")
    user = harness.user(language_code="ru", **KNOWN_PERSON)
    await user.send("/start")
    await user.press(_("I agree"))
    await user.send("41")
    await user.press(_("Female"))
    await user.press(_("Another city"))
    harness.emulator.failing_calls = 1  # the reply to the city name fails: the handler's error path runs
    await user.send("Жезқазған-құпия")
    assert user.last.plain_text == _(TRY_AGAIN)
    await user.send("/start")
    await user.press(_("Telegram channels"))
    await user.press(_("Done"))
    await user.press(_("I don't take sides, I want peace"))
    await user.press(_("It is the right course"))
    await user.press(_("None of these"))
    await user.press(_("Done"))
    await user.send("Менің жеке пікірім 4821")
    assert user.screen.startswith(_("Thank you for taking part! Your answers:"))

    text = log_lines.getvalue()
    leaked = sorted(value for value in IDENTITY | TYPED | {TEST_TOKEN} if value.lower() in text.lower())
    assert leaked == []
    logged = entries(log_lines)
    assert all({"time", "level", "logger", "event"} <= set(entry) for entry in logged)
    stored = [entry["question"] for entry in logged if entry["event"] == "answer_stored"]
    assert stored == [
        "age",
        "gender",
        "city",
        "city_name",
        "sources",
        "stance",
        "neutrality",
        "relatives",
        "comment",
    ]
    [error] = [entry for entry in logged if entry["event"] == "handler_error"]
    assert error["level"] == "error" and error["error"] and "Traceback" in str(error["traceback"])
    assert [entry["event"] for entry in logged].count("response_completed") == 1


def test_library_records_withhold_updates_and_redact_the_token(harness_update: dict[str, object]) -> None:
    """A library logging an update or raw data shows neither; the token never appears."""
    formatter = JsonFormatter(secrets=[TEST_TOKEN])
    update = Update.de_json(harness_update, None)
    records = [
        logging.makeLogRecord({"name": "telegram.ext", "msg": "Processing update %s", "args": (update,)}),
        logging.makeLogRecord({"name": "telegram.ext", "msg": "Raw data: %r", "args": (harness_update,)}),
        logging.makeLogRecord(
            {"name": "httpx", "msg": f"POST https://api.telegram.org/bot{TEST_TOKEN}/getMe"}
        ),
    ]
    lines = [formatter.format(record) for record in records]
    assert all("\n" not in line for line in lines)
    shown = [json.loads(line) for line in lines]
    assert [entry["event"] for entry in shown] == ["log", "log", "log"]
    assert shown[0]["message"] == f"Processing update {WITHHELD}"
    assert shown[1]["message"] == f"Raw data: {WITHHELD!r}"
    assert TEST_TOKEN not in "".join(lines) and "[redacted]" in shown[2]["message"]
    assert not any(value in "".join(lines) for value in IDENTITY | TYPED)


@pytest.fixture
def harness_update() -> dict[str, object]:
    """A private message carrying a person's identity and a typed answer, as the Bot API sends it."""
    names = {key: value for key, value in KNOWN_PERSON.items() if key != "user_id"}
    person = {"id": KNOWN_PERSON["user_id"], "is_bot": False, **names}
    return {
        "update_id": 1,
        "message": {
            "message_id": 5,
            "date": 1_700_000_000,
            "chat": {**person, "type": "private"},
            "from": person,
            "text": "Менің жеке пікірім 4821",
        },
    }


@pytest.mark.parametrize(
    ("method", "description", "level"),
    [
        ("editMessageText", "message is not modified: specified new message content is the same", "info"),
        ("editMessageText", "message to edit not found", "info"),
        ("editMessageText", 'can\'t parse entities: Unsupported start tag "foo" at byte offset 3', "error"),
        (
            "answerCallbackQuery",
            "query is too old and response timeout expired or query ID is invalid",
            "info",
        ),
        ("answerCallbackQuery", "MESSAGE_TOO_LONG", "error"),
    ],
)
async def test_only_telegrams_expected_refusals_are_quiet(
    harness: BotHarness, log_lines: io.StringIO, method: str, description: str, level: str
) -> None:
    """A broken reply (Telegram refuses it for another reason than being late or redundant) is an
    error in the log, with Telegram's description; the respondent carries on either way."""
    _ = harness.services.i18n.translator("ru")
    user = harness.user(language_code="ru")
    await user.send("/start")
    harness.emulator.refusals[method] = description
    await user.press(_("I agree"))
    assert method not in harness.emulator.refusals, "the bot made the call Telegram refused"
    refused = [e for e in entries(log_lines) if description.lower() in str(e.get("reason")).lower()]
    assert [e["level"] for e in refused] == [level]
    if not description.startswith("message is not modified"):  # (then Telegram shows it already)
        assert _(harness.services.questionnaire["age"].text) in user.screen, "the next question is there"
