"""Catalogs: every msgid translated in kk and ru, placeholders intact, Kazakh letters, Telegram limits."""

from __future__ import annotations

import re
from functools import cache

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from conversation.callbacks import Action, Callback, decode, encode
from core.config import ConfigError, load_settings
from core.i18n import LANGUAGES, LOCALES_DIR, I18n, MissingTranslationError, catalog_path
from survey.model import load_questionnaire
from tests.conftest import ROOT
from tests.harness import BotHarness

PLACEHOLDER = re.compile(r"\{(\w*)\}")
BUTTON_LABEL_LIMIT = 64
TELEGRAM_TEXT_LIMIT = 4096
LATIN_IN_CYRILLIC = re.compile(r"\b(?=\w*[a-zA-Z])(?=\w*[а-яА-ЯёЁәғқңөұүһіӘҒҚҢӨҰҮҺІ])\w+\b")
KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")


@cache
def used_msgids() -> frozenset[str]:
    """Every msgid the code and the questionnaire use, extracted as `pybabel extract` does."""
    method_map = [
        *((f"{room}/**.py", "python") for room in ("core", "conversation", "research", "bot")),
        ("survey/questionnaire.yaml", "questionnaire"),
    ]
    found = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords={"_": None, "N_": None, "ngettext": (1, 2)}
        )
    }
    return frozenset(found)


@cache
def catalog(language: str) -> Catalog:
    with catalog_path(language).open("rb") as handle:
        return read_po(handle, locale=language)


def test_extraction_finds_the_questionnaire_and_the_code() -> None:
    messages = used_msgids()
    assert "How old are you? Please type your age as a number, for example 34." in messages
    assert "I agree" in messages and len(messages) > 80


def test_template_is_up_to_date() -> None:
    """locales/messages.pot holds exactly the msgids in use (regenerate it as the README says)."""
    with (LOCALES_DIR / "messages.pot").open("rb") as handle:
        template = {m.id for m in read_po(handle) if m.id}
    assert sorted(used_msgids() - template) == []
    assert sorted(template - used_msgids()) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    entries = {m.id: m for m in catalog(language) if m.id}
    missing = sorted(used_msgids() - set(entries))
    empty = sorted(m for m in used_msgids() & set(entries) if not all(_forms(entries[m].string)))
    fuzzy = sorted(m for m in used_msgids() & set(entries) if entries[m].fuzzy)
    assert (missing, empty, fuzzy) == ([], [], [])


def _forms(string: str | tuple[str, ...]) -> tuple[str, ...]:
    """A translation's forms: one, or one per plural form."""
    return string if isinstance(string, tuple) else (string,)


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_entries_have_every_form(language: str) -> None:
    plural = [m for m in catalog(language) if m.id and isinstance(m.id, tuple)]
    assert plural, "the digest counts people with plural forms"
    assert all(len(_forms(m.string)) == catalog(language).num_plurals for m in plural)


def _pairs(language: str) -> list[tuple[str, str]]:
    """(source, translation) for every form of every translated entry."""
    pairs = []
    for m in catalog(language):
        if not m.id or not m.string:
            continue
        sources = m.id if isinstance(m.id, tuple) else (m.id,)
        forms = _forms(m.string)
        pairs += [(sources[min(i, len(sources) - 1)], form) for i, form in enumerate(forms)]
    return pairs


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_match(language: str) -> None:
    broken = [
        (source, text)
        for source, text in _pairs(language)
        if set(PLACEHOLDER.findall(source)) != set(PLACEHOLDER.findall(text))
    ]
    assert broken == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_commands_are_kept_verbatim(language: str) -> None:
    broken = [
        (source, text)
        for source, text in _pairs(language)
        if sorted(re.findall(r"/[a-z_]+", source)) != sorted(re.findall(r"/[a-z_]+", text))
    ]
    assert broken == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_texts_fit_telegram(language: str) -> None:
    questionnaire = load_questionnaire()
    labels = {o.label for q in questionnaire for o in q.options} | {q.short for q in questionnaire}
    entries = {m.id: str(m.string) for m in catalog(language) if m.id}
    assert [m for m, text in entries.items() if len(text) > TELEGRAM_TEXT_LIMIT] == []
    assert [entries[m] for m in labels if len(entries.get(m, "")) > BUTTON_LABEL_LIMIT] == []


def test_kazakh_uses_kazakh_letters_and_no_latin_look_alikes() -> None:
    entries = [str(m.string) for m in catalog("kk") if m.id and m.string]
    mixed = [word for text in entries for word in LATIN_IN_CYRILLIC.findall(text)]
    assert mixed == []
    with_kazakh = [text for text in entries if KAZAKH_LETTERS & set(text)]
    assert len(with_kazakh) > len(entries) // 2


def test_russian_is_cyrillic() -> None:
    entries = [str(m.string) for m in catalog("ru") if m.id and m.string]
    mixed = [word for text in entries for word in LATIN_IN_CYRILLIC.findall(text)]
    assert mixed == []
    assert not [
        text for text in entries if KAZAKH_LETTERS & set(text) and "Азат" not in text and "Қазақ" not in text
    ]


def test_start_up_refuses_a_catalog_missing_a_questionnaire_text(tmp_path: object) -> None:
    """A missing translation stops start-up with a message naming it."""
    import shutil
    from pathlib import Path

    target = Path(str(tmp_path)) / "locales"
    shutil.copytree(LOCALES_DIR, target)
    path = catalog_path("kk", target)
    text = path.read_text(encoding="utf-8")
    start = text.index('msgid "What is your gender?"')
    end = text.index("msgstr", start)
    line_end = text.index("\n", end)
    path.write_text(text[:end] + 'msgstr ""' + text[line_end:], encoding="utf-8")
    i18n = I18n.load(target)
    with pytest.raises(MissingTranslationError, match=r"kk.*What is your gender"):
        i18n.require(load_questionnaire().msgids())


async def test_the_languages_are_declared_once_and_everything_follows(harness: BotHarness) -> None:
    """The catalogs in locales/ are exactly core.i18n's languages; the settings, the buttons' data
    and the command menus follow that one declaration, and refuse any other language."""
    folders = sorted(path.parent.parent.name for path in LOCALES_DIR.glob("*/LC_MESSAGES/messages.po"))
    assert folders == sorted(LANGUAGES)
    for language in LANGUAGES:
        settings = load_settings(_env_file=None, default_language=language, digest_languages=language)
        assert (settings.default_language, settings.digest_languages) == (language, (language,))
        assert decode(encode(Action.LANGUAGE, language)) == Callback(Action.LANGUAGE, language=language)
    with pytest.raises(ConfigError, match=r"DEFAULT_LANGUAGE: expected one of kk, ru, got 'en'"):
        load_settings(_env_file=None, default_language="en")
    with pytest.raises(ConfigError, match=r"DIGEST_LANGUAGES: expected one of kk, ru, got 'en'"):
        load_settings(_env_file=None, digest_languages="kk,en")
    assert decode("l:en") is None and decode("c:en:yes") is None
    application = harness.application
    assert application.post_init is not None
    await application.post_init(application)
    menus = [call.params.get("language_code") for call in harness.calls("setMyCommands")]
    assert menus == [None, *LANGUAGES]


PHONE_SCREEN = 1000
"""Characters a respondent reads on one phone screen: the consent text and /help fit in one."""
NOT_ANONYMOUS = {
    "en": ("anonym", "not anonymous"),
    "kk": ("аноним", "анонимді емес"),
    "ru": ("аноним", "не аноним"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_consent_and_help_fit_a_phone_screen(language: str) -> None:
    long_ones = [m.id for m in catalog(language) if m.id and ("Do you agree" in m.id or "/help - " in m.id)]
    assert len(long_ones) == 2
    entries = {m.id: str(m.string) for m in catalog(language) if m.id}
    assert [(m, len(entries[m])) for m in long_ones if len(entries[m]) > PHONE_SCREEN] == []


def test_nothing_claims_the_survey_is_anonymous() -> None:
    """Pseudonymous, not anonymous: "anonymous" appears only as "not anonymous", in every language."""
    texts = [("en", message) for message in used_msgids() if isinstance(message, str)]
    texts += [(lang, str(m.string)) for lang in LANGUAGES for m in catalog(lang) if m.id and m.string]
    claims = [
        text
        for lang, text in texts
        if NOT_ANONYMOUS[lang][0] in text.lower() and NOT_ANONYMOUS[lang][1] not in text.lower()
    ]
    assert claims == []
    assert len([text for _lang, text in texts if "pseudonym" in text or "псевдоним" in text]) >= 6
