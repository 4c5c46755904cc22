"""Someone who follows no news: the data, the summary, the cross-tab and the codebook agree; the summary
lists multi-select answers in the question's order, whatever order they were pressed in."""

from __future__ import annotations

import csv
import io
from html import unescape

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from research.export import CSV_ENCODING
from tests.conftest import RESEARCHER_ID
from tests.harness import BotHarness, User

NO_NEWS = "I don't follow the news"


async def _answer(user: User, _, sources: list[str], relatives: list[str], main: str = "") -> None:  # type: ignore[no-untyped-def]
    await user.send("/start")
    await user.press(_("I agree"))
    await user.send("44")
    await user.press(_("Female"))
    await user.press(_("Village or rural area"))
    for source in sources:
        await user.press(_(source))
    await user.press(_("Done"))
    if main:  # asked only when two or more sources were chosen
        await user.press(_(main))
    await user.press(_("I don't take sides, I want peace"))
    await user.press(_("It is the right course"))
    for country in relatives:
        await user.press(_(country))
    await user.press(_("Done"))
    await user.press(_("Skip"))


async def test_summary_lists_choices_in_question_order(harness: BotHarness, engine: AsyncEngine) -> None:
    """Pressed 'Family…' before 'Russian TV', 'Russia' before 'Ukraine': the summary follows the question."""
    _ = harness.services.i18n.translator("ru")
    user = harness.user(language_code="ru")
    family, russian_tv = "Family, friends and colleagues", "Russian TV channels"
    await _answer(user, _, [family, russian_tv], ["Russia", "Ukraine"], main=russian_tv)
    summary = unescape(user.last.plain_text)
    assert f"{_('News sources')}: {_(russian_tv)}, {_(family)}" in summary
    assert f"{_('Relatives')}: {_('Ukraine')}, {_('Russia')}" in summary


@pytest.mark.slow  # /export starts its process
async def test_no_news_is_main_source_none_everywhere(harness: BotHarness, engine: AsyncEngine) -> None:
    """The data stores main_source = none, the summary says so, the cross-tab counts them, the codebook names it."""
    _ = harness.services.i18n.translator("ru")
    user = harness.user(language_code="ru")
    await _answer(user, _, [NO_NEWS], ["Ukraine"])
    summary = unescape(user.last.plain_text)
    no_news = _(NO_NEWS)
    assert f"{_('Main source')}: {no_news}" in summary
    async with engine.connect() as connection:
        stored = (await connection.execute(text("SELECT main_source FROM responses"))).scalar_one()
        answer = (
            await connection.execute(text("SELECT option FROM answers WHERE question = 'main_source'"))
        ).scalar_one()
    assert stored == answer == "none"

    researcher = harness.user(user_id=RESEARCHER_ID, language_code="ru")
    await researcher.send("/crosstab stance main_source raw")
    table = researcher.last.plain_text
    assert any(line.startswith(_("No news") + " ") and line.split()[-1] == "1*" for line in table.split("\n"))
    await researcher.send("/export")
    files = [m.file for m in researcher.messages if m.media == "document"]
    codebook = list(csv.reader(io.StringIO((files[-1] or b"").decode(CSV_ENCODING))))
    assert ["main_source", "", "", "", "none", no_news, "8"] in codebook
    [main_source] = [line for line in codebook if line[0] == "main_source" and line[1]]
    assert "none" in main_source[3]
