"""/crosstab OUTCOME BY and /chart OUTCOME BY: shares within each group, n, and scipy's test, phone-wide."""

from __future__ import annotations

import re
from html import unescape

import pytest
from babel.numbers import format_decimal
from scipy.stats import chi2_contingency
from scipy.stats.contingency import association
from sqlalchemy.ext.asyncio import AsyncEngine

from db import stats
from db.engine import session_factory
from research.charts import crosstab_spec
from research.labels import Labels
from research.report import TABLE_WIDTH, table_blocks
from research.tables import crosstab
from tests.conftest import RESEARCHER_ID
from tests.dataset import Person, seed
from tests.harness import BotHarness

PRE = re.compile(r"<pre>(.*?)</pre>", re.DOTALL)

# Stance by age: 18-29: ukraine 30, peace 12, russia 4; 30-39: ukraine 10, peace 15, russia 5, skip 2;
# 55+: russia 14, peace 8, unsure 4. Cells below 10 carry the mark.
CRAFTED = {
    ("18-29", "ukraine"): 30,
    ("18-29", "peace"): 12,
    ("18-29", "russia"): 4,
    ("30-39", "ukraine"): 10,
    ("30-39", "peace"): 15,
    ("30-39", "russia"): 5,
    ("30-39", "skip"): 2,
    ("55+", "russia"): 14,
    ("55+", "peace"): 8,
    ("55+", "unsure"): 4,
}
AGES = {"18-29": 25, "30-39": 35, "55+": 60}


def _people() -> list[Person]:
    return [Person(age=AGES[band], stance=stance) for (band, stance), n in CRAFTED.items() for _ in range(n)]


def _pre_blocks(harness: BotHarness) -> list[list[str]]:
    texts = [call.params["text"] for call in harness.calls("sendMessage")]
    return [unescape(block).split("\n") for text in texts for block in PRE.findall(text)]


def _decimal(value: float, pattern: str) -> str:
    return format_decimal(value, format=pattern, locale="ru")


async def test_crosstab_gives_shares_within_each_group_n_and_scipys_test(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """/crosstab stance age raw: each age group's row adds up to 100%, with its n; the test equals scipy's."""
    await seed(engine, _people())
    researcher = harness.user(user_id=RESEARCHER_ID, language_code="ru")
    await researcher.send("/crosstab stance age raw")
    _ = harness.services.i18n.translator("ru")
    text = "\n".join(researcher.texts)
    assert f"{_('{outcome} by {by}', outcome=_('View of the war'), by=_('Age group'))} (n = 104)" in text

    [block] = _pre_blocks(harness)
    assert all(len(line) <= TABLE_WIDTH for line in block)
    header, *rows = [line.split() for line in block]
    assert header == [_("Pro-Russia"), _("Pro-Ukraine"), _("Peace"), _("Unsure"), _("Refused"), "n"]
    by_group = {row[0]: row[1:] for row in rows}
    # 18-29: 4, 30, 12 of 46 -> 8.7, 65.2, 26.1 -> 9, 65, 26 (largest remainders make 100).
    assert by_group["18-29"] == ["9*", "65", "26", "0", "0", "46"]
    assert by_group["30-39"] == ["16*", "31", "47", "0", "6*", "32"]
    assert by_group["55+"] == ["54", "0", "31*", "15*", "0", "26"]
    assert by_group[_("Total")] == ["22", "38", "34", "4*", "2*", "104"]
    for row in rows:
        assert sum(int(cell.rstrip("*")) for cell in row[1:-1]) == 100

    observed = [[4, 30, 12, 0], [5, 10, 15, 0], [14, 0, 8, 4]]  # substantive answers only
    expected = chi2_contingency(observed, correction=False)
    v = association(observed, method="cramer", correction=False)
    line = _(
        "Chi-square test of independence: χ² = {chi2}, df = {df}, p {p}; Cramér's V = {v} "
        "(n = {n}, without “Prefer not to answer” and no answer; unweighted counts).",
        chi2=_decimal(expected.statistic, "0.00"),
        df=expected.dof,
        p="< " + _decimal(0.001, "0.000"),
        v=_decimal(v, "0.00"),
        n="102",
    )
    assert expected.pvalue < 0.001 and expected.dof == 6
    assert line in text


async def test_association_equals_scipy_to_the_last_digit(engine: AsyncEngine, harness: BotHarness) -> None:
    """Chi-square, df, p and Cramér's V of the table equal scipy's on the same counts."""
    await seed(engine, _people())
    async with session_factory(engine).begin() as session:
        cells = await stats.counts(session, ["age_band", "stance"])
    labels = Labels(harness.services.i18n.translator("kk"), harness.services.questionnaire)
    table = crosstab(labels, "stance", "age_band", cells)
    assert [table.n(g) for g in table.groups] == [46, 32, 26]
    assert table.share("30-39", "peace") == pytest.approx(15 / 32)
    assert sum(table.share("55+", o) for o in table.outcomes) == pytest.approx(1.0)
    found = table.association()
    assert found is not None
    observed = [[4, 30, 12, 0], [5, 10, 15, 0], [14, 0, 8, 4]]
    expected = chi2_contingency(observed, correction=False)
    assert found.chi2 == pytest.approx(expected.statistic, rel=1e-12)
    assert found.df == expected.dof == 6
    assert found.p == pytest.approx(expected.pvalue, rel=1e-9)
    assert found.cramers_v == pytest.approx(
        association(observed, method="cramer", correction=False), rel=1e-12
    )
    assert found.n == 102
    assert found.low_expected == pytest.approx(3 / 12)


def test_no_test_without_two_substantive_groups(harness: BotHarness) -> None:
    """A table with one group (or only refusals) gets no chi-square, rather than a crash."""
    labels = Labels(harness.services.i18n.translator("ru"), harness.services.questionnaire)
    table = crosstab(labels, "stance", "age_band", {("18-29", "peace"): 3, ("skip", "russia"): 2})
    assert table.association() is None


async def test_wide_tables_are_split_into_blocks_that_fit_a_phone(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """/crosstab city main_source: sixteen outcome columns arrive as several blocks, each within 35 characters."""
    cities = ["almaty", "astana", "shymkent", "karaganda", "aktobe", "taraz", "pavlodar", "oskemen"]
    cities += ["semey", "kostanay", "atyrau", "aktau", "other_city", "village", "abroad", "skip"]
    sources = ["ru_tv", "kz_tv", "kz_online", "intl", "telegram", "social", "people"]
    people = [
        Person(age=30, stance="peace", city=city, sources=(source,), main_source=source)
        for city in cities
        for source in sources
    ]
    await seed(engine, people)
    researcher = harness.user(user_id=RESEARCHER_ID, language_code="kk")
    await researcher.send("/crosstab city main_source")
    assert all(len(call.params["text"]) <= 4096 for call in harness.calls("sendMessage"))
    blocks = _pre_blocks(harness)
    assert len(blocks) > 2
    assert all(len(line) <= TABLE_WIDTH for block in blocks for line in block)
    columns = sum(len(block[0].split()) - 1 for block in blocks)  # each header ends with n
    assert columns == len(cities)
    for block in blocks:  # every block has the seven sources and the total, 16 people each
        assert [line.split()[-1] for line in block[1:]] == ["16"] * 7 + ["112"]


def test_blocks_fit_any_width_they_are_given(harness: BotHarness) -> None:
    """However narrow the width, every line fits (one column per block at worst) and no column is lost."""
    labels = Labels(harness.services.i18n.translator("ru"), harness.services.questionnaire)
    table = crosstab(labels, "stance", "age_band", CRAFTED)
    for width in (22, 28, 35, 60):
        blocks = table_blocks(labels, table, 10, width=width)
        assert all(len(line) <= width for block in blocks for line in block.split("\n"))
        assert sum(len(block.split("\n")[0].split()) - 1 for block in blocks) == len(table.outcomes)
    assert len(table_blocks(labels, table, 10, width=60)) == 1


async def test_chart_has_one_full_bar_per_group_with_its_n(harness: BotHarness, engine: AsyncEngine) -> None:
    """/chart stance age: bars are the age groups, each split by view of the war to 100%, n on each."""
    await seed(engine, _people())
    researcher = harness.user(user_id=RESEARCHER_ID, language_code="ru")
    await researcher.send("/chart stance age")
    _ = harness.services.i18n.translator("ru")
    photo = researcher.last
    assert photo.media == "photo" and photo.file is not None and photo.file.startswith(b"\x89PNG")
    assert (
        photo.plain_text
        == f"{_('{outcome} by {by}', outcome=_('View of the war'), by=_('Age group'))} (n = 104)"
    )

    labels = Labels(_, harness.services.questionnaire)
    spec = crosstab_spec(labels, crosstab(labels, "stance", "age_band", CRAFTED), 10)
    assert spec.bars == ["18-29 (n = 46)", "30-39 (n = 32)", "55+ (n = 26)"]
    assert spec.segments[:3] == [
        _("Russia is right, it is protecting its security"),
        _("Ukraine is the victim of aggression"),
        _("I don't take sides, I want peace"),
    ]
    for bar in range(3):
        assert sum(segment[bar] for segment in spec.shares) == pytest.approx(1.0)
    assert spec.shares[0][2] == pytest.approx(14 / 26)  # Russia is right among the 55+
