"""Callback data of inline buttons: short, typed, and checked on the way back in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from core.i18n import LANGUAGES

MAX_CALLBACK_BYTES = 64


class Action(StrEnum):
    """What a button does."""

    LANGUAGE = "l"
    CONSENT = "c"
    ANSWER = "a"
    TOGGLE = "t"
    DONE = "d"
    EDIT = "e"
    ERASE = "x"
    CLEAR = "k"
    AGE = "g"


@dataclass(frozen=True)
class Callback:
    """A decoded button press. `response` and `step` tie it to one question of one response."""

    action: Action
    value: str = ""
    response: str = ""
    step: int = -1
    language: str = ""
    ticked: bool | None = None
    """A toggle's option as its button showed it: ticked (the press unticks it) or not (it ticks it).

    A press from a message that had not caught up then asks for what the person saw it ask for.
    None: a button from before the bot said so, which toggles.
    """


_CODE = r"[a-z][a-z0-9_]{0,31}"
_LANGUAGE = "|".join(map(re.escape, LANGUAGES))
_PATTERNS = {
    Action.LANGUAGE: re.compile(rf"l:(?P<language>{_LANGUAGE})"),
    Action.CONSENT: re.compile(rf"c:(?P<language>{_LANGUAGE}):(?P<value>yes|no)"),
    Action.ANSWER: re.compile(rf"a:(?P<response>[0-9a-f]{{8}}):(?P<step>\d{{1,6}}):(?P<value>{_CODE})"),
    Action.TOGGLE: re.compile(
        rf"t:(?P<response>[0-9a-f]{{8}}):(?P<step>\d{{1,6}}):(?P<value>{_CODE})(?::(?P<ticked>[01]))?"
    ),
    Action.DONE: re.compile(r"d:(?P<response>[0-9a-f]{8}):(?P<step>\d{1,6})"),
    Action.EDIT: re.compile(rf"e:(?P<response>[0-9a-f]{{8}}):(?P<step>\d{{1,6}}):(?P<value>{_CODE})"),
    Action.ERASE: re.compile(r"x:(?P<value>yes|no)"),
    Action.CLEAR: re.compile(r"k:(?P<response>[0-9a-f]{8}):(?P<step>\d{1,6})"),
    Action.AGE: re.compile(r"g:(?P<response>[0-9a-f]{8}):(?P<step>\d{1,6}):(?P<value>yes|no)"),
}


def encode(action: Action, *parts: object) -> str:
    """Join an action and its parts; fails loudly if Telegram would refuse the result."""
    data = ":".join([action.value, *map(str, parts)])
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def decode(data: str | None) -> Callback | None:
    """The Callback behind `data`, or None for anything forged, stale in format, or unknown."""
    if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
        return None
    pattern = _PATTERNS.get(Action(data[0])) if data[0] in {a.value for a in Action} else None
    match = pattern.fullmatch(data) if pattern else None
    if match is None:
        return None
    fields = match.groupdict()
    return Callback(
        action=Action(data[0]),
        value=fields.get("value") or "",
        response=fields.get("response") or "",
        step=int(fields["step"]) if fields.get("step") else -1,
        language=fields.get("language") or "",
        ticked=None if fields.get("ticked") is None else fields["ticked"] == "1",
    )
