"""The digest reads right: every answer of a group shown or named as given by fewer than MIN_CELL
people, bars that reach 100% with every answer drawn, chart words in each language, and no heading
with nothing under it."""

from __future__ import annotations

import random

from sqlalchemy.ext.asyncio import AsyncEngine

from research.digest import (
    NOT_STATED,
    DigestWriter,
    chart_bars,
    compose_language,
    gather,
    in_sentence,
    ordered,
)
from research.disclosure import TOTAL, round_shares
from tests.dataset import NOW, Person, seed
from tests.harness import BotHarness

K = 10
PEOPLE = (
    [Person(age=22, stance="ukraine")] * 30
    + [Person(age=23, stance="peace")] * 20
    + [Person(age=24, stance="unsure")] * 12
    + [Person(age=45, stance="peace")] * 20
    + [Person(age=46, stance="ukraine")] * 6  # small: rounded to 0 or 10
    + [Person(age=47, stance="russia")] * 5
    + [Person(age=61, stance="russia")] * 25
    + [Person(age=62, stance="skip")] * 11
    + [Person(age=63, stance="unsure")] * 10
    + [Person(age=48, stance="skip")] * 12
)


def _writer(harness: BotHarness) -> DigestWriter:
    services = harness.services
    return DigestWriter(services.settings, services.i18n, services.questionnaire)


async def test_each_group_shows_every_answer_or_says_fewer_than_k(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """Every answer of a group line is a percentage, or (a named view) said to be fewer than K people."""
    await seed(engine, PEOPLE)
    services = harness.services
    questionnaire = services.questionnaire
    plan = questionnaire.analysis.digest
    figures = await gather(services.sessions, questionnaire, K, NOW, random.Random(14))
    _ = services.i18n.translator("ru")
    text = compose_language(_, _writer(harness), figures, "https://t.me/x")
    table = figures.tables["age_band"]
    named_fewer = 0
    for row in table.rows:
        if not table.count(row, TOTAL):
            continue
        label = _("not stated") if row == NOT_STATED else _("aged {band}", band=str(row).replace("-", "–"))
        [line] = [line for line in text.split("\n") if line.startswith(f"• {label}: ")]
        shares = round_shares({c: table.share(row, c) for c in plan.categories})
        shown, _sep, fewer = line.partition("; ")
        assert sum(share or 0 for share in shares.values()) == 100, line
        for code in ordered(plan):
            name = in_sentence(_, questionnaire, code)
            if shares[code]:
                assert f"{shares[code]}% {name}" in shown, (line, code)
            elif code in plan.words:
                assert fewer.startswith(_("fewer than {k} people: {answers}", k=K, answers="")), line
                assert name in fewer, (line, code)
                named_fewer += 1
    assert named_fewer, text  # nobody aged 18-29 said Russia is right
    # An answer without a digest word is its label quoted, not a capital mid-sentence.
    assert f"% «{_('Hard to say')}»" in text and f"% {_('Hard to say')}" not in text


async def test_chart_bars_reach_100_with_every_answer(harness: BotHarness, engine: AsyncEngine) -> None:
    """Each bar's segments, hard to say and prefer not to answer included, add up to 100."""
    await seed(engine, PEOPLE)
    services = harness.services
    plan = services.questionnaire.analysis.digest
    figures = await gather(services.sessions, services.questionnaire, K, NOW, random.Random(14))
    bars = chart_bars(figures, plan)
    assert [row for row, _shares in bars] == [TOTAL, "18-29", "40-54", "55+"]
    for _row, shares in bars:
        assert sum(shares.values()) == 100
        assert list(shares) == list(plan.categories)
    drawn = {code for _row, shares in bars for code, share in shares.items() if share}
    assert {"unsure", "skip"} <= drawn  # hard to say and prefer not to answer are drawn too
    png = _writer(harness).chart(figures)
    assert png is not None and png.startswith(b"\x89PNG")


def test_chart_words_are_in_each_language_of_the_digest(harness: BotHarness) -> None:
    """Legend, title and labels carry every digest language: "kk / ru"."""
    writer = _writer(harness)
    kk, ru = (harness.services.i18n.translator(lang) for lang in ("kk", "ru"))
    assert writer.words("Russia is right") == f"{kk('Russia is right')} / {ru('Russia is right')}"
    assert writer.words("everyone") == f"{kk('everyone')} / {ru('everyone')}"


async def test_no_post_with_empty_headings(harness: BotHarness, engine: AsyncEngine) -> None:
    """With nobody yet, the digest says so and has no "By age:" heading with nothing under it."""
    services = harness.services
    figures = await gather(services.sessions, services.questionnaire, K, NOW, random.Random(14))
    _ = services.i18n.translator("kk")
    text = compose_language(_, _writer(harness), figures, "https://t.me/x")
    assert _("By age:") not in text and _("By main news source:") not in text
    assert _("Not enough people have taken part yet to publish results safely.") in text
    assert _writer(harness).chart(figures) is None
