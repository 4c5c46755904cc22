"""Health: the running bot's heartbeat while it receives updates, and the container's check of it.

The receiver writes the time into HEARTBEAT_FILE at most every HEARTBEAT_SECONDS while it
receives updates (polling: each answered getUpdates; webhook: while its server runs), and
removes the file when it dies. `python -m bot health` fails when the file is missing or older
than STALE_BEATS heartbeats, or when the database does not answer at the code's revision.
The file holds a time only: nothing about anyone.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from core.config import Settings
from db.engine import create_engine
from db.migrate import RevisionMismatchError, require_head

STALE_BEATS = 4
"""Heartbeats missed before the bot counts as not receiving updates."""


class UnhealthyError(Exception):
    """The bot cannot do its work; the message says why."""


class Heartbeat:
    """The running bot's side: the time written to `path`, at most once per `seconds`."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.path, self.seconds = path, seconds
        self._last: float | None = None

    @classmethod
    def of(cls, settings: Settings) -> Heartbeat:
        """The heartbeat the settings name."""
        return cls(settings.heartbeat_file, settings.heartbeat_seconds)

    def beat(self) -> None:
        """Record that updates are being received (skipped if recorded less than `seconds` ago)."""
        now = time.monotonic()
        if self._last is not None and now - self._last < self.seconds:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        partial.write_text(f"{time.time():.3f}\n")
        partial.replace(self.path)
        self._last = now

    def stop(self) -> None:
        """No longer receiving: remove the heartbeat, so that the check fails at once."""
        self.path.unlink(missing_ok=True)
        self._last = None


def heartbeat_age(path: Path) -> float:
    """Seconds since the heartbeat in `path`; raises UnhealthyError without a readable one."""
    try:
        written = float(path.read_text().strip())
    except (OSError, ValueError):
        raise UnhealthyError(f"not receiving updates: no heartbeat in {path}") from None
    return time.time() - written


async def check(settings: Settings) -> str:
    """The schema revision when all is well; raises UnhealthyError otherwise."""
    engine = create_engine(settings.database_url)
    try:
        revision = await require_head(engine)
    except RevisionMismatchError as exc:
        raise UnhealthyError(str(exc)) from None
    except Exception as exc:  # any failure to read is "unhealthy", with its reason
        raise UnhealthyError(f"database unreachable: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    finally:
        await engine.dispose()
    age, limit = heartbeat_age(settings.heartbeat_file), STALE_BEATS * settings.heartbeat_seconds
    if age > limit:
        raise UnhealthyError(
            f"not receiving updates: last heartbeat in {settings.heartbeat_file} {age:.0f} s ago"
            f" (limit {limit:.0f} s)"
        )
    return revision
