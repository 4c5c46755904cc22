"""The survey conversation: each event changes the database, then says what to show.

Every function here runs inside the caller's transaction and only appends actions to the
Turn; the caller commits and then performs them, so an answer is stored before any reply.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from conversation import render
from conversation.callbacks import Action, Callback
from conversation.render import Position, View
from conversation.services import Services
from core.i18n import LANGUAGE_NAMES, LANGUAGES, N_, Translator
from db import repo
from db.models import Respondent, Response, ResponseStatus
from survey.flow import (
    Answers,
    AnswerValue,
    InvalidAnswer,
    advance,
    answer_for_choice,
    available_options,
    clean_text,
    option_order,
    parse_integer,
    screens_out,
    toggle,
)
from survey.model import SKIP, Kind, Question

log = logging.getLogger(__name__)

ALREADY_ANSWERED = N_("This question has already been answered. Send /start to continue.")
"""A press on a question that is no longer on turn (the sandbox's crowd counts it on one that is)."""
ALREADY_AGREED = N_("You have already agreed. Send /start to continue.")
DELETABLE_FOR = timedelta(hours=48)
"""Telegram lets a bot delete a message (the bot's or, in a private chat, the user's) this long."""


@dataclass(frozen=True)
class Send:
    """Send a new message; `track` remembers it as the message of the current question.

    Once sent, its id is kept for /delete by a statement of its own, unless `lazy`: a question
    that shows no answer (the next one after a typed answer), whose id the person's next turn in
    this process keeps with its own statements (Services.note_later), or their press on it. A
    crash (or a next turn on another replica) in between leaves that question in the chat after
    /delete: never an answer, which are all in messages kept before the reply or noted at once.
    """

    view: View
    track: Position | None = None
    lazy: bool = False


@dataclass(frozen=True)
class Edit:
    """Replace an earlier message of the bot (text and buttons).

    `track`: the view is the current question's; should Telegram refuse the edit, it is sent as a
    new message and tracked as the question's (Send's `track`), so the respondent can go on.
    """

    message_id: int
    view: View
    track: Position | None = None


@dataclass(frozen=True)
class StripButtons:
    """Remove the buttons of an earlier message, leaving its text."""

    message_id: int


@dataclass(frozen=True)
class Toast:
    """A short notice on a button press."""

    text: str


@dataclass(frozen=True)
class DeleteMessages:
    """Delete messages of the chat (Telegram skips those it no longer lets the bot delete)."""

    message_ids: tuple[int, ...]


Reply = Send | Edit | StripButtons | Toast | DeleteMessages


@dataclass
class Turn:
    """One incoming event of one respondent, handled in one transaction."""

    services: Services
    session: AsyncSession
    pseudonym: str
    telegram_language: str | None
    now: datetime
    message: tuple[int, datetime] | None = None
    """The id and date of the update's message: the one typed, or the one whose button was pressed."""
    respondent: Respondent | None = None
    response: Response | None = None
    replies: list[Reply] = field(default_factory=list)
    participant_hash: str | None = None
    """The person's participation hash (current key), to keep with a new respondent."""
    participant_hashes: Sequence[str] = ()
    """Their participation hash under each key (current first): what their erasure markers are made of."""
    unlinked: bool = False
    """No respondent, but this person took part before and their response was unlinked."""
    erased: bool = False
    """The turn erased a respondent: the caller wipes what the database files still hold."""
    fresh: bool = True
    """False when the update was handled before (Telegram delivered it again)."""
    stored: Answers | None = None
    """The response's answers as stored, once read (see answers())."""
    shown: tuple[int, datetime] | None = None
    """The message that showed the current question when the turn began, and its date (or the
    turn's time where unknown); counted as kept while it is the response's question_message_id."""
    kept: set[int] = field(default_factory=set)
    """Message ids this turn made sure are kept."""
    adopted: int | None = None
    """The question message noted later (Send.lazy) that this turn found still current."""

    @property
    def language(self) -> str:
        if self.respondent is not None:
            return self.respondent.language
        if self.telegram_language in LANGUAGES:
            return self.telegram_language
        return self.services.settings.default_language

    @property
    def _(self) -> Translator:
        return self.services.i18n.translator(self.language)

    def say(self, view: View, track: Position | None = None, lazy: bool = False) -> None:
        self.replies.append(Send(view, track, lazy))

    async def answers(self) -> Answers:
        """The response's current answers (read with the lock or the claim on SQLite, else once, when
        first needed)."""
        if self.stored is None:
            assert self.response is not None
            self.stored = await repo.load_answers(self.session, self.response.id)
        return self.stored

    def toast(self, text: str) -> None:
        self.replies.append(Toast(text))


def claimed_by_step(callback: Callback | None) -> bool:
    """True for a press that changes a response only at the step its button was shown for (the
    press then moves the step on): a second delivery of it finds the step moved and changes
    nothing, so the step is its claim and it needs no row in processed_updates."""
    return callback is not None and callback.action not in (Action.LANGUAGE, Action.CONSENT, Action.ERASE)


async def open_turn(
    services: Services,
    session: AsyncSession,
    telegram_user_id: int,
    telegram_language: str | None,
    update_id: int,
    participant_hashes: Sequence[str] = (),
    message: tuple[int, datetime] | None = None,
    new_message: bool = True,
    by_step: bool = False,
    plain: bool = False,
) -> Turn:
    """Lock the respondent (if any) and load their response for this event, and claim the update.

    A respondent still under PSEUDONYM_KEY_OLD moves to the current key. Without a respondent,
    `participant_hashes` (services.participant_hashes, computed before the transaction) tell
    whether this person's response was unlinked. The claim (turn.fresh: handled exactly once):
    the person's own message (`new_message`), kept as part of the survey's chat while there is a
    response, is its own claim, in the same statement; a press `by_step` (claimed_by_step) is
    claimed by the response's step; any other update by its id in processed_updates.

    `plain`: the person's message is no command, so most often a typed answer. On SQLite, whose
    write lock BEGIN IMMEDIATE took, its claim then comes first and reads the respondent, their
    response and its answers in the same statement (repo.keep_message_reading): one statement
    less, one more where it keeps nothing (no response yet: a command, usually /start, then
    does not try).
    """
    turn = Turn(
        services,
        session,
        services.pseudonym(telegram_user_id),
        (telegram_language or "").split("-")[0] or None,
        services.clock(),
        message,
    )
    held = services.take_unnoted(turn.pseudonym)
    read, kept = None, None
    if plain and message is not None and new_message:
        read = await repo.keep_message_reading(session, turn.pseudonym, message, held, turn.now)
    if read is not None:
        kept, (turn.respondent, turn.response, turn.stored) = read
    else:
        await _lock(turn, services.old_pseudonym(telegram_user_id))
    if participant_hashes:
        turn.participant_hash, turn.participant_hashes = participant_hashes[0], participant_hashes
    if turn.respondent is not None:
        if turn.participant_hash:  # a row from before unlinking, or under the old key, gets it now
            turn.respondent.participant_hash = turn.participant_hash
    elif participant_hashes:
        turn.unlinked = await repo.participated(session, participant_hashes)
    response = turn.response
    unnoted: list[tuple[int, datetime]] = []
    if response is not None:
        _take_unnoted(turn, response, held, unnoted)
    if response is not None and message is not None and new_message:
        turn.fresh = await _claim_by_message(turn, response, message, unnoted, update_id, kept)
    elif not (by_step and response is not None):
        turn.fresh = await repo.claim_update(session, update_id, turn.now)
    return turn


async def _lock(turn: Turn, old_pseudonym: str | None) -> None:
    """Lock the respondent and read their newest response, moving them to the current key's
    pseudonym if found under the old one."""
    session = turn.session
    turn.respondent, turn.response, turn.stored = await repo.lock_respondent_with_response(
        session, turn.pseudonym
    )
    if turn.respondent is None and old_pseudonym is not None:
        turn.respondent, turn.response, turn.stored = await repo.rekey_respondent(
            session, old_pseudonym, turn.pseudonym
        )


def _take_unnoted(
    turn: Turn, response: Response, held: repo.HeldMessage | None, unnoted: list[tuple[int, datetime]]
) -> None:
    """`held`, the question message this process sent last without noting it (Send.lazy), if of
    this response: it shows the current question when the response is still at its step; either
    way it is kept by this turn if the turn keeps the person's message (else it showed a question
    only, and is let go)."""
    if held is not None and held.response_id == response.id:
        if held.step == response.step and response.question_message_id is None:
            # As if read so (no statement of its own): close_turn writes it with the turn's changes.
            set_committed_value(response, "question_message_id", held.message_id)
            turn.adopted = held.message_id
        unnoted.append((held.message_id, held.sent_at))
    if response.question_message_id is not None:
        dates = dict(unnoted)
        if turn.message is not None:
            dates.setdefault(turn.message[0], turn.message[1])
        turn.shown = (response.question_message_id, dates.get(response.question_message_id, turn.now))


async def _claim_by_message(
    turn: Turn,
    response: Response,
    message: tuple[int, datetime],
    unnoted: list[tuple[int, datetime]],
    update_id: int,
    new: set[int] | None,
) -> bool:
    """Keep the person's message (and the current question's, which this turn may move on from)
    in one statement, which claims the update: False when the message was kept before. `new`:
    the ids that statement kept, when it ran already (repo.keep_message_reading)."""
    keep = [message, *unnoted]
    if turn.shown is not None:
        keep.append(turn.shown)
    keep = list(dict(keep).items())  # each id once
    if new is None:
        new, answers = await repo.keep_messages_reading_answers(turn.session, response.id, keep)
        if answers is not None:
            turn.stored = answers
    if message[0] in new:
        turn.kept |= {message_id for message_id, _ in keep}  # new, or kept before
        return True
    turn.kept |= new
    if await repo.message_kept(turn.session, response.id, message[0]):
        return False
    # Not kept, nor kept before: the response holds MAX_KEPT_MESSAGES (a flood).
    return await repo.claim_update(turn.session, update_id, turn.now)


async def close_turn(turn: Turn) -> None:
    """Before the commit: write the adopted question message (see _take_unnoted); keep the message
    that showed the current question when the turn began, should the turn have moved the question
    elsewhere (it may show answers given on it)."""
    response, shown = turn.response, turn.shown
    if response is not None and turn.adopted is not None and response.question_message_id == turn.adopted:
        flag_modified(response, "question_message_id")
    if response is None or shown is None or shown[0] in turn.kept:
        return
    if response.question_message_id != shown[0]:
        await repo.remember_messages(turn.session, response.id, [shown])


# ---- showing where the respondent is --------------------------------------------------------


def _position(response: Response) -> Position:
    return Position(response.id, response.step)


def _bump(response: Response, **changes: Any) -> None:
    """Change the response's position; its step invalidates every button shown before."""
    for key, value in changes.items():
        setattr(response, key, value)
    response.step += 1


ON_TURN_SINCE = "since"
"""In pending: the step at which the question on turn (or the summary) came on turn."""
CONSENTED = "consent"
"""In the list of what a message shows answered (pending["answered"]): the consent statement."""


def _current_view(turn: Turn, answers: Answers, notice: str | None = None) -> View:
    """The current question (or the summary) as it is now, `notice` above it."""
    response = turn.response
    assert response is not None
    if response.current_question is None:
        return render.summary_view(turn._, turn.services.questionnaire, answers, _position(response))
    question = turn.services.questionnaire[response.current_question]
    return render.question_view(
        turn._,
        question,
        turn.services.questionnaire,
        answers,
        _position(response),
        order=response.option_order.get(question.id),
        selected=response.pending.get("selected", ()),
        notice=notice,
    )


def _on_its_message(turn: Turn, answers: Answers, view: View) -> View:
    """`view` under the answers given on the same message (pending["answered"])."""
    response = turn.response
    assert response is not None
    questionnaire, _ = turn.services.questionnaire, turn._
    shown = []
    for entry in response.pending.get("answered", ()):
        if entry == CONSENTED:
            shown.append(render.consented_view(_, turn.services.settings.unlink_after_days))
        elif entry in answers and entry in questionnaire:
            shown.append(render.answered_view(_, questionnaire[entry], questionnaire, answers[entry]))
    return render.below(shown, view)


async def _show_current(
    turn: Turn, notice: str | None = None, answers: Answers | None = None, lazy: bool = False
) -> None:
    """Send the current question (or the summary) anew, removing the old message's buttons.

    `answers` are the response's answers when the caller already holds them as stored. `lazy`:
    a question that shows no answer may be noted later (Send.lazy).
    """
    response = turn.response
    assert response is not None
    if response.question_message_id is not None:
        turn.replies.append(StripButtons(response.question_message_id))
        response.question_message_id = None  # the new message, once sent, takes its place
    if "answered" in response.pending:
        response.pending = {k: v for k, v in response.pending.items() if k != "answered"}
    if answers is None:
        answers = await turn.answers()
    if response.current_question is None and notice:
        turn.say(render.plain(notice))
        notice = None
    question = response.current_question
    lazy = lazy and notice is None and question is not None
    lazy = lazy and turn.services.questionnaire[question or ""].options_from is None
    turn.say(_current_view(turn, answers, notice), track=_position(response), lazy=lazy)


async def _show_again(turn: Turn) -> None:
    """Show the current position on its message again: a crash or a lost request left it behind."""
    response = turn.response
    assert response is not None and response.question_message_id is not None
    answers = await turn.answers()
    view = _on_its_message(turn, answers, _current_view(turn, answers))
    turn.replies.append(Edit(response.question_message_id, view, _position(response)))


def _unlinked_notice(turn: Turn) -> str:
    """What a person whose response was unlinked can still do: nothing with those answers."""
    return turn._(
        "You have already taken part in this survey, thank you. Your answers have since been "
        "unlinked from your Telegram account: they can no longer be traced to you, nor changed "
        "or erased."
    )


def _closed_notice(turn: Turn) -> str:
    """What to tell someone whose response is over, for messages that do not fit anything."""
    _ = turn._
    status = turn.response.status if turn.response else None
    if status is ResponseStatus.CANCELLED:
        return _("You stopped the survey. Send /start to continue where you left off.")
    return _("You have already completed the survey, thank you! Send /start to see or change your answers.")


# ---- commands ---------------------------------------------------------------------------------


async def start(turn: Turn) -> None:
    """Begin, or continue where the respondent left off."""
    _ = turn._
    response = turn.response
    if turn.unlinked:
        turn.say(render.plain(_unlinked_notice(turn)))
        return
    if turn.respondent is None or response is None:
        if turn.telegram_language in LANGUAGES:
            turn.say(_consent_prompt(turn, _))
        else:
            turn.say(render.language_prompt(turn.services.i18n))
        return
    notice = None
    if response.status is ResponseStatus.CANCELLED:
        _bump(response, status=ResponseStatus.IN_PROGRESS)
        notice = _("Welcome back! Let's continue where you left off.")
    elif response.current_question is not None:
        notice = _("Let's continue where you left off.")
    await _show_current(turn, notice)


async def choose_language_prompt(turn: Turn) -> None:
    """/language: offer both languages."""
    turn.say(render.language_prompt(turn.services.i18n))


def _consent_prompt(turn: Turn, _: Translator) -> View:
    return render.consent_prompt(_, turn.services.settings.unlink_after_days)


async def help_text(turn: Turn) -> None:
    """/help: what the survey is, what is kept and for how long, and which commands exist."""
    _ = turn._
    turn.say(
        render.plain(
            _(
                "This bot runs a pseudonymous (not anonymous) research survey about views on the war "
                "in Ukraine. Your answers are kept under a code made from your Telegram ID; {period} "
                "after your last answer the code is deleted, and the answers can no longer be traced "
                "to you, changed or erased.\n\n"
                "/start - begin, or continue where you left off\n"
                "/language - switch between Kazakh and Russian\n"
                "/cancel - stop now (your answers so far are kept)\n"
                "/delete - erase all your answers and the survey's messages in this chat\n"
                "/help - this message\n\n"
                "Telegram keeps this chat like any other; to remove it, open the chat's menu and choose "
                "\u201cClear history\u201d.",
                period=render.unlink_period(_, turn.services.settings.unlink_after_days),
            )
        )
    )


async def unknown_command(turn: Turn) -> None:
    """A command the bot does not know."""
    turn.say(render.plain(turn._("I don't know this command. Send /help to see what I can do.")))


async def forged_button(turn: Turn) -> None:
    """A press whose data is not one of ours (forged, or from an old version of the bot)."""
    turn.toast(turn._("This button is no longer active. Send /start to continue."))


async def on_edited(turn: Turn) -> None:
    """Editing a sent message does not change the answer it gave."""
    turn.say(
        render.plain(
            turn._("Editing a sent message does not change your answer. Please send a new message instead.")
        )
    )


async def cancel(turn: Turn) -> None:
    """/cancel: stop now, keeping what was answered as an incomplete response."""
    _ = turn._
    response = turn.response
    if response is None or response.status is not ResponseStatus.IN_PROGRESS:
        turn.say(render.plain(_("There is no survey in progress. Send /start to begin.")))
        return
    if response.question_message_id is not None:
        turn.replies.append(StripButtons(response.question_message_id))
    _bump(response, status=ResponseStatus.CANCELLED, question_message_id=None)
    turn.say(
        render.plain(
            _(
                "The survey is stopped. Your answers so far are kept; send /start to continue "
                "or /delete to erase them."
            )
        )
    )


async def ask_erase(turn: Turn) -> None:
    """/delete: ask for confirmation before erasing everything."""
    _ = turn._
    if turn.unlinked:
        turn.say(render.plain(_unlinked_notice(turn)))
        return
    if turn.respondent is None:
        turn.say(render.plain(_("We have no answers from you, so there is nothing to erase.")))
        return
    turn.say(render.erase_prompt(_, turn.services.settings.unlink_after_days))


# ---- button presses ---------------------------------------------------------------------------


async def on_button(turn: Turn, callback: Callback, message_id: int) -> None:
    """Dispatch a decoded button press."""
    if callback.action is Action.LANGUAGE:
        await _set_language(turn, callback.language, message_id)
    elif callback.action is Action.CONSENT:
        await _consent(turn, callback, message_id)
    elif callback.action is Action.ERASE:
        await _erase(turn, callback.value == "yes", message_id)
    elif _current_button(turn, callback):
        if callback.action is Action.CLEAR:
            await _clear_chat(turn)
        elif callback.action is Action.AGE:
            await _check_age(turn, callback.value == "yes", message_id)
        elif callback.action is Action.ANSWER:
            await _choose(turn, callback.value, message_id)
        elif callback.action is Action.TOGGLE:
            await _toggle(turn, callback, message_id)
        elif callback.action is Action.DONE:
            await _done(turn, callback, message_id)
        elif callback.action is Action.EDIT:
            await _begin_edit(turn, callback.value, message_id)
    elif _left_behind(turn, callback, message_id):
        await _show_again(turn)


async def redelivered(turn: Turn) -> None:
    """An update handled before came again (a crash cut its replies short?): show what never arrived."""
    if _undelivered(turn):
        await _show_current(turn)
    elif _on_screen(turn):
        await _show_again(turn)


def _on_screen(turn: Turn) -> bool:
    """True when the current question (or the summary) has a message, which may need showing again."""
    response = turn.response
    return (
        response is not None
        and response.question_message_id is not None
        and response.status in (ResponseStatus.IN_PROGRESS, ResponseStatus.COMPLETE)
    )


def _undelivered(turn: Turn) -> bool:
    """True when the question now on turn (or the summary) has no message: sending it failed.

    Only for an update handled before: otherwise another process may be sending it right now.
    """
    response = turn.response
    return (
        response is not None
        and response.question_message_id is None
        and response.status in (ResponseStatus.IN_PROGRESS, ResponseStatus.COMPLETE)
    )


def _left_behind(turn: Turn, callback: Callback, message_id: int) -> bool:
    """True when an earlier step was pressed on the message that should show the current one.

    Its edit never arrived (a crash, a lost request), or this is the second of a double tap.
    """
    response = turn.response
    return (
        response is not None
        and callback.response == render.short_id(response.id)
        and callback.step < response.step
        and message_id == response.question_message_id
        and _on_screen(turn)
    )


def _on_this_question(turn: Turn, callback: Callback) -> bool:
    """True for a press from an earlier step of the question (or summary) still on turn.

    Steps move on while a question stays on turn: each toggle of a multi question, a language
    switch, /cancel and /start. A crash or a lost request can leave a message showing an earlier
    one (a tick stored but never shown), and a person can press a message a newer one replaced:
    what they press there still answers the question on turn.
    """
    response = turn.response
    assert response is not None
    since: int = response.pending.get(ON_TURN_SINCE, response.step)
    return since <= callback.step < response.step


def _current_button(turn: Turn, callback: Callback) -> bool:
    """True when the press belongs to the question (or summary) on turn now; otherwise toast why not."""
    _ = turn._
    response = turn.response
    if response is None or callback.response != render.short_id(response.id):
        turn.toast(_("This button is no longer active. Send /start to continue."))
        return False
    if callback.step != response.step and not _on_this_question(turn, callback):
        turn.toast(_(ALREADY_ANSWERED))
        return False
    if response.status is not ResponseStatus.IN_PROGRESS and not (
        response.status is ResponseStatus.COMPLETE
        and callback.action
        in (Action.EDIT, Action.ANSWER, Action.TOGGLE, Action.DONE, Action.CLEAR, Action.AGE)
    ):
        turn.toast(_closed_notice(turn))
        return False
    return True


async def _set_language(turn: Turn, language: str, message_id: int) -> None:
    if turn.respondent is None:
        turn.telegram_language = language
        turn.replies.append(Edit(message_id, _consent_prompt(turn, turn._)))
        return
    turn.respondent.language = language
    name = turn._(LANGUAGE_NAMES[language])
    turn.replies.append(Edit(message_id, render.plain(turn._("Language: {name}", name=name))))
    if turn.response is None:
        return
    turn.response.language = language
    if turn.response.status is ResponseStatus.CANCELLED:
        return
    _bump(turn.response)
    await _show_current(turn)


async def _consent(turn: Turn, callback: Callback, message_id: int) -> None:
    _ = turn.services.i18n.translator(callback.language)
    if turn.respondent is not None:
        turn.toast(turn._(ALREADY_AGREED))
        response = turn.response
        shown = response.question_message_id if response is not None and _on_screen(turn) else None
        if response is not None and shown is not None and message_id >= shown:
            # This message (its edit into the first question never arrived), or a prompt below it
            # (/start sent again before agreeing): the survey goes on here, where the person is.
            if message_id != shown:
                turn.replies.append(StripButtons(shown))
                response.question_message_id = message_id
            await _show_again(turn)
        else:  # a prompt above the survey: it shows the agreement, not live buttons
            days = turn.services.settings.unlink_after_days
            turn.replies.append(Edit(message_id, render.consented_view(turn._, days)))
        return
    if turn.unlinked:
        turn.replies.append(Edit(message_id, render.plain(_unlinked_notice(turn))))
        return
    if callback.value != "yes":
        turn.replies.append(
            Edit(message_id, render.consented_view(_, turn.services.settings.unlink_after_days, agreed=False))
        )
        turn.say(render.plain(_("Thank you anyway. If you change your mind, send /start.")))
        return
    questionnaire = turn.services.questionnaire
    respondent = Respondent(
        pseudonym=turn.pseudonym,
        participant_hash=turn.participant_hash,
        language=callback.language,
        consented_at=turn.now,
        created_at=turn.now,
    )
    first = advance(questionnaire, {}, None).next_question
    response = Response(
        respondent=respondent,
        questionnaire_version=questionnaire.version,
        language=callback.language,
        status=ResponseStatus.IN_PROGRESS,
        started_at=turn.now,
        option_order=option_order(questionnaire, turn.services.rng),
        current_question=first,
        step=0,
        pending={"answered": [CONSENTED], ON_TURN_SINCE: 0},
        question_message_id=message_id,
    )
    try:
        async with turn.session.begin_nested():
            markers = turn.services.erasure_markers(turn.participant_hashes)
            response.repeat = await repo.take_erasure(turn.session, markers, _utc_day(turn.now))
            turn.session.add_all([respondent, response])
    except IntegrityError:
        # A concurrent press created the respondent first: this press is the double tap.
        turn.toast(_(ALREADY_AGREED))
        return
    turn.respondent, turn.response = respondent, response
    if turn.message is not None:
        await repo.remember_messages(turn.session, response.id, [turn.message])
    log.info("consented", extra={"language": callback.language})
    turn.replies.append(
        Edit(message_id, _on_its_message(turn, {}, _current_view(turn, {})), _position(response))
    )


async def _erase(turn: Turn, confirmed: bool, message_id: int) -> None:
    _ = turn._
    if not confirmed:
        turn.replies.append(Edit(message_id, render.plain(_("Nothing was erased."))))
        return
    if turn.respondent is None:
        nothing = _("We have no answers from you, so there is nothing to erase.")
        gone = _unlinked_notice(turn) if turn.unlinked else nothing
        turn.replies.append(Edit(message_id, render.plain(gone)))
        return
    left = await _delete_chat(turn)
    await repo.erase_respondent(turn.session, turn.respondent)
    await _remember_erasure(turn)
    log.info("respondent_erased")
    turn.respondent = turn.response = None
    turn.erased = True
    erased = _(
        "All your answers have been erased and the survey's messages removed from this chat. Thank you. "
        "If you want to take part again, send /start."
    )
    turn.say(render.plain(_with_note(erased, left)))


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


async def _remember_erasure(turn: Turn) -> None:
    """Keep a marker of this erasure for UNLINK_AFTER_DAYS, so a new response is flagged a repeat."""
    if turn.participant_hash:
        [marker] = turn.services.erasure_markers([turn.participant_hash])
        days = timedelta(days=turn.services.settings.unlink_after_days)
        await repo.remember_erasure(turn.session, marker, _utc_day(turn.now + days))


def _with_note(text: str, note: str | None) -> str:
    """`text`, then `note` as a paragraph of its own when there is one."""
    return f"{text}\n\n{note}" if note else text


async def _delete_chat(turn: Turn) -> str | None:
    """Delete the survey's messages from the chat and forget their ids.

    Returns what to tell about messages too old for Telegram to let the bot delete (None: none).
    """
    if turn.response is None:
        return None
    messages = await repo.forget_messages(turn.session, turn.response.id)
    shown = turn.response.question_message_id
    if shown is not None and shown not in dict(messages):  # kept as the question's message
        when = turn.shown[1] if turn.shown and turn.shown[0] == shown else turn.now
        messages.append((shown, when))
    turn.response.question_message_id = None
    turn.shown = None
    ids = tuple(sorted(message_id for message_id, _sent in messages))
    if ids:
        turn.replies.append(DeleteMessages(ids))
    too_old = [sent for _id, sent in messages if turn.now - sent >= DELETABLE_FOR]
    if not too_old:
        return None
    zone = ZoneInfo(turn.services.settings.timezone)
    until = max(too_old).astimezone(zone).strftime("%d.%m.%Y %H:%M")
    return turn._(
        "Telegram does not let bots delete messages older than 48 hours, so the survey's messages "
        "up to {date} are still here. To remove them, open this chat's menu (⋮ or the bot's name "
        "at the top) and choose \u201cClear history\u201d.",
        date=until,
    )


async def _clear_chat(turn: Turn) -> None:
    """The summary's "clear this chat": delete the survey's messages, keep the answers."""
    response = turn.response
    assert response is not None
    left = await _delete_chat(turn)
    _bump(response)
    cleared = turn._(
        "The survey's messages are removed from this chat; your answers are kept. "
        "Send /start to see or change them, or /delete to erase them."
    )
    turn.say(render.plain(_with_note(cleared, left)))
    log.info("chat_cleared")


async def _check_age(turn: Turn, confirmed: bool, message_id: int) -> None:
    """The answer to "you typed 17, is that right?": screen out, or ask the age again."""
    response = turn.response
    assert response is not None
    if not confirmed:
        turn.replies.append(StripButtons(message_id))
        _bump(response, question_message_id=None)
        await _show_current(turn)
        return
    assert turn.respondent is not None
    await _delete_chat(turn)
    await repo.erase_respondent(turn.session, turn.respondent)
    await repo.add_to_tally(turn.session, repo.SCREENED_OUT_TALLY)
    log.info("screened_out")
    turn.respondent = turn.response = None
    turn.erased = True
    turn.say(
        render.plain(
            turn._(
                "Thank you for your interest. This survey is only for people aged 18 and over, "
                "so we have not kept your answers."
            )
        )
    )


async def _choose(turn: Turn, code: str, message_id: int) -> None:
    response = turn.response
    assert response is not None and response.current_question is not None
    question = turn.services.questionnaire[response.current_question]
    answers = await turn.answers()
    allowed = available_options(question, turn.services.questionnaire, answers)
    if code != SKIP and (question.kind is not Kind.SINGLE or code not in allowed):
        turn.toast(turn._("This button is no longer active. Send /start to continue."))
        return
    await _store(turn, question, answer_for_choice(question, code), answers, message_id)


async def _toggle(turn: Turn, callback: Callback, message_id: int) -> None:
    """Tick or untick an option, as its button showed it; the message then shows what is stored."""
    response = turn.response
    assert response is not None and response.current_question is not None
    question = turn.services.questionnaire[response.current_question]
    code = callback.value
    if question.kind is not Kind.MULTI or question.option(code) is None:
        turn.toast(turn._("This button is no longer active. Send /start to continue."))
        return
    selected = response.pending.get("selected", ())
    if callback.ticked is None or (code in selected) == callback.ticked:  # else: already as asked
        _bump(response, pending={**response.pending, "selected": list(toggle(question, selected, code))})
    answers = await turn.answers()
    response.question_message_id = message_id
    turn.replies.append(
        Edit(message_id, _on_its_message(turn, answers, _current_view(turn, answers)), _position(response))
    )


async def _done(turn: Turn, callback: Callback, message_id: int) -> None:
    """Store the ticks as stored (the pressed message may not have shown the latest)."""
    response = turn.response
    assert response is not None and response.current_question is not None
    question = turn.services.questionnaire[response.current_question]
    selected = tuple(response.pending.get("selected", ()))
    if question.kind is not Kind.MULTI:
        turn.toast(turn._("This button is no longer active. Send /start to continue."))
        return
    if not selected:
        turn.toast(turn._("Please choose at least one option, or press \u201cPrefer not to answer\u201d."))
        if callback.step < response.step:  # the message showed ticks taken back since
            response.question_message_id = message_id
            await _show_again(turn)
        return
    answers = await turn.answers()
    await _store(turn, question, AnswerValue(choices=selected), answers, message_id)


async def _begin_edit(turn: Turn, question_id: str, message_id: int) -> None:
    response = turn.response
    assert response is not None
    questionnaire = turn.services.questionnaire
    if response.status is not ResponseStatus.COMPLETE or question_id not in questionnaire:
        turn.toast(turn._("This button is no longer active. Send /start to continue."))
        return
    answers = await turn.answers()
    previous = answers.get(question_id)
    selected = list(previous.choices) if previous and previous.choices != (SKIP,) else []
    turn.replies.append(StripButtons(message_id))
    _bump(
        response,
        current_question=question_id,
        pending={"edit": question_id, "selected": selected, ON_TURN_SINCE: response.step + 1},
        question_message_id=None,
    )
    await _show_current(turn)


# ---- typed answers ----------------------------------------------------------------------------


async def _awaited_question(turn: Turn) -> Question | None:
    """The question a typed message answers; None after replying to one that answers nothing."""
    response = turn.response
    if turn.respondent is None or response is None:
        await start(turn)
        return None
    if response.current_question is None or response.status not in (
        ResponseStatus.IN_PROGRESS,
        ResponseStatus.COMPLETE,
    ):
        turn.say(render.plain(_closed_notice(turn)))
        return None
    return turn.services.questionnaire[response.current_question]


async def on_text(turn: Turn, text: str) -> None:
    """A typed message: the answer to an integer or text question, or a nudge to the buttons."""
    question = await _awaited_question(turn)
    if question is None:
        return
    if question.kind in (Kind.SINGLE, Kind.MULTI):
        await _show_current(turn, turn._("Please answer with the buttons below the question."))
        return
    try:
        value = _typed_value(question, text)
    except InvalidAnswer as error:
        turn.say(render.plain(invalid_message(turn._, error)))
        return
    assert turn.response is not None
    answers = await turn.answers()
    await _store(turn, question, value, answers, None)


async def on_non_text(turn: Turn) -> None:
    """A sticker, photo, voice message or the like where the bot waits for an answer."""
    question = await _awaited_question(turn)
    if question is None:
        return
    _ = turn._
    if question.kind is Kind.INTEGER:
        turn.say(render.plain(_("Please type your answer as a number, for example 34.")))
    elif question.kind is Kind.TEXT:
        turn.say(render.plain(_("Please type your answer as a text message.")))
    else:
        await _show_current(turn, _("Please answer with the buttons below the question."))


def _typed_value(question: Question, text: str) -> AnswerValue:
    if question.kind is Kind.INTEGER:
        return AnswerValue(number=parse_integer(question, text))
    return AnswerValue(text=clean_text(text, question.max_length))


def invalid_message(_: Translator, error: InvalidAnswer) -> str:
    """The respondent's explanation of why a typed answer was refused."""
    details = error.details
    if error.reason == "not_whole":
        return _("Please type a whole number, for example 34.")
    if error.reason == "out_of_range":
        return _("Please type an age from {minimum} to {maximum}.", **details)
    if error.reason == "too_long":
        return _(
            "Your message has {length} characters; the limit is {maximum}. Please shorten it and "
            "send it again.",
            **details,
        )
    if error.reason == "empty":
        return _("The message is empty. Please type your answer, or press Skip.")
    return _("Please type just the number of years, for example 34.")


# ---- storing an answer and moving on ----------------------------------------------------------


async def _store(
    turn: Turn, question: Question, value: AnswerValue, answers: Answers, message_id: int | None
) -> None:
    """Save the answer and go to what comes next, in one message to Telegram.

    A press (`message_id`: the pressed message) turns that message into the answers given on it
    and what comes next; a typed answer is the person's own message, so what comes next is sent.
    """
    response = turn.response
    assert response is not None
    questionnaire = turn.services.questionnaire
    if question.kind is Kind.INTEGER and value.number is not None and screens_out(question, value.number):
        if message_id is not None:
            turn.replies.append(StripButtons(message_id))
        _bump(response, question_message_id=None)
        turn.say(render.age_check(turn._, value.number, _position(response)), track=_position(response))
        return
    await repo.save_answer(turn.session, response, question.id, value, turn.now, answers.get(question.id))
    log.info("answer_stored", extra={"question": question.id})
    current = {**answers, question.id: value}
    step = advance(questionnaire, current, question.id, dependents_of=response.pending.get("edit"))
    for derived_id, derived in step.derived.items():
        await repo.save_answer(turn.session, response, derived_id, derived, turn.now, answers.get(derived_id))
    await repo.delete_answers(turn.session, response, step.dropped)
    current = {q: v for q, v in {**current, **step.derived}.items() if q not in step.dropped}
    pending: dict[str, Any] = {"edit": response.pending["edit"]} if "edit" in response.pending else {}
    if message_id is not None:
        pending["answered"] = [*response.pending.get("answered", ()), question.id]
    if step.next_question is None:
        pending = {k: v for k, v in pending.items() if k != "edit"}
    pending[ON_TURN_SINCE] = response.step + 1
    _bump(response, current_question=step.next_question, pending=pending, question_message_id=message_id)
    if step.next_question is None and response.status is ResponseStatus.IN_PROGRESS:
        response.status = ResponseStatus.COMPLETE
        response.completed_at = turn.now
        log.info("response_completed")
    turn.stored = current
    if message_id is None:
        await _show_current(turn, answers=current, lazy=True)
    else:
        view = _on_its_message(turn, current, _current_view(turn, current))
        turn.replies.append(Edit(message_id, view, _position(response)))
