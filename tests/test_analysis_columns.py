"""The analysis columns of `responses` always equal the answers they repeat (db.repo keeps them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from survey.analysis import ANSWER_COLUMNS, band
from tests.harness import BotHarness, User


async def _mismatches(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    """Responses whose analysis columns or duration differ from what the answers and times say."""
    columns = ", ".join(ANSWER_COLUMNS.values())
    async with engine.connect() as connection:
        responses = (
            await connection.execute(
                text(f"SELECT id, started_at, completed_at, duration_seconds, {columns} FROM responses")
            )
        ).all()
        answers = (
            await connection.execute(text("SELECT response_id, question, option, number FROM answers"))
        ).all()
    given = {(str(a.response_id), a.question): a for a in answers}
    wrong = []
    for row in responses:
        for question, column in ANSWER_COLUMNS.items():
            answer = given.get((str(row.id), question))
            if answer is None:
                expected = None
            elif question == "age":
                expected = "skip" if answer.option == "skip" else band("age_band", answer.number)
            else:
                expected = answer.option
            if getattr(row, column) != expected:
                wrong.append((row.id, column, getattr(row, column), expected))
        if row.completed_at is not None:
            elapsed = _seconds(row.completed_at) - _seconds(row.started_at)
            if row.duration_seconds != round(elapsed):
                wrong.append((row.id, "duration_seconds", row.duration_seconds, elapsed))
    return wrong


def _seconds(moment: Any) -> float:
    from datetime import UTC, datetime

    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


async def _complete_survey(user: User, harness: BotHarness) -> None:
    _ = harness.services.i18n.translator("ru")
    await user.send("/start")
    await user.press(_("I agree"))
    await user.send("41")
    await user.press(_("Female"))
    await user.press(_("Almaty"))
    await user.press(_("Russian TV channels"))
    await user.press(_("Telegram channels"))
    await user.press(_("Done"))
    await user.press(_("Telegram channels"))
    harness.clock.advance(minutes=2, seconds=5)
    await user.press(_("Ukraine is the victim of aggression"))
    await user.press(_("It is the right course"))
    await user.press(_("None of these"))
    await user.press(_("Done"))
    await user.press(_("Skip"))


async def test_columns_follow_answers_through_the_conversation(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """Answering, changing answers after the end, screening out and erasing keep the copies exact."""
    _ = harness.services.i18n.translator("ru")
    first, second = harness.user(language_code="ru"), harness.user(language_code="ru")
    await _complete_survey(first, harness)
    assert await _mismatches(engine) == []
    async with engine.connect() as connection:
        row = (
            await connection.execute(text("SELECT status, age_band, main_source, stance FROM responses"))
        ).one()
    assert tuple(row) == ("complete", "40-54", "telegram", "ukraine")

    await first.press("✏️ " + _("View of the war"))
    await first.press(_("Hard to say"))
    await first.press("✏️ " + _("News sources"))
    await first.press("✅ " + _("Russian TV channels"))  # untick: Telegram alone is left
    await first.press(_("Done"))
    assert await _mismatches(engine) == []

    await second.send("/start")
    await second.press(_("I agree"))
    await second.send("16")
    assert await _mismatches(engine) == []

    await first.send("/delete")
    await first.press(_("Yes, erase my answers"))
    assert await _mismatches(engine) == []
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM responses"))).scalar() == 1
