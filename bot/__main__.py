"""Command line: `python -m bot [run]` starts the bot; other subcommands are tools around it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.i18n import LANGUAGES, MissingCatalogError, MissingTranslationError
from bot.logs import configure_logging
from survey.model import QuestionnaireError

log = logging.getLogger("bot")
EXPORT_FORMATS = ("csv", "xlsx", "sav")


async def prepare_database(settings: Settings) -> None:
    """Connect, and bring the schema to head; an unusable database is a ConfigError."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from db.engine import create_engine
    from db.migrate import UnknownRevisionError, upgrade_to_head

    try:
        engine = create_engine(settings.database_url)
    except (OSError, ValueError) as exc:
        raise ConfigError("DATABASE_URL", f"cannot use the database: {exc}") from None
    try:
        await upgrade_to_head(engine)
    except (OSError, OperationalError, DBAPIError, UnknownRevisionError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise ConfigError("DATABASE_URL", f"cannot use the database: {reason}") from None
    finally:
        await engine.dispose()


def run(settings: Settings) -> None:
    """Start the bot with long polling."""
    from bot.app import ALLOWED_UPDATES, build_application

    settings.require("bot_token", "pseudonym_key")
    asyncio.run(prepare_database(settings))
    application = build_application(settings)
    log.info("event=starting mode=polling")
    application.run_polling(allowed_updates=ALLOWED_UPDATES)


async def export_dataset(settings: Settings, file_format: str, out: Path, language: str) -> list[Path]:
    """Write the dataset in `file_format` to `out`, and its codebook beside it."""
    from bot.export import WRITERS, collect, write_codebook
    from bot.i18n import I18n
    from bot.labels import Labels
    from db.engine import create_engine, session_factory
    from survey.model import load_questionnaire

    await prepare_database(settings)
    engine = create_engine(settings.database_url)
    try:
        labels = Labels(I18n.load().translator(language), load_questionnaire())
        table = await collect(session_factory(engine), labels)
    finally:
        await engine.dispose()
    codebook = out.with_name(f"{out.stem}-codebook.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(WRITERS[file_format], table, out)
    await asyncio.to_thread(write_codebook, table, codebook)
    log.info("event=export rows=%d format=%s", table.rows, file_format)
    return [out, codebook]


def main(argv: list[str] | None = None) -> int:
    """Entry point; configuration problems print one line and exit with status 2."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    exporting = sub.add_parser("export", help="write the dataset and its codebook (needs only DATABASE_URL)")
    exporting.add_argument("--format", choices=EXPORT_FORMATS, required=True, dest="file_format")
    exporting.add_argument("--out", type=Path, required=True, help="the file to write")
    exporting.add_argument("--language", choices=LANGUAGES, help="language of the labels (DEFAULT_LANGUAGE)")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        settings = load_settings()
        if args.command in (None, "run"):
            run(settings)
        elif args.command == "export":
            language = args.language or settings.default_language
            for path in asyncio.run(export_dataset(settings, args.file_format, args.out, language)):
                print(path)
    except (ConfigError, QuestionnaireError, MissingCatalogError, MissingTranslationError) as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
