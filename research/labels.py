"""Names of analysis variables and their values, for statistics, charts and exports."""

from __future__ import annotations

from core.i18n import LANGUAGE_NAMES, LANGUAGES, N_, Translator
from survey.flow import label_of
from survey.model import LANGUAGE_VARIABLE, SKIP, SKIP_LABEL, Questionnaire, Variable

NO_ANSWER = N_("No answer")
LANGUAGE_NAME = N_("Survey language")
SHORT_NO_ANSWER = N_("No ans.")
SHORT_SKIP = N_("Refused")


class Labels:
    """Translated labels of the analysis variables (codes of survey.analysis.VARIABLES)."""

    def __init__(self, _: Translator, questionnaire: Questionnaire) -> None:
        self._ = _
        self.questionnaire = questionnaire

    def _analysed(self, name: str) -> Variable:
        """The analysed variable `name`, or else the question `name` itself (exports label them all)."""
        return self.questionnaire.analysis.variable(name) or Variable(name, name)

    @property
    def language(self) -> str:
        return self._.language

    def variable(self, name: str) -> str:
        """What a variable is called: its question's short name, e.g. 'View of the war'."""
        if name == LANGUAGE_VARIABLE:
            return self._(LANGUAGE_NAME)
        variable = self._analysed(name)
        return self._(variable.short or self.questionnaire[variable.question].short)

    def codes(self, name: str) -> list[str]:
        """Every value a variable can take, in questionnaire order (`skip` last)."""
        if name == LANGUAGE_VARIABLE:
            return list(LANGUAGES)
        variable = self._analysed(name)
        if variable.bands:
            return [band.code for band in variable.bands] + [SKIP]
        question = self.questionnaire[variable.question]
        if question.options_from:  # with one source chosen it is that one: an exclusive one too
            source = self.questionnaire[question.options_from]
            return [o.code for o in source.options] + [SKIP]
        return list(question.codes)

    def value(self, name: str, code: str | None) -> str:
        """The label of one value; None (not asked, not answered) has a label of its own."""
        if code is None:
            return self._(NO_ANSWER)
        if name == LANGUAGE_VARIABLE:
            return self._(LANGUAGE_NAMES[code])
        variable = self._analysed(name)
        if variable.bands:
            return self._(SKIP_LABEL) if code == SKIP else code
        try:
            return self._(label_of(self.questionnaire[variable.question], self.questionnaire, code))
        except KeyError:
            return code  # a code of an older questionnaire version

    def short(self, name: str, code: str | None) -> str:
        """A value's short label for table columns and rows: its option's `short` msgid, else its label."""
        if code is None:
            return self._(SHORT_NO_ANSWER)
        if code == SKIP:
            return self._(SHORT_SKIP)
        variable = self._analysed(name)
        if name != LANGUAGE_VARIABLE and not variable.bands:
            question = self.questionnaire[variable.question]
            source = self.questionnaire[question.options_from] if question.options_from else question
            option = next((o for o in source.options if o.code == code), None)
            if option is not None and option.short:
                return self._(option.short)
        return self.value(name, code)

    def ordered(self, name: str, present: set[str | None]) -> list[str | None]:
        """The values in `present`, in questionnaire order, unknown codes and None last."""
        known = [code for code in self.codes(name) if code in present]
        rest = sorted(code for code in present if code is not None and code not in known)
        return [*known, *rest, *([None] if None in present else [])]
