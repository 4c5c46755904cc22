"""Weights: the targets file, raking against a hand-computed 2x2, trimming, missing values, Kish."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest
from babel.numbers import format_decimal
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import session_factory
from db.models import ResponseStatus
from research.export import CSV_ENCODING, WEIGHT_EXPLAINED
from research.report import SAMPLE_NOTE
from research.weights import Plan, kish, rake, weighted_counts, weighting
from survey.analysis import band, wilson_interval
from survey.model import load_questionnaire
from survey.targets import TargetsError, load_targets
from tests.conftest import RESEARCHER_ID
from tests.dataset import Person, seed
from tests.harness import BotHarness

QUESTIONNAIRE = load_questionnaire()


def test_two_by_two_raking_equals_the_hand_computed_solution() -> None:
    """Sample 30/20/10/40 raked to A 40:60 and B 50:50.

    The raked table keeps the sample's odds ratio (30·40)/(20·10) = 6 with the target margins:
    x(0.1 + x) = 6(0.4 - x)(0.5 - x) gives x = 0.3, so the table is 0.3, 0.1, 0.2, 0.4 and the
    weights (share x 100 / people) are 1, 0.5, 2 and 1.
    """
    counts = {("a1", "b1"): 30, ("a1", "b2"): 20, ("a2", "b1"): 10, ("a2", "b2"): 40}
    weights = rake(counts, [{"a1": 0.4, "a2": 0.6}, {"b1": 0.5, "b2": 0.5}], cap=None)
    expected = {("a1", "b1"): 1.0, ("a1", "b2"): 0.5, ("a2", "b1"): 2.0, ("a2", "b2"): 1.0}
    for cell, weight in expected.items():
        assert weights[cell] == pytest.approx(weight, abs=1e-6)
    assert rake(counts, [{"a1": 0.4, "a2": 0.6}, {"b1": 0.5, "b2": 0.5}], cap=5) == pytest.approx(weights)


def test_trimming_caps_weights_at_five_times_the_mean() -> None:
    """One person standing for a large group would weigh 50; trimmed, no weight exceeds 5 (mean 1)."""
    counts = {("rare",): 1, ("common",): 99}
    weights = rake(counts, [{"rare": 0.5, "common": 0.5}], cap=5)
    mean = sum(weights[c] * n for c, n in counts.items()) / 100
    assert mean == pytest.approx(1.0)
    assert max(weights.values()) <= 5 * (1 + 1e-9)
    assert rake(counts, [{"rare": 0.5, "common": 0.5}], cap=None)[("rare",)] == pytest.approx(50)


def test_people_who_skipped_a_weighting_question_keep_their_weight_in_that_step() -> None:
    """Those missing on B are left out of B's step: among those who answered B, B hits its target."""
    counts = {("a1", "b1"): 30, ("a1", "b2"): 10, ("a2", "b1"): 20, ("a2", None): 40}
    weights = rake(counts, [{"a1": 0.5, "a2": 0.5}, {"b1": 0.25, "b2": 0.75}], cap=None)

    def share(index: int, category: str) -> float:
        known = {c: n for c, n in counts.items() if c[index] is not None}
        total = sum(weights[c] * n for c, n in known.items())
        return sum(weights[c] * n for c, n in known.items() if c[index] == category) / total

    assert share(0, "a1") == pytest.approx(0.5, abs=1e-9)
    assert share(1, "b1") == pytest.approx(0.25, abs=1e-9)


def test_kish_design_effect_and_effective_n() -> None:
    """deff = n·Σw²/(Σw)² and n_eff = (Σw)²/Σw²: 2 people at 0.5 and 2 at 1.5 give 1.25 and 3.2."""
    assert kish([(0.5, 2), (1.5, 2)]) == pytest.approx((1.25, 3.2))
    assert kish([(1.0, 7)]) == pytest.approx((1.0, 7.0))


def test_the_shipped_targets_load_with_their_sources() -> None:
    """Both dimensions load; shares add up to one; every dimension names its source."""
    targets = load_targets(QUESTIONNAIRE)
    assert [d.id for d in targets.dimensions] == ["age_sex", "settlement"]
    assert targets.variables == ("age_band", "gender", "city")
    for dimension in targets.dimensions:
        assert sum(dimension.shares.values()) == pytest.approx(1.0)
        assert "BNS" in dimension.source
    assert targets.categories({"age_band": "55+", "gender": "skip", "city": "semey"}) == (None, "other_town")
    assert targets.categories({"age_band": "18-29", "gender": "male", "city": "abroad"}) == (
        "18-29 male",
        None,
    )


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        ("version: 2\ndimensions: []", "version: 1"),
        ("version: 1\ndimensions:\n- {id: x, cells: [shoe_size], population: {a: 1}}", "shoe_size"),
        ("version: 1\ndimensions:\n- {id: x, cells: [gender], population: {female: -3}}", "-3"),
        ("version: 1\ndimensions:\n- {id: x, cells: [gender], population: {femal: 3}}", "femal"),
        (
            "version: 1\ndimensions:\n- {id: x, cells: [city], map: {big: [almaty, atlantis]}, population: {big: 1}}",
            "atlantis",
        ),
    ],
)
def test_a_broken_targets_file_is_refused_by_name(tmp_path: Path, broken: str, named: str) -> None:
    """A targets file with an unknown variable, code or a bad count is refused, naming the value."""
    path = tmp_path / "targets.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(TargetsError, match=named):
        load_targets(QUESTIONNAIRE, path)


def _skewed_sample() -> list[Person]:
    """Young, urban and male heavy, as Telegram samples are; some skip gender, some live abroad."""
    people = []
    for age, gender, city, n in [
        (22, "male", "almaty", 40),
        (22, "female", "almaty", 25),
        (25, "male", "village", 6),
        (35, "female", "karaganda", 14),
        (35, "male", "astana", 12),
        (45, "male", "taraz", 9),
        (47, "female", "village", 5),
        (60, "female", "semey", 4),
        (66, "male", "village", 3),
        (70, "female", "almaty", 2),
        (24, "female", "pavlodar", 7),
        (33, "male", "village", 4),
        (58, "male", "aktau", 3),
        (30, "skip", "almaty", 4),
        (41, "female", "abroad", 2),
    ]:
        people += [Person(age=age, gender=gender, city=city, stance="peace")] * n
    return people


async def test_weighted_margins_reproduce_the_targets(engine: AsyncEngine) -> None:
    """On a skewed sample, weighted age x sex and settlement shares are within 0.5 points of the targets."""
    await seed(engine, _skewed_sample())
    targets = load_targets(QUESTIONNAIRE)
    async with session_factory(engine).begin() as session:
        found = await weighting(session, Plan(targets, 5))
        age_sex = await weighted_counts(session, found, ["age_band", "gender"])
        cities = await weighted_counts(session, found, ["city"])
    age_dimension, settlement = targets.dimensions
    known = {k: w for k, w in age_sex.items() if age_dimension.category(k) is not None}
    for category, share in age_dimension.shares.items():
        got = sum(w for k, w in known.items() if age_dimension.category(k) == category) / sum(known.values())
        assert got == pytest.approx(share, abs=0.005), category
    placed = {k: w for k, w in cities.items() if settlement.category(k) is not None}
    for category, share in settlement.shares.items():
        got = sum(w for k, w in placed.items() if settlement.category(k) == category) / sum(placed.values())
        assert got == pytest.approx(share, abs=0.005), category

    people = _skewed_sample()
    assert found.people == len(people)
    per_person = [found.weight((p.age and _band(p.age), p.gender, p.city)) for p in people]
    assert sum(per_person) / len(per_person) == pytest.approx(1.0)
    assert max(per_person) <= 5 + 1e-9
    total, squares = sum(per_person), sum(w * w for w in per_person)
    assert found.design_effect == pytest.approx(len(people) * squares / total**2)
    assert found.effective_n == pytest.approx(total**2 / squares)
    assert found.design_effect > 1.5  # the skew is real: weighting costs precision


def _band(age: int) -> str:
    return str(band("age_band", age))


def _stance(age: int) -> str:
    return "russia" if age >= 55 else "ukraine" if age < 30 else "peace"


async def test_stats_show_weighted_shares_with_model_based_intervals(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """/stats weights by default (shares as raking gives them, interval at the effective n); raw does not."""
    people = [replace(p, stance=_stance(p.age or 0)) for p in _skewed_sample()]
    await seed(engine, people)
    targets = load_targets(QUESTIONNAIRE)
    cells: dict[tuple[str | None, ...], int] = {}
    for p in people:
        key = targets.categories({"age_band": _band(p.age or 0), "gender": p.gender, "city": p.city})
        cells[key] = cells.get(key, 0) + 1
    weights = rake(cells, [d.shares for d in targets.dimensions], cap=5)
    per_person = [
        (weights[targets.categories({"age_band": _band(p.age or 0), "gender": p.gender, "city": p.city})], p)
        for p in people
    ]
    deff, n_eff = kish((w, 1) for w, _p in per_person)
    russia = sum(w for w, p in per_person if p.stance == "russia") / sum(w for w, _p in per_person)
    count = sum(p.stance == "russia" for p in people)

    researcher = harness.user(user_id=RESEARCHER_ID, language_code="ru")
    await researcher.send("/stats")
    text = "\n".join(researcher.texts)
    _ = harness.services.i18n.translator("ru")
    low, high = wilson_interval(russia * (len(people) / deff), len(people) / deff)
    share = format_decimal(russia * 100, format="0.0", locale="ru")
    interval = f"{format_decimal(low * 100, format='0.0', locale='ru')}–{format_decimal(high * 100, format='0.0', locale='ru')}%"
    label = _("Russia is right, it is protecting its security")
    assert f"• {label}: {count} · {share}% [{interval}]" in text
    assert russia > 1.5 * count / len(people)  # the 55+ are few in the sample, a quarter of adults
    assert (
        _(
            "Percentages weighted to Kazakhstan's adults by age × sex and settlement "
            "(Bureau of National Statistics); n counts people, unweighted. "
            "Design effect {deff}, effective n {n_eff}. Unweighted: add “raw” to the command, "
            "e.g. /stats raw.",
            deff=format_decimal(deff, format="0.00", locale="ru"),
            n_eff=str(round(n_eff)),
        )
        in text
    )
    assert _("Brackets: model-based 95% interval (Wilson) from the effective n.") in text
    assert _(SAMPLE_NOTE) in text

    await researcher.send("/stats raw")
    raw = researcher.last.plain_text
    unweighted = format_decimal(count / len(people) * 100, format="0.0", locale="ru")
    assert f"• {label}: {count} · {unweighted}% [" in raw
    assert _("Unweighted percentages of the people who answered.") in raw and _(SAMPLE_NOTE) in raw


async def test_crosstab_total_row_is_weighted_and_says_so(harness: BotHarness, engine: AsyncEngine) -> None:
    """/crosstab stance age: within an age group weights are near equal, the total row is weighted."""
    people = [replace(p, stance=_stance(p.age or 0)) for p in _skewed_sample()]
    await seed(engine, people)
    researcher = harness.user(user_id=RESEARCHER_ID, language_code="kk")
    await researcher.send("/crosstab stance age")
    weighted = researcher.last.plain_text
    await researcher.send("/crosstab stance age raw")
    raw = researcher.last.plain_text
    _ = harness.services.i18n.translator("kk")
    total = next(line for line in weighted.split("\n") if line.startswith(_("Total")))
    raw_total = next(line for line in raw.split("\n") if line.startswith(_("Total")))
    assert total.split()[-1] == raw_total.split()[-1] == str(len(people))  # n stays people
    assert int(total.split()[1].rstrip("*")) > int(raw_total.split()[1].rstrip("*"))  # more "Russia is right"
    assert _(SAMPLE_NOTE) in weighted and _(SAMPLE_NOTE) in raw
    assert _("Unweighted percentages of the people who answered.") in raw


@pytest.mark.slow  # /export starts its process
async def test_export_has_a_weight_column_the_codebook_explains(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """/export: each completed row's weight is its raking weight (mean 1); other rows have none."""
    people = [*_skewed_sample(), Person(age=44, status=ResponseStatus.CANCELLED)]
    await seed(engine, people)
    async with session_factory(engine).begin() as session:
        found = await weighting(session, Plan(load_targets(QUESTIONNAIRE), 5))
    researcher = harness.user(user_id=RESEARCHER_ID, language_code="ru")
    await researcher.send("/export")
    data, *_files, codebook = [m.file for m in researcher.messages if m.media == "document"]
    assert data is not None and codebook is not None
    rows = list(csv.DictReader(io.StringIO(data.decode(CSV_ENCODING))))
    completed = [row for row in rows if row["status"] == "complete"]
    assert len(completed) == len(people) - 1
    for row in completed:
        key = (row["age_band"], row["gender"], row["city"])
        assert float(row["weight"]) == pytest.approx(found.weight(key))
    assert sum(float(row["weight"]) for row in completed) / len(completed) == pytest.approx(1.0)
    assert [row["weight"] for row in rows if row["status"] != "complete"] == [""]
    _ = harness.services.i18n.translator("ru")
    explained = next(
        line for line in csv.reader(io.StringIO(codebook.decode(CSV_ENCODING))) if line[0] == "weight"
    )
    assert explained[1] == _("Weight (raking to population margins)")
    assert explained[3].startswith(_(WEIGHT_EXPLAINED, cap="5"))
