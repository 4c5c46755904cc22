"""Drive the real PTB Application as Telegram users would, against the in-process Bot API emulator."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Update
from telegram.ext import Application

from devtools.emulator import BotApiEmulator, Message
from devtools.emulator.core import ApiCall

_user_ids = itertools.count(700_000_001)
KNOWN_PERSON: dict[str, Any] = {
    "user_id": 987654321,
    "username": "aigerim_k",
    "first_name": "Aigerim",
    "last_name": "Kassymova",
}
"""A Telegram user whose id and names tests look for, and must not find, in the database and the logs."""


@dataclass
class Clock:
    """A clock tests move by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 20, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class BotHarness:
    """The bot under test, the emulated Telegram it talks to, and its users."""

    def __init__(self, application: Application, emulator: BotApiEmulator, clock: Clock) -> None:
        self.application = application
        self.emulator = emulator
        self.clock = clock

    @property
    def services(self) -> Any:
        return self.application.bot_data["services"]

    async def deliver(self, update: dict[str, Any]) -> None:
        """Hand one update (a Bot API JSON object) to the application, as polling would."""
        await self.application.process_update(Update.de_json(update, self.application.bot))

    def user(
        self,
        language_code: str | None = "ru",
        username: str | None = None,
        first_name: str = "Test",
        last_name: str | None = None,
        user_id: int | None = None,
    ) -> User:
        """A new Telegram user with a private chat."""
        data: dict[str, Any] = {"id": user_id or next(_user_ids), "is_bot": False, "first_name": first_name}
        if language_code:
            data["language_code"] = language_code
        if username:
            data["username"] = username
        if last_name:
            data["last_name"] = last_name
        return User(self, data)

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every Bot API call the bot made (of one method, if given)."""
        return [c for c in self.emulator.calls if method is None or c.method == method]


class User:
    """One Telegram user acting on the bot: typing, pressing buttons, reading replies."""

    def __init__(self, harness: BotHarness, data: dict[str, Any]) -> None:
        self.harness = harness
        self.data = data
        self.last_update: dict[str, Any] | None = None

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def emulator(self) -> BotApiEmulator:
        return self.harness.emulator

    async def _deliver(self, update: dict[str, Any]) -> None:
        self.last_update = update
        await self.harness.deliver(update)

    async def send(self, text: str) -> None:
        """Type and send a text message (commands included)."""
        await self._deliver(self.emulator.user_message(self.data, text=text))

    async def send_other(self, **content: Any) -> None:
        """Send a non-text message: sticker=..., photo=[...], voice=..., location=..., etc."""
        await self._deliver(self.emulator.user_message(self.data, **content))

    async def edit(self, message_id: int, text: str) -> None:
        """Edit one of the user's earlier messages."""
        await self._deliver(self.emulator.edited_message(self.data, message_id, text))

    def press_update(self, label: str, message: Message | None = None) -> dict[str, Any]:
        """The update for pressing a button, without delivering it (for replays and races)."""
        return self.emulator.press(self.data, message or self.keyboard_message, label)

    async def press(self, label: str, message: Message | None = None) -> None:
        """Press the inline button labelled `label` (on the newest message with buttons by default)."""
        await self._deliver(self.press_update(label, message))

    async def press_data(self, data: str, message: Message | None = None) -> None:
        """Press a button carrying arbitrary callback data (forged or outdated)."""
        await self._deliver(self.emulator.callback(self.data, message or self.last, data))

    async def replay(self) -> None:
        """Deliver the previous update again, as Telegram does after a timeout."""
        assert self.last_update is not None
        await self.harness.deliver(self.last_update)

    @property
    def messages(self) -> list[Message]:
        """The bot's messages in this chat, oldest first, as they look now."""
        return self.emulator.bot_messages(self.id)

    @property
    def chat(self) -> list[Message]:
        """Every message left in this chat, the user's and the bot's, oldest first."""
        chat = self.emulator.chats.get(self.id)
        return list(chat.messages.values()) if chat else []

    @property
    def last(self) -> Message:
        """The bot's newest message."""
        return self.messages[-1]

    @property
    def screen(self) -> str:
        """What the newest message asks now: its text below the answers it shows ("➡️ ...")."""
        paragraphs = self.last.plain_text.split("\n\n")
        answered = [n for n, paragraph in enumerate(paragraphs) if paragraph.startswith("➡️")]
        return "\n\n".join(paragraphs[answered[-1] + 1 :] if answered else paragraphs)

    @property
    def texts(self) -> list[str]:
        return [m.plain_text for m in self.messages]

    @property
    def keyboard_message(self) -> Message:
        """The newest bot message that has buttons."""
        for message in reversed(self.messages):
            if message.buttons:
                return message
        raise LookupError("no message with buttons")

    @property
    def buttons(self) -> list[str]:
        """Labels of the buttons under the newest message with buttons."""
        return self.keyboard_message.button_labels

    @property
    def messages_with_buttons(self) -> list[Message]:
        return [m for m in self.messages if m.buttons]

    @property
    def toasts(self) -> list[str | None]:
        """The notices shown for this user's answered button presses, oldest first (None: none)."""
        answers = self.emulator.callback_answers
        return [
            answers[query_id].get("text")
            for query_id, owner in self.emulator.callback_owner.items()
            if owner == self.id and answers.get(query_id)
        ]
