"""Researchers' /stats, /crosstab, /chart and their language, on a known dataset; others learn nothing."""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from conversation.render import consent_prompt
from db import stats
from db.engine import session_factory
from research.charts import crosstab_spec
from research.labels import Labels
from research.report import LineTooLongError, split_message
from research.tables import crosstab
from survey.analysis import VARIABLES, band, wilson_interval
from tests.conftest import RESEARCHER_ID, scalar
from tests.dataset import NOW, Person, seed
from tests.harness import BotHarness, User

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PEACE = "I don't take sides, I want peace"


def test_wilson_interval_matches_published_values() -> None:
    """Wilson 95% bounds agree with reference values (e.g. 10 of 20: 0.2993-0.7007)."""
    assert wilson_interval(10, 20) == pytest.approx((0.2992980, 0.7007020), abs=1e-6)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775328), abs=1e-6)
    assert wilson_interval(20, 20) == pytest.approx((0.8388748, 1.0), abs=1e-6)
    assert wilson_interval(0, 0) == (0.0, 0.0)


def test_age_bands() -> None:
    """Ages fall in the analysis bands 18-29, 30-39, 40-54, 55+."""
    assert [band("age_band", a) for a in (18, 29, 30, 39, 40, 54, 55, 99)] == [
        "18-29",
        "18-29",
        "30-39",
        "30-39",
        "40-54",
        "40-54",
        "55+",
        "55+",
    ]


def test_split_message_breaks_between_lines_only() -> None:
    """Long output becomes several messages within the limit, every line whole and in order."""
    lines = [f"line {i} " + "x" * 50 for i in range(300)]
    messages = split_message(lines, limit=1000)
    assert len(messages) > 1
    assert all(len(m) <= 1000 for m in messages)
    assert "\n".join(messages).split("\n") == lines
    with pytest.raises(LineTooLongError):
        split_message(["y" * 1001], limit=1000)


def _researcher(harness: BotHarness, language: str = "ru") -> User:
    return harness.user(user_id=RESEARCHER_ID, language_code=language)


async def test_stats_reports_exact_counts_rates_and_intervals(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """/stats raw on the known dataset: statuses, rates, today/7 days, median, shares and Wilson bounds."""
    await seed(engine)
    researcher = _researcher(harness)
    _ = harness.services.i18n.translator("ru")
    await researcher.send("/stats raw")
    text = "\n".join(researcher.texts)
    expected = [
        _("Started: {count}", count="23"),
        f"{_('Completed')}: 20",
        f"{_('In progress')}: 1",
        f"{_('Stopped')}: 1",
        f"{_('Screened out (under 18)')}: 1",
        _("Completion rate (completed of started, screened out not counted): {rate}", rate="90,9%"),
        _("Today: {started} started, {completed} completed", started="3", completed="2"),
        _("Last 7 days: {started} started, {completed} completed", started="7", completed="5"),
        _("Median completion time: {time}", time=_("{minutes} min {seconds} s", minutes=3, seconds=0)),
        f"{_('View of the war')} (n = 20)",
        f"• {_('Ukraine is the victim of aggression')}: 10 · 50,0% [29,9–70,1%]",
        f"• {_('Russia is right, it is protecting its security')}: 4* · 20,0% [8,1–41,6%]",
        f"• {_(PEACE)}: 5* · 25,0% [11,2–46,9%]",
        f"• {_('Hard to say')}: 0 · 0,0% [0,0–16,1%]",
        f"• {_('Prefer not to answer')}: 1* · 5,0% [0,9–23,6%]",
        f"• {_('It is the right course')}: 13 · 65,0% [43,3–81,9%]",
        f"• {_('Kazakhstan should support Russia')}: 4* · 20,0% [8,1–41,6%]",
        f"• {_('Kazakh')}: 8* · 40,0% [21,9–61,3%]",
        f"• {_('Russian')}: 12 · 60,0% [38,7–78,1%]",
        _("{mark} fewer than {min_cell} respondents.", mark="*", min_cell=10),
        _("Unweighted percentages of the people who answered."),
    ]
    for line in expected:
        assert line in text, line


async def test_crosstab_stance_by_main_source_shows_those_without_news(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """/crosstab stance main_source: a row per main source; those who follow no news form their own row."""
    await seed(engine)
    researcher = _researcher(harness)
    _ = harness.services.i18n.translator("ru")
    await researcher.send("/crosstab stance main_source raw")
    text = researcher.last.plain_text
    assert f"{_('{outcome} by {by}', outcome=_('View of the war'), by=_('Main source'))} (n = 20)" in text
    lines = text.split("\n")

    def row(label: str) -> list[str]:
        """The row's cells across every block of the table, then its n."""
        parts = [line[len(label) :].split() for line in lines if line.startswith(label + " ")]
        return [cell for part in parts for cell in part[:-1]] + [parts[0][-1]]

    assert row(_("RU TV")) == ["57*", "0", "29*", "0", "14*", "7*"]  # russia 4, peace 2, skip 1 of 7
    assert row(_("No news")) == ["0", "0", "100*", "0", "0", "3*"]  # main_source = none


async def test_bad_variable_names_get_the_usage(harness: BotHarness, engine: AsyncEngine) -> None:
    """Unknown or missing names get a usage message, OUTCOME then BY as the command reads them,
    listing every valid variable."""
    await seed(engine)
    researcher = _researcher(harness)
    _ = harness.services.i18n.translator("ru")
    crosstab_usage = _(
        "Usage: /crosstab OUTCOME BY (the shares of OUTCOME within each group of BY), "
        "for example /crosstab {outcome} {by}.",
        outcome="stance",
        by="age_band",
    )
    chart_usage = _(
        "Usage: /chart OUTCOME [BY], for example /chart {outcome} or /chart {outcome} {by}.",
        outcome="stance",
        by="age_band",
    )
    for command in ("/crosstab stance", "/crosstab stance shoe_size", "/crosstab stance stance", "/chart"):
        await researcher.send(command)
        text = researcher.last.plain_text
        assert all(name in text for name in VARIABLES), (command, text)
        assert text.startswith(chart_usage if command == "/chart" else crosstab_usage), text
    assert not harness.calls("sendPhoto")


async def test_chart_is_a_png_photo_with_n_in_the_title(harness: BotHarness, engine: AsyncEngine) -> None:
    """/chart stance age sends a PNG photo; its title names both variables and n."""
    await seed(engine)
    researcher = _researcher(harness)
    await researcher.send("/chart stance age")
    photo = researcher.last
    _ = harness.services.i18n.translator("ru")
    assert photo.media == "photo" and photo.file is not None and photo.file.startswith(PNG_SIGNATURE)
    assert (
        photo.plain_text
        == f"{_('{outcome} by {by}', outcome=_('View of the war'), by=_('Age group'))} (n = 20)"
    )
    await researcher.send("/chart neutrality")
    assert researcher.last.media == "photo" and "(n = 20)" in researcher.last.plain_text


async def test_chart_spec_uses_the_researchers_language(engine: AsyncEngine, harness: BotHarness) -> None:
    """The chart's bars, segments and shares come from the counts, labelled in the chosen language."""
    await seed(engine)
    async with session_factory(engine).begin() as session:
        cells = await stats.counts(session, ["age_band", "stance"])
    _ = harness.services.i18n.translator("kk")
    labels = Labels(_, harness.services.questionnaire)
    spec = crosstab_spec(labels, crosstab(labels, "stance", "age_band", cells), 10)
    assert spec.title == f"{_('{outcome} by {by}', outcome=_('View of the war'), by=_('Age group'))} (n = 20)"
    assert spec.bars == ["18-29 (n = 10)", "30-39 (n = 6*)", "55+ (n = 4*)"]
    assert spec.segments[1] == _("Ukraine is the victim of aggression")
    assert [round(s, 3) for s in spec.shares[1]] == [0.8, 0.333, 0.0]  # Ukraine: 8 of 10, 2 of 6, 0 of 4


async def test_non_researchers_learn_nothing(harness: BotHarness, engine: AsyncEngine) -> None:
    """Anyone else gets exactly the ordinary reply to an unknown command, and no photo or file."""
    await seed(engine)
    stranger = harness.user(language_code="ru")
    await stranger.send("/nonsense")
    ordinary = stranger.last.plain_text
    for command in ("/stats", "/crosstab stance age", "/chart stance", "/export", "/crosstab"):
        await stranger.send(command)
        assert stranger.last.plain_text == ordinary, command
    assert stranger.texts == [ordinary] * 6
    assert not harness.calls("sendPhoto") and not harness.calls("sendDocument")


async def test_researchers_choose_their_language(harness: BotHarness, engine: AsyncEngine) -> None:
    """/language sets the language of a researcher's figures; a respondent's /language is unchanged."""
    await seed(engine)
    researcher = _researcher(harness, language="ru")
    kk = harness.services.i18n.translator("kk")
    await researcher.send("/language")
    await researcher.press(kk("Kazakh"))
    assert researcher.last.plain_text == kk("Language: {name}", name=kk("Kazakh"))
    await researcher.send("/stats")
    assert kk("Started: {count}", count="23") in researcher.last.plain_text
    stored = await scalar(engine, "SELECT language FROM researcher_settings")
    assert stored == "kk"
    assert await scalar(engine, "SELECT count(*) FROM respondents WHERE pseudonym NOT LIKE 'seed-%'") == 0

    respondent = harness.user(language_code="ru")
    await respondent.send("/language")
    await respondent.press(kk("Kazakh"))
    days = harness.services.settings.unlink_after_days
    assert respondent.last.plain_text == unescape(consent_prompt(kk, days).text)


async def test_stats_today_follows_the_configured_time_zone(engine: AsyncEngine) -> None:
    """'Today' starts at local midnight (Asia/Almaty, UTC+5), not UTC midnight."""
    from zoneinfo import ZoneInfo

    late = Person(age=30, stance="peace", started=NOW.replace(hour=18, minute=30))  # 23:30 local
    next_day = Person(age=30, stance="peace", started=NOW.replace(hour=19, minute=30))  # 00:30 local
    await seed(engine, [late, next_day])
    async with session_factory(engine).begin() as session:
        figures = await stats.overview(session, NOW.replace(hour=20), ZoneInfo("Asia/Almaty"), ["stance"])
    assert (figures.started_today, figures.completed_today) == (1, 1)
    assert (figures.started_week, figures.completed_week) == (2, 2)
