"""Outgoing requests: paced per chat, bulk and channel limits for the bot's own messages, 429s per chat."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from telegram.ext import ExtBot

from bot.sending import BULK, ChatPacedLimiter, Pace, SendingLimits
from devtools.emulator import BotApiEmulator
from devtools.emulator.core import RateLimit
from tests.conftest import make_settings, start_application, stop_application
from tests.harness import BotHarness, Clock

CHANNEL = -1001234567890


def sends_to(emulator: BotApiEmulator, chat_id: int) -> int:
    """sendMessage calls to one chat, answered or refused with 429."""
    return sum(1 for c in emulator.calls if c.method == "sendMessage" and int(c.params["chat_id"]) == chat_id)


def send_times(pace: Pace, count: int) -> list[float]:
    """When `count` requests made at once at time 0 go out."""
    return [pace.reserve(0.0) for _ in range(count)]


def most_in_any_window(times: list[float], seconds: float) -> int:
    return max(sum(1 for t in times if start <= t < start + seconds) for start in times)


def test_paces_keep_within_telegrams_limits() -> None:
    """A private chat gets a short burst, then one a second; a channel never more than 20 a minute."""
    limits = SendingLimits()
    assert send_times(limits.pace("private"), 6) == [0, 0, 0, 0, 1, 2]
    channel = send_times(limits.pace("group"), 100)
    assert 19 <= most_in_any_window(channel, 60.0) <= 20
    assert channel[-1] < 100 * 3.6, "and not much slower than that"
    assert 29 <= most_in_any_window(send_times(limits.pace("bulk"), 300), 1.0) <= 30


async def test_replies_to_many_chats_have_no_overall_cap() -> None:
    """A thousand chats are answered at once: no 30-per-second cap over the whole bot (it took 33 s)."""
    limiter = ChatPacedLimiter(monotonic=lambda: 0.0)
    sent: list[int] = []

    async def call(chat_id: int) -> bool:
        sent.append(chat_id)
        return True

    started = time.monotonic()
    await asyncio.gather(
        *(limiter.process_request(call, (n,), {}, "sendMessage", {"chat_id": n}, None) for n in range(1000))
    )
    assert sorted(sent) == list(range(1000))
    assert time.monotonic() - started < 1.0


async def test_idle_chats_are_forgotten() -> None:
    now = 0.0
    limiter = ChatPacedLimiter(monotonic=lambda: now)

    async def call() -> bool:
        return True

    for chat_id in range(5000):
        await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat_id}, None)
    assert len(limiter.chats) == 5000, "all busy: each may send again only after a second"
    now = 60.0
    for chat_id in range(5000, 5000 + limiter.sweep_at - len(limiter.chats) + 1):
        await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat_id}, None)
    assert min(limiter.chats) >= 5000, "the chats idle since a minute ago are forgotten"
    assert len(limiter.chats) < 5000


@pytest.mark.slow
async def test_a_chat_over_its_limit_waits_while_other_chats_are_answered(harness: BotHarness) -> None:
    """Telegram refuses a second message within 2 s to Alice: her reply waits, Bob's does not."""
    _ = harness.services.i18n.translator("ru")
    harness.emulator.limits.per_chat = RateLimit(1, 2.0)
    alice, bob = harness.user(), harness.user()
    await alice.send("/start")
    waiting = asyncio.create_task(alice.send("/help"))
    await asyncio.sleep(0.3)
    assert not waiting.done(), "Alice's reply waits out Telegram's retry_after"
    started = time.monotonic()
    await bob.send("/start")
    assert time.monotonic() - started < 1.0 and not waiting.done(), "Bob is answered meanwhile"
    assert len(bob.texts) == 1
    await waiting
    assert sends_to(harness.emulator, alice.id) == 3, "one 429, then sent again"
    assert len(alice.texts) == 2 and "/delete" in alice.texts[1], "the reply arrives, once"


@pytest.fixture
async def paced(database_url: str, emulator: BotApiEmulator, clock: Clock) -> AsyncIterator[BotHarness]:
    """The bot with Telegram's limits made 60 times faster for groups and channels (20 a second)."""
    emulator.open_chat(CHANNEL, "channel", "Survey results")
    sending = SendingLimits(group=(1 / 17, 3))
    application = await start_application(make_settings(database_url), emulator, clock, sending=sending)
    harness = BotHarness(application, emulator, clock)
    yield harness
    await stop_application(harness.application)


def unsolicited_chats(emulator: BotApiEmulator, count: int) -> list[int]:
    """Private chats of people who started the bot long ago: a message to them is bulk."""
    ids = list(range(600_000_001, 600_000_001 + count))
    for chat_id in ids:
        emulator.open_chat(chat_id).started = True
    return ids


async def broadcast(bot: ExtBot[str], chat_ids: list[int]) -> None:
    await asyncio.gather(*(bot.send_message(chat_id, "news", rate_limit_args=BULK) for chat_id in chat_ids))


@pytest.mark.slow
async def test_a_channel_gets_at_most_its_limit(paced: BotHarness) -> None:
    """45 posts to one channel: paced to its limit, so Telegram never refuses one, and all arrive."""
    paced.emulator.limits.per_group = RateLimit(20, 0.95)
    started = time.monotonic()
    await broadcast(paced.application.bot, [CHANNEL] * 45)
    assert len(paced.emulator.bot_messages(CHANNEL)) == 45
    assert sends_to(paced.emulator, CHANNEL) == 45, "no 429"
    assert time.monotonic() - started >= (45 - 20) / 20


@pytest.mark.slow
@pytest.mark.parametrize(("allowed", "count"), [(30, 60), (8, 20)], ids=["as-expected", "fewer-allowed"])
async def test_bulk_messages_are_paced_and_replies_pass_them(
    paced: BotHarness, allowed: int, count: int
) -> None:
    """Messages the bot sends on its own go at 30 a second: none is refused where Telegram allows that,
    and where it allows fewer, the refused wait and are sent again. A reply never queues behind them."""
    paced.emulator.limits.bulk = RateLimit(allowed, 1.0)
    chats = unsolicited_chats(paced.emulator, count)
    sending = asyncio.create_task(broadcast(paced.application.bot, chats))
    await asyncio.sleep(0.2)
    respondent = paced.user()
    await respondent.send("/start")
    assert len(respondent.texts) == 1 and not sending.done()
    await sending
    assert [len(paced.emulator.bot_messages(c)) for c in chats] == [1] * count, "each once"
    refused = sum(sends_to(paced.emulator, c) for c in chats) - count
    assert (refused > 0) == (allowed < 30)


EDIT = "✏️ "
TYPED = "> "
SURVEYS: dict[str, tuple[str | None, list[str]]] = {
    "straight, typed age and comment": (
        "ru",
        ["> /start", "I agree", "> 34", "Male", "Almaty", "Telegram channels",
         "International media (BBC, Azattyq, DW and the like)", "Done", "Telegram channels",
         "Ukraine is the victim of aggression", "It is the right course", "None of these", "Done",
         "> Хочу мира."],
    ),
    "language asked, another city typed, the rest skipped": (
        None,
        ["> /start", "Қазақша", "I agree", "> 61", "Prefer not to answer", "Another city", "> Жаңаөзен",
         "Prefer not to answer", "Prefer not to answer", "Prefer not to answer", "Prefer not to answer",
         "Skip"],
    ),
    "every question by button, answers changed from the summary": (
        "kk",
        ["> /start", "I agree", "Prefer not to answer", "Female", "Oskemen (Ust-Kamenogorsk)",
         "Russian TV channels", "Done", "Hard to say", "Hard to say", "Ukraine", "Done", "Skip",
         "✏️ View of the war", "I don't take sides, I want peace", "✏️ News sources",
         "Kazakhstani TV channels", "Done", "Kazakhstani TV channels"],
    ),
}  # fmt: skip
"""Surveys as steps: "> text" is typed, anything else is the label of a button to press."""


async def test_each_answer_costs_one_message_to_telegram(harness: BotHarness) -> None:
    """Whole surveys of several kinds: at most 1.2 chat-carrying Bot API calls per answer (2 before)."""
    calls = actions = 0
    for language, steps in SURVEYS.values():
        user = harness.user(language_code=language)
        before = len(harness.emulator.calls)
        _ = harness.services.i18n.translator(language or "kk")
        for text in steps:
            if text.startswith(TYPED):
                await user.send(text.removeprefix(TYPED))
            elif text.startswith(EDIT):
                await user.press(EDIT + _(text.removeprefix(EDIT)))
            else:
                await user.press(text if text == "Қазақша" else _(text))
        made = harness.emulator.calls[before:]
        chat_calls = sum(1 for call in made if "chat_id" in call.params)
        assert chat_calls <= 1.2 * len(steps), (language, [c.method for c in made])
        calls, actions = calls + chat_calls, actions + len(steps)
    assert calls / actions <= 1.1
