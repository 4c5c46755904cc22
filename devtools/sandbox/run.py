"""`python -m bot sandbox`: the real bot on an emulated Telegram, a simulated crowd, then the results.

It starts the emulator, the bot process on a fresh SQLite file in the output folder, and N
simulated respondents; then a simulated researcher sends the researchers' commands and the
run shows whatever the bot answers (texts, charts, export files) and what it posts to the
digest channel. Nothing is made up here: every figure shown comes from the bot.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.i18n import I18n
from devtools.emulator.client import ChatView, ControlClient, Shown
from devtools.sandbox.crowd import Outcome, run_crowd
from devtools.sandbox.process import DIGEST_CHANNEL_ID, RESEARCHER_ID, sandbox
from devtools.sandbox.screens import Reader
from devtools.sandbox.verify import Check, check_database
from survey.model import load_questionnaire

DATABASE_FILE = "sandbox.sqlite3"
RESEARCHER_COMMANDS = (
    "/stats",
    "/crosstab stance age",
    "/crosstab stance main_source",
    "/chart stance age",
    "/chart stance main_source",
    "/export",
    "/digest_preview",
)
FIGURE_COMMANDS = RESEARCHER_COMMANDS[:5]
"""What the researcher also asks in Kazakh (the export and the bilingual digest once are enough)."""
FIRST_REPLY_TIMEOUT = 60.0
QUIET = 2.0
EVERY_MINUTE = "* * * * *"


class Writer(Protocol):
    """Where text goes: a stream, or several."""

    def write(self, text: str, /) -> int: ...


def database_url(folder: Path, name: str = DATABASE_FILE) -> str:
    """A fresh SQLite file in `folder` (an earlier run's file is removed; the folder is made)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = (folder / name).resolve()
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return f"sqlite+aiosqlite:///{path}"


def _slug(command: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", command.lower()).strip("_")


async def save_messages(
    client: ControlClient, chat_id: int, messages: list[Shown], folder: Path, prefix: str, out: Writer
) -> list[Path]:
    """Print the messages' texts and write their photos and documents to `folder`."""
    saved: list[Path] = []
    for number, message in enumerate(messages, 1):
        if message.text:
            out.write(message.text.rstrip() + "\n\n")
        if message.media is None:
            continue
        if message.media == "photo":
            path = folder / f"{prefix}_{number}.png"
        else:
            path = folder / Path(message.file_name or f"{prefix}_{number}.bin").name
        path.write_bytes(await client.file(chat_id, message.message_id))
        saved.append(path)
        out.write(f"[{message.media} saved to {path}]\n\n")
    return saved


async def researcher_session(
    client: ControlClient,
    folder: Path,
    out: Writer,
    language: str = "ru",
    commands: tuple[str, ...] = RESEARCHER_COMMANDS,
) -> list[Path]:
    """Send the researchers' commands as the configured researcher, whose Telegram app is in
    `language`; print and save the replies (files of another language than ru get its prefix)."""
    if language == "ru":
        await client.new_user("ru", "Researcher", user_id=RESEARCHER_ID)
    else:
        await client.set_language(RESEARCHER_ID, language)
    prefix = "" if language == "ru" else f"{language}_"
    saved: list[Path] = []
    for command in commands:
        out.write(f"━━━ researcher: {command}\n\n")
        reply = await client.send(RESEARCHER_ID, command, within=FIRST_REPLY_TIMEOUT, limit=0)
        await client.settle(RESEARCHER_ID, reply.chat.version, QUIET, QUIET)
        chat = await client.chat(RESEARCHER_ID)
        assert reply.message_id is not None
        messages = chat.after(reply.message_id)
        if not messages:
            out.write("(no reply)\n\n")
        saved += await save_messages(client, RESEARCHER_ID, messages, folder, prefix + _slug(command), out)
    return saved


async def digest_posts(client: ControlClient, wait: float) -> tuple[ChatView, int]:
    """The digest channel, after waiting up to `wait` s for a post newer than now; and that post's id."""
    channel = await client.chat(DIGEST_CHANNEL_ID)
    newest = max((m.message_id for m in channel.messages), default=0)
    if wait > 0:
        channel = await client.wait(DIGEST_CHANNEL_ID, channel.version, wait)
        if not channel.timed_out:
            channel = await client.settle(DIGEST_CHANNEL_ID, channel.version, QUIET, QUIET)
    return channel, newest


def _crowd_summary(outcomes: list[Outcome], seconds: float, out: Writer) -> None:
    statuses = Counter(o.status for o in outcomes)
    answers = sum(o.answers for o in outcomes)
    languages = Counter(o.persona.language for o in outcomes)
    out.write(
        f"\n{len(outcomes)} simulated respondents in {seconds:.1f} s: "
        + ", ".join(f"{n} {status}" for status, n in statuses.most_common())
        + f"; {answers} answers ({answers / max(seconds, 1e-9):.0f}/s); "
        + ", ".join(f"{n} finished in {lang}" for lang, n in sorted(languages.items()))
        + "\n"
    )
    for outcome in outcomes:
        if outcome.error:
            out.write(f"  stuck: respondent {outcome.user_id}: {outcome.error}\n")


@dataclass
class SandboxResult:
    """What a sandbox run did: the crowd's outcomes, the database check, the bot's settings."""

    outcomes: list[Outcome]
    check: Check
    settings: dict[str, object]
    files: list[Path]

    @property
    def exit_code(self) -> int:
        """0 when every simulated respondent got through and the database holds what they gave."""
        return 0 if self.check.ok else 1


async def sandbox_run(
    respondents: int, seed: int, folder: Path, digest_wait: float, out: Writer
) -> SandboxResult:
    """The whole sandbox: crowd, database check, researchers' view, channel's view."""
    settings = {"digest_schedule": EVERY_MINUTE} if digest_wait > 0 else {}
    questionnaire = load_questionnaire()
    reader = Reader(I18n.load(), questionnaire)
    url = database_url(folder)
    async with sandbox(folder, url, settings=settings, connections=respondents + 10) as box:
        print(
            f"Sandbox: Bot API emulator at {box.server.url}, bot process {box.bot.pid} "
            f"(log: {box.bot.log_path}), database {folder / DATABASE_FILE}",
            file=sys.stderr,
        )
        started = time.monotonic()
        outcomes = await run_crowd(box.client, reader, respondents, seed)
        _crowd_summary(outcomes, time.monotonic() - started, out)
        check = await check_database(url, str(box.settings["pseudonym_key"]), outcomes, questionnaire)
        out.write(check.summary() + "\n" + "".join(f"  {p}\n" for p in check.problems))

        out.write("\n═══ What the researchers see\n\n")
        with (folder / "researcher.txt").open("w") as transcript:
            files = await researcher_session(box.client, folder, _Tee(out, transcript))
        with (folder / "researcher_kk.txt").open("w") as transcript:
            files += await researcher_session(
                box.client, folder, _Tee(out, transcript), "kk", FIGURE_COMMANDS
            )

        out.write(f"═══ What the channel sees (digest channel {DIGEST_CHANNEL_ID})\n\n")
        if digest_wait > 0:
            print(f"Waiting up to {digest_wait:.0f} s for the scheduled digest...", file=sys.stderr)
        channel, before = await digest_posts(box.client, digest_wait)
        posts = [m for m in channel.bot_messages if m.message_id > before] or channel.bot_messages[-2:]
        with (folder / "digest.txt").open("w") as digest:
            both = _Tee(out, digest)
            if not posts:
                both.write("(the bot posted nothing to the channel)\n\n")
            files += await save_messages(box.client, DIGEST_CHANNEL_ID, posts, folder, "digest_chart", both)
    files = [folder / "researcher.txt", folder / "researcher_kk.txt", folder / "digest.txt", *files]
    out.write("Files: " + ", ".join(str(p) for p in files) + "\n")
    return SandboxResult(outcomes, check, box.settings, files)


class _Tee:
    """Write to several streams at once."""

    def __init__(self, *streams: Writer) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)


def run_sandbox(respondents: int, seed: int, out: str, digest_wait: float) -> int:
    """Entry point of `python -m bot sandbox`."""
    result = asyncio.run(sandbox_run(respondents, seed, Path(out), digest_wait, sys.stdout))
    return result.exit_code
