"""Reading the bot's messages as a respondent does: which question is on screen, which button is which.

Simulated respondents know nothing of the bot's internals: they recognise questions by their
translated text and press buttons by their translated labels, from the same catalogs the bot uses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from bot.handlers import TRY_AGAIN
from conversation import render
from conversation.turns import ALREADY_AGREED, ALREADY_ANSWERED
from core.i18n import LANGUAGE_NAMES, LANGUAGES, I18n
from devtools.emulator.client import Shown
from devtools.emulator.core import visible_text
from survey.flow import label_of
from survey.model import SKIP, Question, Questionnaire


class Kind(StrEnum):
    """What a message with buttons asks for."""

    LANGUAGE = "language"
    CONSENT = "consent"
    QUESTION = "question"
    SUMMARY = "summary"
    ERASE = "erase"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Screen:
    """What the respondent recognises on a message: its kind, question and language."""

    kind: Kind
    language: str | None = None
    question: Question | None = None


NOWHERE = render.Position(uuid.UUID(int=0), 0)


def _plain(view: render.View) -> str:
    """A view's text as the user reads it (markup removed)."""
    return visible_text(view.text, "HTML")


class Reader:
    """Recognises screens and finds labels in either language."""

    def __init__(self, i18n: I18n, questionnaire: Questionnaire) -> None:
        self.i18n = i18n
        self.questionnaire = questionnaire
        markers: list[tuple[str, Screen]] = [(_plain(render.language_prompt(i18n)), Screen(Kind.LANGUAGE))]
        for language in LANGUAGES:
            _ = i18n.translator(language)
            summary_title = _plain(render.summary_view(_, questionnaire, {}, NOWHERE)).splitlines()[0]
            markers += [
                (_plain(render.consent_prompt(_, 1)).split("\n")[0], Screen(Kind.CONSENT, language)),
                (summary_title, Screen(Kind.SUMMARY, language)),
                (_plain(render.erase_prompt(_, 1)).split("\n")[0], Screen(Kind.ERASE, language)),
            ]
            markers += [(_(q.text), Screen(Kind.QUESTION, language, q)) for q in questionnaire]
        self._markers = markers
        self.try_again = frozenset(i18n.gettext(language, TRY_AGAIN) for language in LANGUAGES)
        """The bot's "something went wrong, try again" notice, in each language."""
        self.already_answered = frozenset(i18n.gettext(language, ALREADY_ANSWERED) for language in LANGUAGES)
        """The toast on a press of a question no longer on turn, in each language."""
        self.already_agreed = frozenset(i18n.gettext(language, ALREADY_AGREED) for language in LANGUAGES)
        """The toast on a consent prompt pressed by someone who has agreed, in each language."""

    def read(self, message: Shown | None) -> Screen:
        """What `message` asks for (UNKNOWN when nothing matches).

        A message shows the answers given on it above what it asks now, so the text that ends
        last is the one asked; of two ending together, the longer (no text is taken for a
        shorter one it contains).
        """
        text = (message.text or "") if message else ""
        found = [(text.rfind(marker), marker, screen) for marker, screen in self._markers]
        ends = [(at + len(marker), len(marker), screen) for at, marker, screen in found if at >= 0]
        return max(ends, key=lambda end: end[:2], default=(0, 0, Screen(Kind.UNKNOWN)))[2]

    def text(self, language: str, msgid: str) -> str:
        return self.i18n.gettext(language, msgid)

    def language_label(self, language: str) -> str:
        """The language button: each language is named in itself."""
        return self.text(language, LANGUAGE_NAMES[language])

    def option(self, language: str, question: Question, code: str) -> str:
        """The label of an answer button (Prefer not to answer / Skip for `skip`)."""
        if code == SKIP:
            return self.text(language, question.skip_label)
        return self.text(language, label_of(question, self.questionnaire, code))

    def find(self, message: Shown, *candidates: str) -> str:
        """The first of `candidates` present on `message` (ticked or not), else the first one."""
        labels = message.labels
        for label in candidates:
            if label in labels:
                return label
            if render.CHECKED + label in labels:
                return render.CHECKED + label
        return candidates[0]

    def option_on(self, message: Shown, question: Question, code: str, language: str | None) -> str:
        """The label of `code` as shown on `message`, trying the screen's language first."""
        order = [language] if language else []
        order += [lang for lang in LANGUAGES if lang not in order]
        return self.find(message, *(self.option(lang, question, code) for lang in order))

    def button_on(self, message: Shown, msgid: str, language: str | None) -> str:
        """The label of a fixed button (Done, I agree...) as shown on `message`."""
        order = [language] if language else []
        order += [lang for lang in LANGUAGES if lang not in order]
        return self.find(message, *(self.text(lang, msgid) for lang in order))
