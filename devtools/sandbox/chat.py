"""`python -m bot chat`: talk to the real bot in the terminal, through the local emulator.

Type as in Telegram (`/start`, `/language`, answers); a number presses that button of the
newest message with buttons; `:lang kk` changes your Telegram app's language; `:sticker`
sends a sticker; `:quit` (or end of input) leaves.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from devtools.emulator.client import ChatView, ControlClient, Reply, Shown
from devtools.sandbox.process import sandbox
from devtools.sandbox.run import database_url

SETTLE = 0.3
HELP = (
    "You are a Telegram user talking to the survey bot (an emulated Telegram, the real bot).\n"
    "Type messages and /commands as in Telegram; a number presses that button.\n"
    ":lang CODE sets your Telegram app's language (kk, ru, en...), :sticker sends a sticker, "
    ":quit leaves.\n"
)


class Terminal:
    """Shows the chat as it changes: new messages, edits, and the buttons you can press."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.seen: dict[int, tuple[str | None, tuple[tuple[str, ...], ...]]] = {}
        self.keyboard: Shown | None = None

    def show(self, chat: ChatView, toast: str | None = None) -> None:
        if toast:
            self.out.write(f"  (notice: {toast})\n")
        self.keyboard = chat.keyboard
        for message in chat.bot_messages:
            state = (message.text, message.buttons)
            if self.seen.get(message.message_id) == state:
                continue
            before = self.seen.get(message.message_id)
            self.seen[message.message_id] = state
            if before is not None and before[0] == message.text and not message.buttons:
                first_line = (message.text or "").splitlines()[0] if message.text else ""
                self.out.write(f"  (buttons removed under: {first_line})\n")
            else:
                self._message(message, edited=before is not None)
        self.out.flush()

    def _message(self, message: Shown, edited: bool) -> None:
        head = "bot (edited)" if edited else "bot"
        body = message.text or f"[{message.media}: {message.file_name or ''}]"
        self.out.write(f"\n{head}: " + body.replace("\n", "\n     ") + "\n")
        if message.buttons and self.keyboard and message.message_id == self.keyboard.message_id:
            number = 0
            for row in message.buttons:
                cells = []
                for label in row:
                    number += 1
                    cells.append(f"[{number}] {label}")
                self.out.write("     " + "   ".join(cells) + "\n")
        elif message.buttons:
            self.out.write("     (buttons: " + " | ".join(message.labels) + ")\n")


async def _act(client: ControlClient, user_id: int, line: str, terminal: Terminal) -> Reply | None:
    """Carry out one line of input; None when nothing was sent to the bot."""
    keyboard = terminal.keyboard
    if line.isdigit() and keyboard is not None and 1 <= int(line) <= len(keyboard.labels):
        label = keyboard.labels[int(line) - 1]
        terminal.out.write(f"  (you pressed: {label})\n")
        return await client.press(user_id, label, message_id=keyboard.message_id)
    if line.startswith(":lang"):
        code = line.removeprefix(":lang").strip() or None
        await client.set_language(user_id, code)
        terminal.out.write(f"  (your Telegram app's language is now {code or 'not set'})\n")
        return None
    if line == ":sticker":
        return await client.send(user_id, sticker="🙂")
    return await client.send(user_id, line)


async def chat_session(language: str, folder: Path, lines: TextIO, out: TextIO) -> None:
    """Read lines until :quit or end of input, showing the bot's replies."""
    async with sandbox(folder, database_url(folder, "chat.sqlite3"), log_name="chat-bot.log") as box:
        client = box.client
        user_id = await client.new_user(language, first_name="You")
        terminal = Terminal(out)
        out.write(HELP + "Start with /start.\n")
        while True:
            out.write("> ")
            out.flush()
            line = await asyncio.to_thread(lines.readline)
            if not line or line.strip() == ":quit":
                break
            line = line.strip()
            if not line:
                continue
            reply = await _act(client, user_id, line, terminal)
            if reply is None:
                continue
            if reply.timed_out:
                out.write("  (no reply from the bot)\n")
            terminal.show(await client.settle(user_id, reply.chat.version, SETTLE, SETTLE), reply.toast)
        out.write("\nbye\n")


def run_chat(language: str, out: str) -> int:
    """Entry point of `python -m bot chat`."""
    asyncio.run(chat_session(language, Path(out), sys.stdin, sys.stdout))
    return 0
