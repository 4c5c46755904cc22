"""A crowd of simulated respondents taking the survey at once, over HTTP, through the control API.

By default a respondent who gets no reply in time is stuck: the bot failed them. For the fault
runs a crowd can be patient instead (`Patience`): after silence (the bot is down) or on a
screen that changed under its finger, a respondent sends /start, as people do, and goes on
from whatever the bot shows; after a "try again" notice it waits a moment and tries again.
Each respondent notes the answers the bot acknowledged, i.e. answers after which the bot
showed the next screen, so that a fault run can check every one of them is in the database.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from conversation.render import CHECKED
from core.i18n import LANGUAGES
from devtools.emulator.client import ChatView, ControlClient, ControlRefused, Reply
from devtools.sandbox.personas import (
    AGE_IN_WORDS,
    NOT_A_BUTTON,
    YEARS,
    Ending,
    Mistake,
    Persona,
    make_persona,
)
from devtools.sandbox.screens import Kind, Reader, Screen
from survey.model import SKIP, Question
from survey.model import Kind as QuestionKind

MAX_ACTIONS = 80
STALE_AFTER = 3
"""A patient respondent whose answer to a question was not taken this often in a row sends /start."""
REPLY_TIMEOUT = 60.0
SHOWN_MESSAGES = 6
ARRIVAL_SPREAD = 2.0


@dataclass(frozen=True)
class Patience:
    """How long a simulated respondent waits for a reply, and how often it picks up after silence."""

    reply_timeout: float = REPLY_TIMEOUT
    resumes: int = 0
    """How often it may send /start to go on after silence (0: the first silence leaves it stuck)."""
    pause: float = 0.5
    """Seconds it waits after the bot said "try again in a moment"."""
    think: float = 0.0
    """Seconds it takes to read a screen and act (each time between half and one and a half of this)."""


IMPATIENT = Patience()
Whereabouts = Callable[[int], Awaitable[str | None]]
"""The question the bot's database has on turn for a user id (None: none): to tell dead ends."""


class Stuck(Exception):
    """A simulated respondent could not go on: the bot did not answer, or showed something unexpected."""

    def __init__(self, what: str, chat: ChatView | None = None) -> None:
        last = chat.bot_messages[-1].text if chat and chat.bot_messages else None
        super().__init__(f"{what} (last bot message: {last!r})")


class Lost(Exception):
    """A patient respondent lost the thread (no reply in time, or a button gone): it will resume."""


@dataclass
class Outcome:
    """What happened to one simulated respondent, for checking the database afterwards."""

    user_id: int
    persona: Persona
    status: str
    error: str | None = None
    acknowledged: dict[str, object] = field(default_factory=dict)
    """Answers (question id: the persona's answer) after which the bot showed the next screen."""
    silences: int = 0
    """Actions the bot did not reply to in time."""
    notices: int = 0
    """"Something went wrong, try again" replies."""
    dead_ends: list[str] = field(default_factory=list)
    """Where the bot left no way on: a press of the question on turn answered "already answered",
    or answers not taken again and again until the person sent /start."""

    @property
    def answers(self) -> int:
        return len(self.acknowledged)


@dataclass
class Tally:
    """Running totals of a crowd run, for the progress bar and the summary."""

    total: int
    done: int = 0
    answers: int = 0
    started: float = field(default_factory=time.monotonic)
    statuses: Counter[str] = field(default_factory=Counter)
    on_change: Callable[[], None] | None = None

    def count_answer(self) -> None:
        self.answers += 1
        if self.on_change:
            self.on_change()

    def count_outcome(self, status: str) -> None:
        self.done += 1
        self.statuses[status] += 1
        if self.on_change:
            self.on_change()

    @property
    def rate(self) -> float:
        return self.answers / max(time.monotonic() - self.started, 1e-9)


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    WIDTH = 30

    def __init__(self, tally: Tally, stream: TextIO = sys.stderr) -> None:
        self.tally = tally
        self.stream = stream
        self._drawn = 0.0

    def draw(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and (now - self._drawn < 0.1 or not self.stream.isatty()):
            return
        self._drawn = now
        t = self.tally
        filled = self.WIDTH * t.done // max(t.total, 1)
        bar = "█" * filled + "░" * (self.WIDTH - filled)
        self.stream.write(
            f"\r  crowd [{bar}] {t.done}/{t.total} respondents · {t.answers} answers · {t.rate:.0f}/s "
        )
        if final:
            self.stream.write("\n")
        self.stream.flush()


class Respondent:
    """One simulated person driving the bot through the emulator, one screen at a time."""

    def __init__(
        self,
        client: ControlClient,
        reader: Reader,
        persona: Persona,
        tally: Tally,
        patience: Patience = IMPATIENT,
        rng: random.Random | None = None,
        where: Whereabouts | None = None,
    ) -> None:
        self.client = client
        self.where = where
        self.rng = rng or random.Random()
        self.reader = reader
        self.persona = persona
        self.tally = tally
        self.patience = patience
        self.user_id = 0
        self.chat: ChatView | None = None
        self.language = persona.telegram_language if persona.telegram_language in LANGUAGES else None
        self.mistakes = dict(persona.mistakes)
        self.age_attempts = 0
        self.acknowledged: dict[str, object] = {}
        self.silences = self.notices = self.resumed = self.not_taken = 0
        self.dead_ends: list[str] = []
        self.gave_up_on: str | None = None
        self.toast: str | None = None
        """The toast of the last press."""
        self.leaving: str | None = None
        """The ending a last press was for (erase, or confirming an age under 18), once pressed."""
        self.noticed = False

    # ---- acting -----------------------------------------------------------------------------

    async def _seen(self, reply: Reply) -> ChatView:
        """Take in the bot's reply; silence is Lost (patient) or Stuck; a "try again" costs a pause."""
        if reply.timed_out:
            self.silences += 1
            if self.patience.resumes:
                raise Lost()
            raise Stuck("the bot did not reply in time", reply.chat)
        self.chat = reply.chat
        shown = reply.chat.after(reply.message_id) if reply.message_id is not None else []
        try_again = self.reader.try_again
        self.noticed = reply.toast in try_again or any(m.text in try_again for m in shown)
        if self.noticed:
            self.notices += 1
            await asyncio.sleep(self.patience.pause)
        return reply.chat

    async def _think(self) -> None:
        """Take a moment to read and act, as a person does (none for a crowd without `think`)."""
        if self.patience.think:
            await asyncio.sleep(self.patience.think * self.rng.uniform(0.5, 1.5))

    async def send(self, text: str | None = None, **content: Any) -> ChatView:
        await self._think()
        reply = await self.client.send(
            self.user_id, text, within=self.patience.reply_timeout, limit=SHOWN_MESSAGES, **content
        )
        return await self._seen(reply)

    async def press(self, label: str, double: bool = False) -> ChatView:
        """Press `label`; a double tap presses twice at once (the second may find the button gone)."""
        timeout = self.patience.reply_timeout
        asked = self.reader.read(self.chat.keyboard).question if self.chat else None
        await self._think()
        taps = await asyncio.gather(
            *(
                self.client.press(self.user_id, label, within=timeout, limit=SHOWN_MESSAGES)
                for _ in range(2 if double else 1)
            ),
            return_exceptions=True,
        )
        replies = [tap for tap in taps if isinstance(tap, Reply)]
        if not replies:
            error = taps[0]
            assert isinstance(error, BaseException)
            if isinstance(error, ControlRefused):
                if self.patience.resumes:
                    raise Lost()
                raise Stuck(f"cannot press {label!r}: {error.description}", self.chat)
            raise error
        self.toast = next((reply.toast for reply in replies if reply.toast), None)
        if asked is not None and self.toast in self.reader.already_answered:
            await self._answered_already(asked)
        return await self._seen(max(replies, key=lambda reply: reply.chat.version))

    async def _answered_already(self, asked: Question) -> None:
        """A press of `asked` was answered "already answered": a dead end if it is still on turn."""
        if self.where is not None and await self.where(self.user_id) == asked.id:
            self.dead_ends.append(f"'already answered' on {asked.id}, the question on turn")

    def _needs_start(self, question_id: str) -> Lost:
        """Answers to `question_id` were not taken, again and again: the person will send /start."""
        if not self.noticed:  # after "try again", /start is what the bot asked for
            self.gave_up_on = question_id
        return Lost()

    def _resumed(self) -> None:
        """After /start: a dead end if it shows the question whose answers were not taken.

        (If it shows another, the answers had been taken and their replies were only late.)
        """
        asked = self.reader.read(self.chat.keyboard if self.chat else None).question
        if self.gave_up_on is not None and asked is not None and asked.id == self.gave_up_on:
            self.dead_ends.append(f"/start needed to go on from {asked.id}")
        self.gave_up_on = None

    def _answer(self, question_id: str) -> None:
        """Note the answer as acknowledged if the bot moved on from its question.

        If it did not, the respondent answers again; a patient one that sees its answer not
        taken again and again (buttons of a message the bot has moved past) sends /start.
        """
        assert self.chat is not None
        screen = self.reader.read(self.chat.keyboard)
        if screen.question is not None and screen.question.id == question_id:
            self.not_taken += 1
            if self.patience.resumes and self.not_taken >= STALE_AFTER:
                self.not_taken = 0
                raise self._needs_start(question_id)
            return
        self.not_taken = 0
        self.acknowledged[question_id] = self.persona.answers.get(question_id, SKIP)
        self.tally.count_answer()

    # ---- the visit --------------------------------------------------------------------------

    async def run(self) -> Outcome:
        """Take the survey as the persona would; the outcome says how it ended."""
        persona = self.persona
        self.user_id = await self.client.new_user(persona.telegram_language, first_name="Sim")
        try:
            status, error = await self._visit(), None
        except Stuck as exc:
            status, error = "stuck", str(exc)
        return Outcome(
            self.user_id,
            persona,
            status,
            error,
            self.acknowledged,
            self.silences,
            self.notices,
            self.dead_ends,
        )

    async def _visit(self) -> str:
        chat = await self._start()
        for _ in range(MAX_ACTIONS + self.patience.resumes):
            screen = self.reader.read(chat.keyboard)
            try:
                if screen.kind is Kind.UNKNOWN:
                    if self.patience.resumes and self.persona.ending is not Ending.UNDER_AGE:
                        # "Try again", or the late reply to an earlier message (a redelivered
                        # /cancel after a restart) where a question was due: /start, as people do.
                        raise Lost()
                    return self._ended(chat)
                outcome = await self._act(screen)
            except Lost:
                self._lost_the_thread()
                outcome = None
                await self._start()
                self._resumed()
            if outcome is not None:
                return outcome
            assert self.chat is not None
            chat = self.chat
        raise Stuck(f"still not done after {MAX_ACTIONS} actions", chat)

    async def _start(self) -> ChatView:
        """/start, sent again after each silence as long as patience lasts; the chat then."""
        while True:
            try:
                return await self.send("/start")
            except Lost:
                self._lost_the_thread()

    def _lost_the_thread(self) -> None:
        self.resumed += 1
        if self.resumed > self.patience.resumes:
            raise Stuck(f"lost the thread {self.resumed} times", self.chat)

    def _ended(self, chat: ChatView) -> str:
        """No buttons left: screened out is the only expected way to get here."""
        if self.persona.ending is Ending.UNDER_AGE:
            return Ending.UNDER_AGE.value
        if chat.keyboard is not None:
            raise Stuck(f"an unknown screen with buttons {chat.keyboard.labels}", chat)
        raise Stuck("no buttons to press", chat)

    async def _act(self, screen: Screen) -> str | None:
        """Do what the persona does on this screen; a status when the visit is over."""
        assert self.chat is not None and self.chat.keyboard is not None
        message, persona = self.chat.keyboard, self.persona
        if self.leaving and screen.kind in (Kind.LANGUAGE, Kind.CONSENT):
            return self.leaving  # the erase or screen-out went through, but its reply was lost
        if screen.kind is Kind.LANGUAGE:
            self.language = persona.language
            await self.press(self.reader.language_label(persona.language))
        elif screen.kind is Kind.CONSENT:
            if screen.language != persona.language and self.language != persona.language:
                self.language = persona.language
                await self.send("/language")
                return None
            agree = persona.ending is not Ending.DECLINE
            msgid = "I agree" if agree else "No, thanks"
            await self.press(self.reader.button_on(message, msgid, screen.language))
            if self.toast in self.reader.already_agreed and self.reader.read(self.chat.keyboard) == screen:
                self.dead_ends.append("'already agreed' on a consent prompt that stays")
                raise Lost()  # the bot says to send /start
            if not agree:
                return Ending.DECLINE.value
        elif screen.kind is Kind.SUMMARY:
            if persona.ending is not Ending.DELETE:
                return Ending.COMPLETE.value
            await self.send("/delete")
        elif screen.kind is Kind.ERASE:
            self.leaving = Ending.DELETE.value
            await self.press(self.reader.button_on(message, "Yes, erase my answers", screen.language))
            return Ending.DELETE.value
        else:
            assert screen.question is not None
            if persona.abandon_at == screen.question.id:
                return Ending.ABANDON.value
            return await self._question(screen)
        return None

    async def _mistake(self, question_id: str) -> bool:
        """Make the persona's mistake planned for this question, if any; True if one was made."""
        planned = [m for m, where in self.mistakes.items() if where == question_id and m in ACTED_MISTAKES]
        if not planned:
            return False
        mistake = planned[0]
        del self.mistakes[mistake]
        if mistake is Mistake.TEXT_FOR_BUTTON:
            await self.send(NOT_A_BUTTON[self.persona.language])
        elif mistake is Mistake.STICKER:
            await self.send(sticker="🙂")
        elif mistake is Mistake.SWITCH_LANGUAGE:
            other = next(lang for lang in LANGUAGES if lang != self.persona.language)
            self.persona.language = other
            await self.send("/language")
        elif mistake is Mistake.CANCEL_RESTART:
            await self.send("/cancel")
            await self.send("/start")
        return True

    async def _question(self, screen: Screen) -> str | None:
        """Answer the question on screen; a status if that answer ends the visit (under 18)."""
        question = screen.question
        assert question is not None and self.chat is not None and self.chat.keyboard is not None
        if await self._mistake(question.id):
            return None
        message, language = self.chat.keyboard, screen.language
        value = self.persona.answers.get(question.id, SKIP)
        double = self.mistakes.pop(Mistake.DOUBLE_TAP, None) == question.id
        if question.kind is QuestionKind.INTEGER:
            typed = self._age_text()
            await self.send(typed)
            if typed == str(self.persona.age) and self.persona.ending is Ending.UNDER_AGE:
                self._answer(question.id)
                assert self.chat.keyboard is not None
                self.leaving = Ending.UNDER_AGE.value
                await self.press(self.reader.button_on(self.chat.keyboard, "Yes, that is right", language))
                return Ending.UNDER_AGE.value
        elif question.kind is QuestionKind.TEXT:
            if value == SKIP:
                await self.press(self.reader.option_on(message, question, SKIP, language))
            else:
                await self.send(str(value))
        elif question.kind is QuestionKind.SINGLE:
            await self.press(self.reader.option_on(message, question, str(value), language), double)
        else:
            assert isinstance(value, list)
            if value == [SKIP]:
                await self.press(self.reader.option_on(message, question, SKIP, language))
            else:
                await self._tick(question, value, language)
                assert self.chat.keyboard is not None
                await self.press(self.reader.button_on(self.chat.keyboard, "Done", language))
        self._answer(question.id)
        return None

    async def _tick(self, question: Question, codes: list[str], language: str | None) -> None:
        """Tick `codes` on the multiple-choice question, pressing again where a press was not taken."""
        for _ in range(len(codes) * STALE_AFTER):
            assert self.chat is not None and self.chat.keyboard is not None
            labels = [self.reader.option_on(self.chat.keyboard, question, code, language) for code in codes]
            unticked = [label for label in labels if not label.startswith(CHECKED)]
            if not unticked:
                return
            await self.press(unticked[0])
        raise self._needs_start(question.id)

    def _age_text(self) -> str:
        """What the persona types for age: a mistake first, if planned, then the number."""
        self.age_attempts += 1
        language = self.persona.language
        if self.age_attempts == 1 and self.mistakes.pop(Mistake.AGE_WITH_UNIT, False):
            return YEARS[language].format(age=self.persona.age)
        if self.age_attempts <= 2 and self.mistakes.pop(Mistake.AGE_IN_WORDS, False):
            return AGE_IN_WORDS[language]
        return str(self.persona.age)


ACTED_MISTAKES = (Mistake.TEXT_FOR_BUTTON, Mistake.STICKER, Mistake.SWITCH_LANGUAGE, Mistake.CANCEL_RESTART)


async def run_crowd(
    client: ControlClient,
    reader: Reader,
    size: int,
    seed: int = 2022,
    progress: bool = True,
    spread: float = ARRIVAL_SPREAD,
    patience: Patience = IMPATIENT,
    ending: Ending | None = None,
    where: Whereabouts | None = None,
) -> list[Outcome]:
    """`size` simulated respondents arriving within `spread` seconds, all at once; their outcomes.

    Each ends their visit as `ending` says, or (by default) as their persona happens to. With
    `where`, presses answered "already answered" are checked against the database (dead ends).
    """
    rng = random.Random(seed)
    personas = [make_persona(rng, ending) for _ in range(size)]
    arrivals = [rng.uniform(0, spread) for _ in personas]
    tally = Tally(size)
    bar = Progress(tally) if progress else None
    if bar:
        tally.on_change = bar.draw

    async def one(persona: Persona, delay: float, number: int) -> Outcome:
        await asyncio.sleep(delay)
        pace = random.Random(f"{seed}-{number}")
        outcome = await Respondent(client, reader, persona, tally, patience, pace, where).run()
        tally.count_outcome(outcome.status)
        return outcome

    outcomes = await asyncio.gather(
        *(one(p, d, n) for n, (p, d) in enumerate(zip(personas, arrivals, strict=True)))
    )
    if bar:
        bar.draw(final=True)
    return list(outcomes)
