"""Command line: `python -m bot [run]` starts the bot; other subcommands are tools around it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.config import ConfigError, Settings, load_settings
from bot.i18n import MissingCatalogError, MissingTranslationError
from bot.logs import configure_logging
from survey.model import QuestionnaireError

log = logging.getLogger("bot")


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


def main(argv: list[str] | None = None) -> int:
    """Entry point; configuration problems print one line and exit with status 2."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        settings = load_settings()
        if args.command in (None, "run"):
            run(settings)
    except (ConfigError, QuestionnaireError, MissingCatalogError, MissingTranslationError) as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
