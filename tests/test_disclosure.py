"""Disclosure control, tried as an adversary: a linear-programming attacker reads every digest of a
crowd run, and every consecutive pair, and tries to pin a group of 1..MIN_CELL-1 people.

What a reader knows of the true count behind a published one: random rounding to steps of k
puts it within k-1 of the figure. The total is exact, the two tables count the same people
(the same column totals), and counts are not negative.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy.optimize import linprog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db import repo
from db.engine import session_factory
from db.models import DigestPost, Respondent
from research.digest import NOT_STATED, SHOWN_STANCES, STANCES, Figures
from research.disclosure import TOTAL, chance, round_shares, round_table, round_to
from survey.analysis import age_band
from tests.dataset import Person, seed_bulk
from tests.harness import BotHarness
from tests.test_digest import CHANNEL, channel_bot, local, posts, run_due  # noqa: F401 (channel_bot: a fixture)

K = 10
SOURCES = ("ru_tv", "kz_tv", "kz_online", "intl", "telegram", "social", "people")


def test_counts_are_rounded_to_steps_of_k_without_bias() -> None:
    assert [round_to(n, K, 0.5) for n in (0, 4, 5, 6, 10, 14, 16)] == [0, 0, 0, 10, 10, 10, 20]
    assert [round_to(3, K, c) for c in (0.0, 0.29, 0.3, 0.99)] == [10, 10, 0, 0]
    draws = [round_to(3, K, chance("key", "cell", draw)) for draw in range(2000)]
    assert set(draws) == {0, 10} and 2.7 < sum(draws) / len(draws) < 3.3, "3 on average"


def test_a_table_is_rounded_the_same_way_every_time_and_shares_come_from_it() -> None:
    counts = {"18-29": {"ukraine": 12, "peace": 5, "russia": 3}, "55+": {"russia": 4}}
    table = round_table("age_band", counts, STANCES, K, "key")
    assert table == round_table("age_band", counts, STANCES, K, "key")
    assert {value % K for value in table.counts.values()} == {0}
    assert table.hidden == {key for key, value in table.counts.items() if value == 0 and key[1] != TOTAL}
    whole = table.count("18-29", TOTAL)
    assert whole == sum(table.counts[("18-29", c)] for c in STANCES) and whole >= 10
    assert table.share("18-29", "ukraine") == table.counts[("18-29", "ukraine")] / whole
    assert (
        table.count(TOTAL, TOTAL)
        == sum(table.counts[(TOTAL, c)] for c in STANCES)
        == sum(table.counts[(row, TOTAL)] for row in table.rows)
    )


def test_shares_round_to_100() -> None:
    assert round_shares({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}) == {"a": 34, "b": 33, "c": 33}
    assert sum(v for v in round_shares({"a": 0.125, "b": 0.375, "c": 0.5}).values() if v) == 100
    assert round_shares({"a": None, "b": 0.6}) == {"a": None, "b": 60}


def test_published_figures_survive_storage_exactly() -> None:
    table = round_table("age_band", {"18-29": {"ukraine": 42}, NOT_STATED: {"skip": 7}}, STANCES, K, "key")
    figures = Figures(datetime(2026, 3, 20, 15, tzinfo=UTC), 49, 12, False, {"age_band": table}, "key")
    again = Figures.from_json(figures.to_json())
    assert again.tables == figures.tables and again.total == 49 and again.as_of == figures.as_of
    assert again.unchanged and again.new is None and again.key == "key"


# ---- the attacker ------------------------------------------------------------------------------


def knowledge(value: int, base: int) -> tuple[int, int]:
    """The true counts a published `value` allows."""
    return max(0, value - base + 1), value + base - 1


class Attack:
    """The linear program of what the channel's readers know about the counts behind digests."""

    def __init__(self, publications: Sequence[Figures], base: int = K) -> None:
        self.index: dict[tuple[int, str, Hashable, Hashable], int] = {}
        bounds: list[tuple[int, int]] = []
        equal: list[tuple[dict[int, float], float]] = []
        for p, figures in enumerate(publications):
            assert figures.total is not None
            for name, table in figures.tables.items():
                for row in table.rows:
                    for column in table.columns:
                        self.index[(p, name, row, column)] = len(bounds)
                        bounds.append(knowledge(table.counts[(row, column)], base))
                equal.append((self.line(p, name), figures.total))
            first, *others = figures.tables
            for name in others:
                for column in figures.tables[first].columns:
                    together = self.line(p, first, column=column)
                    together.update({i: -1.0 for i in self.line(p, name, column=column)})
                    equal.append((together, 0))
        self.bounds, self.size = bounds, len(bounds)
        self.a_eq, self.b_eq = self._matrix(equal)

    def line(
        self, p: int, name: str, row: Hashable | None = None, column: Hashable | None = None
    ) -> dict[int, float]:
        """The sum of publication p's table `name` along a row, a column, or all of it."""
        return {
            i: 1.0
            for (q, n, r, c), i in self.index.items()
            if q == p and n == name and row in (None, r) and column in (None, c)
        }

    def _matrix(self, rows: list[tuple[dict[int, float], float]]) -> tuple[np.ndarray, np.ndarray]:
        matrix = np.zeros((len(rows), self.size))
        for number, (coefficients, _value) in enumerate(rows):
            for i, a in coefficients.items():
                matrix[number, i] = a
        return matrix, np.array([value for _c, value in rows], dtype=float)

    def range(self, objective: dict[int, float]) -> tuple[int, int] | None:
        """The least and the most the objective can be (whole numbers); None if that can't be small."""
        box = [self.bounds[i][0 if a > 0 else 1] * a for i, a in objective.items()]
        top = [self.bounds[i][1 if a > 0 else 0] * a for i, a in objective.items()]
        if sum(box) >= K or sum(top) <= -K:
            return None
        c = np.zeros(self.size)
        for i, a in objective.items():
            c[i] = a
        ends = []
        for sign in (1, -1):
            result = linprog(sign * c, None, None, self.a_eq, self.b_eq, self.bounds, method="highs")
            assert result.status == 0, "what was published must be consistent with some truth"
            ends.append(sign * result.fun)
        return math.ceil(ends[0] - 1e-6), math.floor(ends[1] + 1e-6)

    def groups(self, p: int, figures: Figures) -> dict[str, dict[int, float]]:
        """Every group a digest speaks of: each cell, each row (a group of people), each column."""
        found = {}
        for name, table in figures.tables.items():
            for row in table.rows:
                found[f"{name}:{row}"] = self.line(p, name, row=row)
                for column in table.columns:
                    found[f"{name}:{row}:{column}"] = self.line(p, name, row=row, column=column)
            for column in table.columns:
                found[f"{name}:all:{column}"] = self.line(p, name, column=column)
        return found


def small(bounds: tuple[int, int] | None) -> bool:
    """Pinned inside 1..K-1 people (or, for a change, inside -(K-1)..-1)."""
    return bounds is not None and (1 <= bounds[0] <= bounds[1] < K or -K < bounds[0] <= bounds[1] <= -1)


def pinned_groups(publications: Sequence[Figures]) -> dict[str, tuple[int, int]]:
    """The small groups the attacker pins in one publication, or in the change between two."""
    attack = Attack(publications)
    found = {}
    for name, line in attack.groups(len(publications) - 1, publications[-1]).items():
        objective = dict(line)
        if len(publications) == 2:
            for i, a in attack.groups(0, publications[0])[name].items():
                objective[i] = objective.get(i, 0) - a
        bounds = attack.range(objective)
        if small(bounds):
            assert bounds is not None
            found[name] = bounds
    return found


def test_the_attacker_pins_the_small_groups_of_unprotected_counts() -> None:
    """The attacker works: given exact counts (rounding to steps of 1), it finds the small cells."""
    exact = round_table(
        "age_band", {"18-29": {"russia": 3, "ukraine": 40}, "55+": {"russia": 30}}, STANCES, 1, ""
    )
    figures = Figures(datetime(2026, 3, 20, tzinfo=UTC), 73, None, False, {"age_band": exact}, "")
    attack = Attack([figures], base=1)
    assert small(attack.range(attack.line(0, "age_band", row="18-29", column="russia")))


# ---- a crowd run -------------------------------------------------------------------------------


def person(rng: random.Random) -> Person:
    """A respondent drawn at random, with the kinds of groups real digests have: large, mid-sized and small."""
    age = rng.choice([None] * 2 + [*range(18, 30)] * 3 + [*range(30, 55)] * 2 + [*range(55, 80)])
    stance = rng.choices(STANCES, weights=(18, 30, 30, 17, 5))[0]
    source = rng.choices([None, *SOURCES], weights=(4, 12, 20, 15, 6, 30, 10, 3))[0]
    return Person(age=age, stance=stance, main_source=source)


def truth(people: Sequence[Person]) -> dict[str, dict[Hashable, dict[Hashable, int]]]:
    """The true tables behind a digest, counted here from the people alive in the database."""
    tables: dict[str, dict[Hashable, dict[Hashable, int]]] = {"age_band": {}, "main_source": {}}
    for p in people:
        band = age_band(p.age) if p.age is not None else None
        for name, group in (("age_band", band), ("main_source", p.main_source)):
            row = tables[name].setdefault(group or NOT_STATED, {})
            row[p.stance] = row.get(p.stance, 0) + 1
    return tables


@dataclass
class Loss:
    """Information loss over groups of at least 2K people: hidden whole, and error of shown shares."""

    groups: int = 0
    hidden: int = 0
    error_points: float = 0.0
    shares: int = 0

    def add(self, figures: Figures, people: Sequence[Person]) -> None:
        for name, rows in truth(people).items():
            table = figures.tables[name]
            for row, cells in rows.items():
                size = sum(cells.values())
                if size < 2 * K:
                    continue
                self.groups += 1
                shown = round_shares({c: table.share(row, c) for c in STANCES})
                if not any(shown.get(c) for c in SHOWN_STANCES):
                    self.hidden += 1
                    continue
                for c in SHOWN_STANCES:
                    self.error_points += abs((shown[c] or 0) - 100 * cells.get(c, 0) / size)
                    self.shares += 1

    def __str__(self) -> str:
        return (
            f"information loss: {self.hidden} of {self.groups} groups of at least {2 * K} people hidden "
            f"({100 * self.hidden / max(1, self.groups):.0f}%); shown shares off by "
            f"{self.error_points / max(1, self.shares):.1f} percentage points on average"
        )


async def published(engine: AsyncEngine) -> list[Figures]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(DigestPost.published).order_by(DigestPost.period_key))
        return [Figures.from_json(data) for (data,) in rows]


@pytest.mark.parametrize("seed", [1, 2])
async def test_an_lp_attacker_pins_no_small_group_in_any_digest_or_pair_of_digests(
    channel_bot: BotHarness,  # noqa: F811
    engine: AsyncEngine,
    seed: int,
) -> None:
    """Newcomers of every size (exactly K too) and erasures between digests: nothing small is pinned."""
    rng = random.Random(seed)
    alive: dict[int, Person] = {}
    next_id, loss, moved = 1, Loss(), []
    sessions = session_factory(engine)
    for day in range(1, 11):
        people = [person(rng) for _ in range(rng.choice([0, 3, 9, 10, 10, 12, 25, 60] if day > 1 else [80]))]
        batch = [replace(p, started=local(2026, 3, day, 10, 0).astimezone(UTC), minutes=3) for p in people]
        await seed_bulk(engine, batch, first_id=next_id)
        alive.update(zip(range(next_id, next_id + len(batch)), batch, strict=True))
        next_id += len(batch)
        for gone in rng.sample(sorted(alive), rng.choice([0, 0, 1, 1, 2, 5])):
            async with sessions.begin() as session:
                respondent = await session.get(Respondent, gone)
                assert respondent is not None
                await repo.erase_respondent(session, respondent)
            del alive[gone]
        channel_bot.clock.now = local(2026, 3, day, 20, 0, 5).astimezone(UTC)
        await run_due(channel_bot)
        figures = (await published(engine))[-1]
        assert f"{figures.total}" in posts(channel_bot.emulator)[-1]
        if moved and figures.as_of == moved[-1].as_of:
            assert figures.tables == moved[-1].tables and figures.total == moved[-1].total
            continue
        moved.append(figures)
        loss.add(figures, list(alive.values()))
        assert pinned_groups(moved[-1:]) == {}, f"digest {day}"
        if len(moved) > 1:
            assert pinned_groups(moved[-2:]) == {}, f"the change from the digest before to digest {day}"
    assert len(moved) >= 4, "the run moved the figures several times"
    print(f"\n{len(moved)} digests moved the figures; {loss}")
    assert loss.hidden <= 0.1 * loss.groups
