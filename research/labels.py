"""Names of analysis variables and their values, for statistics, charts and exports."""

from __future__ import annotations

from core.i18n import LANGUAGE_NAMES, LANGUAGES, N_, Translator
from survey.analysis import AGE_BANDS
from survey.flow import label_of
from survey.model import SKIP, SKIP_LABEL, Questionnaire

NO_ANSWER = N_("No answer")
VARIABLE_NAMES = {"language": N_("Survey language"), "age_band": N_("Age group")}
SHORT_NO_ANSWER = N_("No ans.")
SHORT_SKIP = N_("Refused")
SHORT_LABELS = {
    "stance": {
        "russia": N_("Pro-Russia"),
        "ukraine": N_("Pro-Ukraine"),
        "peace": N_("Peace"),
        "unsure": N_("Unsure"),
    },
    "neutrality": {
        "support": N_("Neutral"),
        "more_ukraine": N_("Pro-UA"),
        "more_russia": N_("Pro-RU"),
        "unsure": N_("Unsure"),
    },
    "main_source": {
        "ru_tv": N_("RU TV"),
        "kz_tv": N_("KZ TV"),
        "kz_online": N_("KZ web"),
        "intl": N_("Intl"),
        "telegram": N_("Tg"),
        "social": N_("Social"),
        "people": N_("People"),
        "none": N_("No news"),
    },
    "city": {"oskemen": N_("Oskemen"), "other_city": N_("Other"), "village": N_("Village")},
}
"""Labels short enough for a phone-width table column (else the full label is used)."""


class Labels:
    """Translated labels of the analysis variables (codes of survey.analysis.VARIABLES)."""

    def __init__(self, _: Translator, questionnaire: Questionnaire) -> None:
        self._ = _
        self.questionnaire = questionnaire

    @property
    def language(self) -> str:
        return self._.language

    def variable(self, name: str) -> str:
        """What a variable is called, e.g. 'View of the war' for `stance`."""
        if name in VARIABLE_NAMES:
            return self._(VARIABLE_NAMES[name])
        return self._(self.questionnaire[name].short)

    def codes(self, name: str) -> list[str]:
        """Every value a variable can take, in questionnaire order (`skip` last)."""
        if name == "language":
            return list(LANGUAGES)
        if name == "age_band":
            return [code for code, _low, _high in AGE_BANDS] + [SKIP]
        question = self.questionnaire[name]
        if question.options_from:  # with one source chosen it is that one: `none` for no news
            source = self.questionnaire[question.options_from]
            return [o.code for o in source.options] + [SKIP]
        return list(question.codes)

    def value(self, name: str, code: str | None) -> str:
        """The label of one value; None (not asked, not answered) has a label of its own."""
        if code is None:
            return self._(NO_ANSWER)
        if name == "language":
            return self._(LANGUAGE_NAMES[code])
        if name == "age_band":
            return self._(SKIP_LABEL) if code == SKIP else code
        try:
            return self._(label_of(self.questionnaire[name], self.questionnaire, code))
        except KeyError:
            return code  # a code of an older questionnaire version

    def short(self, name: str, code: str | None) -> str:
        """A value's short label for table columns and rows: its short msgid, else its label."""
        if code is None:
            return self._(SHORT_NO_ANSWER)
        if code == SKIP:
            return self._(SHORT_SKIP)
        if code in SHORT_LABELS.get(name, {}):
            return self._(SHORT_LABELS[name][code])
        return self.value(name, code)

    def ordered(self, name: str, present: set[str | None]) -> list[str | None]:
        """The values in `present`, in questionnaire order, unknown codes and None last."""
        known = [code for code in self.codes(name) if code in present]
        rest = sorted(code for code in present if code is not None and code not in known)
        return [*known, *rest, *([None] if None in present else [])]
