"""The digest reads right: every answer of a group shown or named as hidden, bars that reach 100%
with what is hidden hatched, chart words in each language, and no heading with nothing under it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from research.digest import (
    HIDDEN,
    NOT_STATED,
    STANCE_WORDS,
    DigestWriter,
    chart_bars,
    compose_language,
    gather,
)
from research.disclosure import TOTAL, round_shares
from tests.dataset import NOW, Person, seed
from tests.harness import BotHarness

PEOPLE = (
    [Person(age=22, stance="ukraine")] * 30
    + [Person(age=23, stance="peace")] * 20
    + [Person(age=24, stance="unsure")] * 12
    + [Person(age=45, stance="peace")] * 20
    + [Person(age=46, stance="ukraine")] * 6  # small: hidden, with what gives it away
    + [Person(age=47, stance="russia")] * 5
    + [Person(age=61, stance="russia")] * 25
    + [Person(age=62, stance="skip")] * 11
    + [Person(age=63, stance="unsure")] * 10
    + [Person(age=48, stance="skip")] * 12
)


def _writer(harness: BotHarness) -> DigestWriter:
    services = harness.services
    return DigestWriter(services.settings, services.i18n, services.questionnaire)


async def test_each_group_shows_its_figures_and_names_what_is_hidden(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """Every answer of every group line is either a percentage or named under "hidden", never silently gone."""
    await seed(engine, PEOPLE)
    figures = await gather(harness.services.sessions, harness.services.questionnaire, 10, NOW)
    _ = harness.services.i18n.translator("ru")
    text = compose_language(_, _writer(harness), figures, "https://t.me/x")
    table = figures.tables["age_band"]
    named_hidden = 0
    for row in table.rows:
        if table.count(row, TOTAL) == 0:
            continue
        label = _("not stated") if row == NOT_STATED else _("aged {band}", band=str(row).replace("-", "–"))
        [line] = [line for line in text.split("\n") if line.startswith(f"• {label}: ")]
        shares = round_shares(figures.shares("age_band", row))
        if not any(shares.values()):
            assert line.endswith(_("too few answers to show"))
            continue
        shown, _sep, hidden = line.partition("; ")
        for code, share in shares.items():
            word = _(STANCE_WORDS[str(code)])
            if share is None:
                assert word in hidden, (line, code)
                named_hidden += 1
            elif share:
                assert f"{share}% {word}" in shown, (line, code)
    assert named_hidden, text


async def test_chart_bars_reach_100_with_hidden_marked(harness: BotHarness, engine: AsyncEngine) -> None:
    """Each bar's segments, hard to say and prefer not to answer included, add up to 100; hidden is hatched."""
    await seed(engine, PEOPLE)
    figures = await gather(harness.services.sessions, harness.services.questionnaire, 10, NOW)
    bars = chart_bars(figures)
    assert [row for row, _shares in bars] == [TOTAL, "18-29", "40-54", "55+"]
    for _row, shares in bars:
        assert sum(shares.values()) == 100
    assert dict(bars)["40-54"][HIDDEN] > 0  # the small cells, hatched, not a short bar
    drawn = {code for _row, shares in bars for code, share in shares.items() if share}
    assert {"unsure", "skip"} <= drawn  # hard to say and prefer not to answer are drawn too
    png = _writer(harness).chart(figures)
    assert png is not None and png.startswith(b"\x89PNG")


def test_chart_words_are_in_each_language_of_the_digest(harness: BotHarness) -> None:
    """Legend, title and labels carry every digest language: "kk / ru"."""
    writer = _writer(harness)
    kk, ru = (harness.services.i18n.translator(lang) for lang in ("kk", "ru"))
    assert writer.words("Russia is right") == f"{kk('Russia is right')} / {ru('Russia is right')}"
    assert (
        writer.words("hidden (small groups)")
        == f"{kk('hidden (small groups)')} / {ru('hidden (small groups)')}"
    )


async def test_no_post_with_empty_headings(harness: BotHarness, engine: AsyncEngine) -> None:
    """With nobody yet, the digest says so and has no "By age:" heading with nothing under it."""
    figures = await gather(harness.services.sessions, harness.services.questionnaire, 10, NOW)
    _ = harness.services.i18n.translator("kk")
    text = compose_language(_, _writer(harness), figures, "https://t.me/x")
    assert _("By age:") not in text and _("By main news source:") not in text
    assert _("Not enough people have taken part yet to publish results safely.") in text
    assert _writer(harness).chart(figures) is None
