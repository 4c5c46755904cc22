"""Gettext catalogs from locales/, loaded from the .po files with Babel."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

import locales

LOCALES_DIR = Path(locales.__file__).resolve().parent
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a msgid for extraction where it is translated later (pybabel -k N_)."""
    return message


LANGUAGE_NAMES = {"kk": N_("Kazakh"), "ru": N_("Russian")}
"""The bot's languages, declared here only: code (locales/CODE/) and name (a msgid), in menu order."""
LANGUAGES = tuple(LANGUAGE_NAMES)


def supported_language(language_code: str | None) -> str | None:
    """The bot's language for a Telegram language code ("kk-KZ" is kk), or None."""
    language = (language_code or "").split("-")[0].lower()
    return language if language in LANGUAGES else None


class UnknownLanguageError(ValueError):
    """A language code the bot has no catalog for."""

    def __init__(self, language: str) -> None:
        super().__init__(f"expected one of {', '.join(LANGUAGES)}, got {language!r}")


def known_language(language: str) -> str:
    """`language` if the bot speaks it; UnknownLanguageError otherwise (for settings and arguments)."""
    if language not in LANGUAGES:
        raise UnknownLanguageError(language)
    return language


class MissingTranslationError(Exception):
    """A catalog lacks a translation the bot needs."""

    def __init__(self, language: str, message: str) -> None:
        super().__init__(f"locales/{language}: no translation for {message!r}")


class MissingCatalogError(Exception):
    """A language has no catalog in locales/."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"translation catalog not found: {path}")


def catalog_path(language: str, locales_dir: Path = LOCALES_DIR) -> Path:
    """Where the .po file of `language` lives."""
    return locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalog(language: str, locales_dir: Path = LOCALES_DIR) -> bytes:
    """One language's .po as .mo bytes; fuzzy entries are left out, as msgfmt does."""
    path = catalog_path(language, locales_dir)
    if not path.exists():
        raise MissingCatalogError(path)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def compile_catalogs(locales_dir: Path = LOCALES_DIR) -> list[Path]:
    """Write messages.mo beside every messages.po (the image does this at build)."""
    written = []
    for language in LANGUAGES:
        target = catalog_path(language, locales_dir).with_suffix(".mo")
        target.write_bytes(compile_catalog(language, locales_dir))
        written.append(target)
    return written


def load_translations(language: str, locales_dir: Path = LOCALES_DIR) -> Translations:
    """A language's translations: its compiled .mo when up to date, else the .po compiled in memory."""
    source = catalog_path(language, locales_dir)
    compiled = source.with_suffix(".mo")
    if compiled.exists() and (not source.exists() or compiled.stat().st_mtime >= source.stat().st_mtime):
        data = compiled.read_bytes()
    else:
        data = compile_catalog(language, locales_dir)
    return Translations(fp=BytesIO(data), domain=DOMAIN)


@dataclass(frozen=True)
class I18n:
    """Every language's translations, loaded once at start."""

    translations: dict[str, Translations]

    @classmethod
    def load(cls, locales_dir: Path = LOCALES_DIR) -> I18n:
        return cls({lang: load_translations(lang, locales_dir) for lang in LANGUAGES})

    def gettext(self, language: str, message: str, **values: object) -> str:
        """The translation of `message` in `language`, with {placeholders} filled."""
        text = self.translations[language].gettext(message)
        return text.format(**values) if values else text

    def ngettext(self, language: str, singular: str, plural: str, n: int, **values: object) -> str:
        """The plural form for `n` in `language`, with {placeholders} (and {n}) filled."""
        return self.translations[language].ngettext(singular, plural, n).format(n=n, **values)

    def require(self, messages: list[str]) -> None:
        """Raise MissingTranslationError unless every catalog translates every message."""
        for language, translations in self.translations.items():
            catalog = translations._catalog
            for message in messages:
                if not catalog.get(message):
                    raise MissingTranslationError(language, message)

    def translator(self, language: str) -> Translator:
        """A `_` bound to one language, for code that renders many strings."""
        return Translator(self, language)


@dataclass(frozen=True)
class Translator:
    """`_("msgid", **values)` in one language."""

    i18n: I18n
    language: str

    def __call__(self, message: str, **values: object) -> str:
        return self.i18n.gettext(self.language, message, **values)

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        """The form for `n` (Russian has three), with {n} and the other placeholders filled."""
        return self.i18n.ngettext(self.language, singular, plural, n, **values)
