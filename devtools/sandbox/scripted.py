"""Scripted respondents for the benchmarks: the same 14 actions each time, every reply timed.

bench/survey_speed.py and bench/launch_peak.py drive the real bot and bench/noop_bot.py with
these: one straight pass through the survey in Russian (4 typed answers, 10 presses), each action
waiting for the bot's reply (for a typed message, the bot's next message; for a press, the bot's
answer to the press, the last call of the turn). The no-op bot gets the same actions, its one
button pressed where the survey bot's buttons would be. Also here: what a benchmark reads of the
bot's processes (CPU time from /proc) and of the emulator (the calls that carry a chat).
"""

from __future__ import annotations

import os
from pathlib import Path

from core.i18n import I18n
from devtools.emulator.client import ControlClient, ControlRefused
from devtools.sandbox.process import ROOT

NOOP_COMMAND = (str(ROOT / "bench" / "noop_bot.py"),)
"""The no-op bot (one message per update) as a sandbox command: the ceiling on the same harness."""
REPLY_TIMEOUT = 60.0
TICKS = os.sysconf("SC_CLK_TCK")
CHAT_METHODS = frozenset(
    [
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendChatAction",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "deleteMessage",
    ]
)
"""The Bot API methods the bot calls with a chat id (answerCallbackQuery has none)."""


def survey_script() -> list[tuple[str, str]]:
    """The 14 actions of one straight pass through the survey, in Russian."""
    _ = I18n.load().translator("ru")
    press = [
        "I agree",
        None,
        "Male",
        "Almaty",
        "Telegram channels",
        "International media (BBC, Azattyq, DW and the like)",
        "Done",
        "Telegram channels",
        "Ukraine is the victim of aggression",
        "It is the right course",
        "None of these",
        "Done",
    ]
    script = [("send", "/start")]
    script += [("press", _(label)) if label else ("send", "34") for label in press]
    return [*script, ("send", "Хочу мира.")]


def noop_script() -> list[tuple[str, str]]:
    """The same actions for the no-op bot: its one button ("next") where the survey's would be."""
    return [(kind, "next" if kind == "press" else text) for kind, text in survey_script()]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def percentile(values: list[float], p: float) -> float:
    """The `p` quantile (0 to 1) of `values`, nearest rank below; 0 for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


class NoReply(Exception):
    """The bot did not reply as a respondent expects (no reply in time, or no button to press)."""


async def act(client: ControlClient, user_id: int, kind: str, text: str) -> None:
    """One scripted action ("send" a text or "press" a label), returning once the bot replied."""
    try:
        if kind == "send":
            reply = await client.send(user_id, text, within=REPLY_TIMEOUT, limit=0)
        else:
            reply = await client.press(user_id, text, within=REPLY_TIMEOUT, limit=0)
    except ControlRefused as exc:
        last = (await client.chat(user_id, limit=1)).messages
        raise NoReply(
            f"{exc.description}; the bot's last message: {last[-1].text if last else None!r}"
        ) from None
    if reply.timed_out:
        raise NoReply(f"no reply to {kind} {text!r} within {REPLY_TIMEOUT} s")


async def chat_calls(client: ControlClient) -> int:
    """Chat-carrying Bot API calls the emulator has answered so far."""
    calls = (await client.stats())["calls"]
    return sum(count for method, count in calls.items() if method in CHAT_METHODS)
