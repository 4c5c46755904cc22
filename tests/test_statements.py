"""SQL statements per answer, per question kind, on both databases (SQLAlchemy's cursor events).

Each answer keeps its guarantees: the update is claimed (exactly once, processed_updates), the
respondent is row-locked (replicas never interleave one person's answers), and the answer is
stored in the same transaction, before any reply. What that costs, per kind of answer:

| kind          | PostgreSQL | what they are                                                        |
| integer, text | 8 | claim, lock, keep the person's message id (for /delete), answers, store, move on; then note the next question's message and keep its id |
| single        | 5 | claim, lock (respondent and response in one), answers, store, move on      |
| multi toggle  | 4 | claim, lock, move on (the selection), answers                              |
| multi done    | 6 | claim, lock, answers, store, its choices, move on                          |

SQLite adds its BEGIN IMMEDIATE (the write lock taken up front) to each transaction. A typed
answer is answered with a new message, whose id is noted in a second transaction after sending.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.harness import BotHarness

POSTGRESQL_CEILING = {"integer": 8, "single": 5, "multi toggle": 4, "multi done": 6, "text": 8}
TRANSACTIONS = {"integer": 2, "single": 1, "multi toggle": 1, "multi done": 1, "text": 2}


@contextmanager
def statements(harness: BotHarness) -> Iterator[list[str]]:
    """Every statement the bot sends to its database inside the block."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = harness.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_statements_per_answer_of_each_kind(harness: BotHarness) -> None:
    _ = harness.services.i18n.translator("ru")
    user = harness.user(language_code="ru")
    measured: dict[str, list[str]] = {}

    async def measure(kind: str, act: Callable[[], Awaitable[None]]) -> None:
        with statements(harness) as seen:
            await act()
        measured[kind] = list(seen)

    await user.send("/start")
    await user.press(_("I agree"))
    await measure("integer", lambda: user.send("34"))
    await measure("single", lambda: user.press(_("Male")))
    await user.press(_("Almaty"))
    await user.press(_("Telegram channels"))
    await measure("multi toggle", lambda: user.press(_("Kazakhstani TV channels")))
    await user.press(_("Done"))
    await user.press(_("Telegram channels"))
    await user.press(_("Ukraine is the victim of aggression"))
    await user.press(_("It is the right course"))
    await user.press(_("None of these"))
    await measure("multi done", lambda: user.press(_("Done")))
    await measure("text", lambda: user.send("Хочу мира."))
    assert user.screen.startswith(_("Thank you for taking part! Your answers:"))

    sqlite = harness.services.engine.dialect.name == "sqlite"
    for kind, seen in measured.items():
        ceiling = POSTGRESQL_CEILING[kind] + (TRANSACTIONS[kind] if sqlite else 0)
        assert len(seen) <= ceiling, (kind, seen)
        guarantees = [s for s in seen if not s.startswith("BEGIN")]
        assert guarantees[0].startswith("INSERT INTO processed_updates"), (kind, "claimed first")
        assert guarantees[1].startswith("SELECT respondents."), (kind, "then locked")
        if not sqlite:
            assert guarantees[1].endswith("FOR UPDATE"), kind
