"""Command line: `python -m bot [run]` starts the bot; other subcommands are tools around it.

With no subcommand, the bot runs when a token is configured; without one, the sandbox runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from core.config import ConfigError, Settings, load_settings
from core.i18n import LANGUAGES, MissingCatalogError, MissingTranslationError
from core.logs import configure_logging
from survey.model import QuestionnaireError

log = logging.getLogger("bot")
DEVTOOLS_MISSING = (
    "a development tool (devtools/), not installed with the bot; run it from a checkout of the sources"
)


async def prepare_database(settings: Settings, *, migrate: bool = True) -> None:
    """Connect, and bring the schema to head (or, not `migrate`, check it is there, changing nothing).

    An unusable database, or one at another revision when not migrating, is a ConfigError.
    """
    from sqlalchemy.exc import DBAPIError, OperationalError

    from db.engine import create_engine
    from db.migrate import (
        RevisionMismatchError,
        UnknownRevisionError,
        head_revision,
        require_head,
        upgrade_to_head,
    )

    if not migrate and settings.sqlite_path is not None and not settings.sqlite_path.exists():
        raise ConfigError("DATABASE_URL", str(RevisionMismatchError(None, head_revision())))
    try:
        engine = create_engine(settings.database_url)
    except (OSError, ValueError) as exc:
        raise ConfigError("DATABASE_URL", f"cannot use the database: {exc}") from None
    try:
        await (upgrade_to_head(engine) if migrate else require_head(engine))
    except RevisionMismatchError as exc:
        raise ConfigError("DATABASE_URL", str(exc)) from None
    except (OSError, OperationalError, DBAPIError, UnknownRevisionError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise ConfigError("DATABASE_URL", f"cannot use the database: {reason}") from None
    finally:
        await engine.dispose()


TOKEN_REJECTED = ConfigError(
    "BOT_TOKEN", "Telegram rejected the token (revoked or mistyped?); @BotFather gives one"
)


def run(settings: Settings) -> int:
    """Start the bot (long polling, or a webhook server when WEBHOOK_URL is set); 1 if receiving failed."""
    from telegram.error import InvalidToken

    from bot.app import build_application, build_receiver
    from bot.receiving import ReceiverDiedError, Webhook, serve

    settings.require("bot_token", "pseudonym_key")
    if settings.webhook_url:
        settings.require("webhook_secret")
    asyncio.run(prepare_database(settings))
    application = build_application(settings)
    receiver = build_receiver(settings, application)
    log.info("starting", extra={"mode": "webhook" if isinstance(receiver.source, Webhook) else "polling"})
    try:
        asyncio.run(serve(application, receiver))
    except InvalidToken:  # at start: Telegram's message names the token, this one does not
        raise TOKEN_REJECTED from None
    except ReceiverDiedError as died:
        if isinstance(died.error, InvalidToken):
            raise TOKEN_REJECTED from None
        return 1  # logged as receiver_died, with the reason
    return 0


async def export_dataset(settings: Settings, file_format: str, out: Path, language: str) -> list[Path]:
    """Write the dataset in `file_format` to `out`, and its codebook beside it; never migrates.

    An XLSX file of more rows than a sheet holds is TooManyRowsError (nothing is written).
    """
    from core.i18n import I18n
    from research.datasets import Export, write_format
    from research.export import write_codebook
    from research.labels import Labels
    from research.weights import Plan
    from survey.analysis import schema_questionnaire
    from survey.targets import load_targets

    await prepare_database(settings, migrate=False)
    questionnaire = schema_questionnaire(settings.questionnaire_file)
    labels = Labels(I18n.load().translator(language), questionnaire)
    plan = Plan.from_settings(load_targets(questionnaire), settings)
    what = Export(settings.database_url, language, questionnaire, True, plan, settings.speeder_fraction)
    codebook = out.with_name(f"{out.stem}-codebook.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    rows, found = await write_format(what, labels, file_format, out)
    await asyncio.to_thread(write_codebook, found, codebook)
    log.info("export", extra={"rows": rows, "format": file_format})
    return [out, codebook]


def export(settings: Settings, file_format: str, out: Path, language: str) -> int:
    """`python -m bot export`: the paths written, or why an XLSX file cannot hold the dataset (status 1)."""
    from core.i18n import I18n
    from research.export import TooManyRowsError, too_many_rows_text

    try:
        paths = asyncio.run(export_dataset(settings, file_format, out, language))
    except TooManyRowsError as error:
        print(too_many_rows_text(I18n.load().translator(language), error), file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


def health(settings: Settings) -> int:
    """The container's health check: 0 when healthy, else 1 with the reason on stderr."""
    from bot.health import UnhealthyError, check

    try:
        asyncio.run(check(settings))
    except UnhealthyError as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    """The command line (its export formats come from the questionnaire-bound research.export)."""
    from research.export import WRITERS

    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default when BOT_TOKEN is set)")
    sandbox = sub.add_parser(
        "sandbox", help="the bot on an emulated Telegram with a simulated crowd (default without BOT_TOKEN)"
    )
    sandbox.add_argument("--respondents", type=int, default=200, help="size of the crowd (default 200)")
    sandbox.add_argument("--seed", type=int, default=2022, help="seed of the crowd's answers")
    sandbox.add_argument("--out", default="sandbox", help="folder for the database, charts and exports")
    sandbox.add_argument(
        "--digest-wait", type=float, default=75.0, help="seconds to wait for the scheduled digest (0: don't)"
    )
    chat = sub.add_parser("chat", help="talk to the bot in this terminal, through the local emulator")
    chat.add_argument("--language", default="ru", help="your Telegram app's language (kk, ru, en...)")
    chat.add_argument("--out", default="sandbox", help="folder for the chat's database and bot log")
    emulator = sub.add_parser("emulator", help="serve the local Bot API emulator alone")
    emulator.add_argument("--port", type=int, default=8081)
    emulator.add_argument("--token", default=None, help="the bot token it accepts")
    exporting = sub.add_parser("export", help="write the dataset and its codebook (needs only DATABASE_URL)")
    exporting.add_argument("--format", choices=tuple(WRITERS), required=True, dest="file_format")
    exporting.add_argument("--out", type=Path, required=True, help="the file to write")
    exporting.add_argument("--language", choices=LANGUAGES, help="language of the labels (DEFAULT_LANGUAGE)")
    sub.add_parser("migrate", help="bring the database schema to the newest revision")
    sub.add_parser(
        "health",
        help="exit 0 when the running bot receives updates and the database is at the newest revision",
    )
    sub.add_parser("compile-catalogs", help="write the compiled .mo beside each locales/ catalog")
    sub.add_parser("keygen", help="print a fresh PSEUDONYM_KEY (256 random bits as 64 hex digits)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; configuration problems print one line and exit with status 2."""
    configure_logging()
    command = "python -m bot"
    try:
        args = _parser().parse_args(argv)
        if args.command == "keygen":
            from core.privacy import new_key

            print(new_key())
            return 0
        settings = load_settings()
        configure_logging(secrets=settings.secret_values)
        command = args.command or ("run" if settings.bot_token else "sandbox")
        if command == "run":
            return run(settings)
        elif command == "sandbox":
            from devtools.sandbox.run import run_sandbox

            args = args if args.command else _parser().parse_args(["sandbox"])
            return run_sandbox(args.respondents, args.seed, args.out, args.digest_wait)
        elif command == "chat":
            from devtools.sandbox.chat import run_chat

            return run_chat(args.language, args.out)
        elif command == "emulator":
            from devtools.emulator.server import serve

            serve(args.port, args.token)
        elif command == "export":
            return export(settings, args.file_format, args.out, args.language or settings.default_language)
        elif command == "migrate":
            asyncio.run(prepare_database(settings))
        elif command == "health":
            return health(settings)
        elif command == "compile-catalogs":
            from core.i18n import compile_catalogs

            for path in compile_catalogs():
                print(path)
    except (ConfigError, QuestionnaireError, MissingCatalogError, MissingTranslationError) as error:
        print(error, file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] != "devtools":
            raise
        print(f"{command}: {DEVTOOLS_MISSING}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
