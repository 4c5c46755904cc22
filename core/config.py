"""Settings read once from the environment (and an optional .env file)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.i18n import LANGUAGES, known_language
from core.logs import MIN_SECRET_LENGTH
from core.privacy import key_bytes

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/survey.sqlite3"
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}")
SUPPORTED_DATABASES = ("sqlite+aiosqlite", "postgresql+asyncpg")
DEFAULT_CONCURRENT_UPDATES = 64
Language = Annotated[str, AfterValidator(known_language)]
"""One of core.i18n.LANGUAGES."""


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"configuration error: {variable}: {problem}")
        self.variable = variable


class SchemaSettings(BaseSettings):
    """What the database schema derives from, read once before the models are defined."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    questionnaire_file: Path | None = None
    """None: the questionnaire shipped in survey/."""


class Settings(SchemaSettings):
    """Every knob of the bot; the README's configuration table lists them all."""

    bot_token: SecretStr | None = None
    database_url: str = DEFAULT_DATABASE_URL
    pseudonym_key: SecretStr | None = None
    pseudonym_key_old: SecretStr | None = None
    unlink_after_days: int = Field(default=3, ge=1, le=7)
    """Days after a response's last change when it is cut from its pseudonym (told to respondents)."""
    researcher_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    digest_chat_id: int | None = None
    digest_schedule: str = "0 20 * * *"
    digest_languages: Annotated[tuple[Language, ...], NoDecode] = LANGUAGES
    digest_grace_hours: float = Field(default=6, ge=0)
    timezone: str = "Asia/Almaty"
    min_cell: int = Field(default=10, ge=1)
    weight_cap: float = Field(default=5, gt=1)
    speeder_fraction: float = Field(default=1 / 3, gt=0, lt=1)
    weight_speeders: bool = False
    weight_repeats: bool = True
    default_language: Language = "ru"
    bot_api_url: str = "https://api.telegram.org"
    webhook_url: str | None = None
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_secret: SecretStr | None = None
    concurrent_updates: int = Field(default=DEFAULT_CONCURRENT_UPDATES, ge=1)
    heartbeat_file: Path = Path("data/heartbeat")
    heartbeat_seconds: float = Field(default=15, gt=0)

    @field_validator("researcher_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            bad = [part for part in parts if not part.lstrip("-").isdigit()]
            if bad:
                raise ValueError(f"expected comma-separated Telegram user ids, got {bad[0]!r}")
            return frozenset(int(part) for part in parts)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("digest_languages", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        if isinstance(value, str):
            languages = tuple(part.strip() for part in value.split(",") if part.strip())
            if not languages:
                raise ValueError(f"expected a comma-separated list of {', '.join(LANGUAGES)}, got {value!r}")
            return languages
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if "://" not in value or scheme not in SUPPORTED_DATABASES:
            raise ValueError(f"expected a URL starting with one of {', '.join(SUPPORTED_DATABASES)}")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("expected 16 to 256 characters A-Z, a-z, 0-9, _ or -")
        return value

    @field_validator("bot_token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and 0 < len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"shorter than {MIN_SECRET_LENGTH} characters: not a token @BotFather gives, "
                "and too short to keep out of the logs"
            )
        return value

    @field_validator("pseudonym_key", "pseudonym_key_old")
    @classmethod
    def _strong_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            key_bytes(value.get_secret_value())
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("digest_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a cron expression ({exc})") from exc
        return value

    @field_validator("bot_api_url", "webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value.rstrip("/")

    def require(self, *names: str) -> None:
        """Raise ConfigError for the first of `names` that is not set."""
        for name in names:
            value = getattr(self, name)
            if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
                raise ConfigError(name.upper(), "not set")

    @property
    def secret_values(self) -> list[str]:
        """What no log line may show: the token, the keys, the database password (as in its URL)."""
        secrets = [self.bot_token, self.pseudonym_key, self.pseudonym_key_old, self.webhook_secret]
        values = [secret.get_secret_value() for secret in secrets if secret is not None]
        password = urlsplit(self.database_url).password
        return [*values, f":{password}@" if password else ""]

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when the URL is a file-backed SQLite one."""
        prefix = "sqlite+aiosqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        path = self.database_url[len(prefix) :].split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)


AnySettings = TypeVar("AnySettings", bound=BaseSettings)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's report into one ConfigError naming the variable."""
    return _load(Settings, **overrides)


def load_schema_settings() -> SchemaSettings:
    """Read only what the schema derives from (survey.analysis does, when first imported)."""
    return _load(SchemaSettings)


def _load(kind: type[AnySettings], **overrides: Any) -> AnySettings:
    try:
        return kind(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = str(error["loc"][0]).upper() if error["loc"] else "settings"
        raise ConfigError(variable, error["msg"].removeprefix("Value error, ")) from None
