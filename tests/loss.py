"""Information loss of the digest's disclosure control: groups hidden, and how far shown shares are off;
and a crowd whose digests are rounded in memory as research/digest.gather() rounds them.

Shared by tests/test_disclosure.py and bench/disclosure_loss.py.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from research.digest import NOT_STATED, Figures
from research.disclosure import SafeTable, round_shares, round_table
from survey.analysis import ANALYSIS, band
from tests.dataset import CROWD_SOURCES, Person, random_person

Tables = dict[str, dict[Hashable, dict[Hashable, int]]]


def truth(people: Sequence[Person]) -> Tables:
    """The true tables behind a digest: stance by age band and by main news source."""
    tables: Tables = {"age_band": {}, "main_source": {}}
    for p in people:
        for name, group in (("age_band", age_band(p.age)), ("main_source", p.main_source)):
            row = tables[name].setdefault(group or NOT_STATED, {})
            row[p.stance] = row.get(p.stance, 0) + 1
    return tables


STANCES = ANALYSIS.digest.categories
"""The digest's outcome categories (stance), as the questionnaire names them."""
SHOWN_STANCES = tuple(ANALYSIS.digest.words)
AGE_BANDS = [b.code for b in ANALYSIS.variable("age_band").bands]  # type: ignore[union-attr]


def age_band(age: int | None) -> str | None:
    return band("age_band", age)


@dataclass
class Loss:
    """Over groups (rows) of at least 2k people: how many are hidden whole (no main view shown), and
    by how many percentage points the shown shares of the main views are off, by group size."""

    k: int
    groups: int = 0
    hidden: int = 0
    errors: dict[str, list[float]] = field(default_factory=dict)

    def size_band(self, size: int) -> str:
        k = self.k
        if size >= 10 * k:
            return f"{10 * k}+"
        return f"{5 * k}–{10 * k - 1}" if size >= 5 * k else f"{2 * k}–{5 * k - 1}"

    def add(self, published: Mapping[str, SafeTable], true: Tables) -> None:
        """Count the groups of one digest."""
        for name, rows in true.items():
            table = published[name]
            for row, cells in rows.items():
                size = sum(cells.values())
                if size < 2 * self.k:
                    continue
                self.groups += 1
                shown = round_shares({c: table.share(row, c) for c in STANCES})
                if not any(shown.get(c) for c in SHOWN_STANCES):
                    self.hidden += 1
                    continue
                errors = self.errors.setdefault(self.size_band(size), [])
                errors += [abs((shown[c] or 0) - 100 * cells.get(c, 0) / size) for c in SHOWN_STANCES]

    @property
    def hidden_share(self) -> float:
        return self.hidden / self.groups if self.groups else 0.0

    def __str__(self) -> str:
        off = ", ".join(
            f"{band} people {sum(e) / len(e):.1f}"
            for band, e in sorted(
                self.errors.items(), key=lambda item: int(item[0].split("–")[0].rstrip("+"))
            )
        )
        return (
            f"information loss: {self.hidden} of {self.groups} groups of at least {2 * self.k} people hidden "
            f"({100 * self.hidden_share:.0f}%); shown shares off by (percentage points, mean) {off}"
        )


def publish(people: Sequence[Person], k: int, key: str, as_of: datetime) -> Figures:
    """The figures gather() publishes for these people (every group a row, as there)."""
    true = truth(people)
    groups = {"age_band": AGE_BANDS, "main_source": list(CROWD_SOURCES)}
    tables = {
        name: round_table(name, {g: true[name].get(g, {}) for g in [*codes, NOT_STATED]}, STANCES, k, key)
        for name, codes in groups.items()
    }
    return Figures(as_of, len(people), None, False, tables, key)


@dataclass(frozen=True)
class Digest:
    """One digest of a simulated crowd: what it published, the truth behind it, how many were erased."""

    figures: Figures
    true: Tables
    erased: int


def crowd_digests(rng: random.Random, k: int, key: str, digests: int) -> Iterator[Digest]:
    """The digests of a crowd of 80 that grows by 10 to 60 newcomers between digests (fewer leave the
    figures unchanged, adding nothing), with 0 to 5 erasures in between."""
    people = [random_person(rng) for _ in range(80)]
    start = datetime(2026, 3, 20, 15, tzinfo=UTC)
    for day in range(digests):
        erased = rng.choice([0, 0, 1, 1, 2, 5]) if day else 0
        for _ in range(erased):
            people.pop(rng.randrange(len(people)))
        people += [random_person(rng) for _ in range(rng.choice([10, 10, 12, 25, 60]) if day else 0)]
        yield Digest(publish(people, k, key, start + timedelta(days=day)), truth(people), erased)
