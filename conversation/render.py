"""Texts and buttons the respondent sees, built from the questionnaire and catalogs.

Telegram-free: a View says what to show; the Telegram glue turns its buttons into a keyboard.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from conversation.callbacks import Action, encode
from core.i18n import LANGUAGE_NAMES, LANGUAGES, N_, I18n, Translator
from survey.flow import Answers, AnswerValue, available_options, label_of
from survey.model import SKIP, Kind, Question, Questionnaire

CHECKED = "✅ "
LANGUAGE_PROMPT = N_("Please choose your language")
SUMMARY_COMMENT_CHARS = 200
MAX_TEXT = 4096
"""Telegram's limit on a message's text."""


@dataclass(frozen=True)
class Button:
    """An inline button: its label and the callback data it sends back."""

    label: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class View:
    """A message to send or to edit into place: HTML text and rows of buttons (none: no keyboard)."""

    text: str
    buttons: Keyboard = ()


@dataclass(frozen=True)
class Position:
    """Ties buttons to one step of one response, so stale presses can be recognised."""

    response_id: uuid.UUID
    step: int

    @property
    def tag(self) -> str:
        return short_id(self.response_id)


def short_id(response_id: uuid.UUID) -> str:
    """The 8 hex digits of a response id that its buttons carry."""
    return response_id.hex[:8]


def _rows(buttons: Sequence[Button], columns: int) -> Keyboard:
    return tuple(tuple(buttons[i : i + columns]) for i in range(0, len(buttons), columns))


def language_prompt(i18n: I18n) -> View:
    """Choose your language, asked in both languages."""
    text = " / ".join(escape(i18n.gettext(lang, LANGUAGE_PROMPT)) for lang in LANGUAGES)
    buttons = [
        Button(i18n.gettext(lang, LANGUAGE_NAMES[lang]), encode(Action.LANGUAGE, lang)) for lang in LANGUAGES
    ]
    return View(text, (tuple(buttons),))


def unlink_period(_: Translator, days: int) -> str:
    """How long until answers are unlinked, in words ("3 days") that fit "... after your last answer"."""
    return _.ngettext("{n} day", "{n} days", days)


def consent_prompt(_: Translator, unlink_after_days: int) -> View:
    """The consent statement with Agree / No thanks: what is kept, for how long, and the chat."""
    text = _(
        "This is an independent research survey about views on the war in Ukraine. "
        "It takes about 2 minutes.\n\n"
        "It is pseudonymous, not anonymous: we keep your answers under a code made from your "
        "Telegram ID, never the ID itself, your name or username. {period} after your last answer "
        "we delete the code: your answers stay for the research, but no one can link them to you "
        "any more, nor change or erase them. Until then /delete erases them. Results are published "
        "only as totals of groups large enough that nobody can be singled out.\n\n"
        "Telegram keeps this chat like any other. At the end a button clears it, or clear it "
        "yourself in the chat's menu.\n\n"
        "Do you agree to take part?",
        period=unlink_period(_, unlink_after_days),
    )
    buttons = (
        (Button(_("I agree"), encode(Action.CONSENT, _.language, "yes")),),
        (Button(_("No, thanks"), encode(Action.CONSENT, _.language, "no")),),
    )
    return View(escape(text), buttons)


def _position(question: Question) -> Callable[[str], int]:
    """An option code's place in the question's list (unknown codes last)."""
    order = {code: index for index, code in enumerate(question.codes)}
    return lambda code: order.get(code, len(order))


def answer_text(
    _: Translator,
    question: Question,
    questionnaire: Questionnaire,
    value: AnswerValue,
    limit: int | None = None,
) -> str:
    """An answer as the respondent reads it (escaped for HTML)."""
    if value.skipped:
        return escape(_(question.skip_label))
    if question.kind is Kind.INTEGER:
        return str(value.number)
    if question.kind is Kind.TEXT:
        text = value.text or ""
        if limit and len(text) > limit:
            text = text[:limit].rstrip() + "…"
        return escape(text)
    codes = (
        sorted(value.choices, key=_position(question))  # in the order the question lists them
        if question.kind is Kind.MULTI
        else (value.option or "",)
    )
    return escape(", ".join(_(label_of(question, questionnaire, code)) for code in codes))


def question_view(
    _: Translator,
    question: Question,
    questionnaire: Questionnaire,
    answers: Answers,
    position: Position,
    order: Sequence[str] | None = None,
    selected: Sequence[str] = (),
    notice: str | None = None,
) -> View:
    """A question with its buttons; for multi questions the current selection is ticked."""
    text = f"<b>{escape(_(question.text))}</b>"
    if notice:
        text = f"{escape(notice)}\n\n{text}"
    tag, step = position.tag, position.step
    buttons: list[Button] = []
    skip_button = Button(_(question.skip_label), encode(Action.ANSWER, tag, step, SKIP))
    if question.kind in (Kind.SINGLE, Kind.MULTI):
        toggles = question.kind is Kind.MULTI
        for code in available_options(question, questionnaire, answers, order):
            if code == SKIP:
                continue
            label = _(label_of(question, questionnaire, code))
            if toggles:
                ticked = code in selected
                data = encode(Action.TOGGLE, tag, step, code, int(ticked))
                buttons.append(Button((CHECKED if ticked else "") + label, data))
            else:
                buttons.append(Button(label, encode(Action.ANSWER, tag, step, code)))
    rows = _rows(buttons, question.columns)
    if question.kind is Kind.MULTI:
        rows += ((Button(_("Done"), encode(Action.DONE, tag, step)),),)
    return View(text, (*rows, (skip_button,)))


def answered_view(
    _: Translator, question: Question, questionnaire: Questionnaire, value: AnswerValue
) -> View:
    """The question message after it was answered: the answer shown, no buttons left."""
    shown = answer_text(_, question, questionnaire, value, limit=SUMMARY_COMMENT_CHARS)
    return View(f"{escape(_(question.text))}\n\n➡️ <b>{shown}</b>")


def consented_view(_: Translator, unlink_after_days: int, agreed: bool = True) -> View:
    """The consent statement after the respondent answered it."""
    chosen = _("I agree") if agreed else _("No, thanks")
    return View(f"{consent_prompt(_, unlink_after_days).text}\n\n➡️ <b>{escape(chosen)}</b>")


def below(answered: Sequence[View], view: View) -> View:
    """`view` under what was answered on the same message before, oldest dropped past Telegram's limit.

    One message carries a run of answers: each press turns it into the answers so far and what
    comes next, so the chat keeps every answer given and costs one request per answer.
    """
    texts = [shown.text for shown in answered]
    while texts and len("\n\n".join([*texts, view.text])) > MAX_TEXT:
        texts.pop(0)
    return View("\n\n".join([*texts, view.text]), view.buttons)


def summary_view(_: Translator, questionnaire: Questionnaire, answers: Answers, position: Position) -> View:
    """Thanks, every answer given, and a button to change each of them."""
    lines = [escape(_("Thank you for taking part! Your answers:")), ""]
    buttons: list[Button] = []
    for question in questionnaire:
        value = answers.get(question.id)
        if value is None:
            continue
        shown = answer_text(_, question, questionnaire, value, limit=SUMMARY_COMMENT_CHARS)
        lines.append(f"• {escape(_(question.short))}: <b>{shown}</b>")
        if question.options_from is None or len(available_options(question, questionnaire, answers)) > 2:
            buttons.append(
                Button(
                    "✏️ " + _(question.short),
                    encode(Action.EDIT, position.tag, position.step, question.id),
                )
            )
    lines += [
        "",
        escape(_("To change an answer, press its button below. To erase all your answers, send /delete.")),
    ]
    clear = Button(_("Clear this chat, keep my answers"), encode(Action.CLEAR, position.tag, position.step))
    return View("\n".join(lines), (*_rows(buttons, 2), (clear,)))


def age_check(_: Translator, age: int, position: Position) -> View:
    """An age under 18 is asked again before it ends the survey: a typo must not lock anyone out."""
    text = _("You typed {age}. Is that right? This survey is only for people aged 18 and over.", age=age)
    tag, step = position.tag, position.step
    buttons = (
        (Button(_("Yes, that is right"), encode(Action.AGE, tag, step, "yes")),),
        (Button(_("No, let me correct it"), encode(Action.AGE, tag, step, "no")),),
    )
    return View(escape(text), buttons)


def erase_prompt(_: Translator, unlink_after_days: int) -> View:
    """Are you sure you want to erase your answers? With what an erasure leaves behind."""
    buttons = (
        (Button(_("Yes, erase my answers"), encode(Action.ERASE, "yes")),),
        (Button(_("No, keep my answers"), encode(Action.ERASE, "no")),),
    )
    kept = _(
        "For {period} we keep only a coded mark that this Telegram account erased its answers (not "
        "the answers, nor the ID itself): if you take the survey again in that time, your new answers "
        "are counted as a repeat.",
        period=unlink_period(_, unlink_after_days),
    )
    question = _("Erase all your answers? This cannot be undone.")
    return View(escape(f"{question}\n\n{kept}"), buttons)


def plain(text: str) -> View:
    """A translated sentence as a message without buttons."""
    return View(escape(text))
