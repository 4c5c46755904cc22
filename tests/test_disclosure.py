"""Disclosure control: crafted tables with small cells publish nothing under the threshold."""

from __future__ import annotations

import itertools
import random
from collections.abc import Hashable

import pytest

from research.disclosure import TOTAL, SafeTable, _lines, protect, protect_together, round_shares

K = 10


def attacker(table: SafeTable) -> dict[tuple[Hashable, Hashable], int]:
    """What subtraction recovers: repeatedly solve every row/column with one unknown entry."""
    known = {key: value for key, value in table.counts.items() if key not in table.hidden}
    progress = True
    while progress:
        progress = False
        for line in _lines(table.rows, table.columns):
            unknown = [key for key in line if key not in known]
            if len(unknown) != 1:
                continue
            # Each line is "cells add up to the line's total entry" (the entry with TOTAL in the
            # position the line runs along).
            [missing] = unknown
            total = line[-1]
            parts = line[:-1]
            if missing == total:
                known[missing] = sum(known[p] for p in parts)
            else:
                known[missing] = known[total] - sum(known[p] for p in parts if p != missing)
            progress = True
    return known


def assert_safe(table: SafeTable) -> None:
    recovered = attacker(table)
    small = {key: value for key, value in recovered.items() if 0 < value < K}
    assert small == {}, f"small groups recoverable: {small}"
    for line in _lines(table.rows, table.columns):
        # Where a line's total is known, the hidden cells' sum is known too: it must not be a small group.
        unknown = [key for key in line if key not in recovered]
        if line[-1] in recovered:
            unknown_sum = sum(table.counts[key] for key in unknown)
            assert unknown_sum == 0 or unknown_sum >= K, (line, unknown_sum)


def test_large_cells_are_all_published() -> None:
    table = protect(
        {"18-29": {"ukraine": 40, "peace": 25}, "55+": {"ukraine": 12, "peace": 30}}, ["ukraine", "peace"], K
    )
    assert table.hidden == frozenset()
    assert table.count(TOTAL, TOTAL) == 107 and table.share("55+", "peace") == 30 / 42


def test_a_small_cell_is_hidden_with_its_complements() -> None:
    counts = {
        "18-29": {"russia": 3, "ukraine": 40, "peace": 25},
        "30-39": {"russia": 12, "ukraine": 30, "peace": 22},
        "55+": {"russia": 45, "ukraine": 14, "peace": 30},
    }
    table = protect(counts, ["russia", "ukraine", "peace"], K)
    assert table.count("18-29", "russia") is None
    assert sum(1 for key in table.hidden if key[0] == "18-29") >= 2
    assert sum(1 for key in table.hidden if key[1] == "russia") >= 2
    assert_safe(table)


def test_a_small_row_cannot_be_recovered_from_the_grand_total() -> None:
    """A whole group (row) under k is hidden, and so is another row, so the margins don't give it away."""
    counts = {
        "18-29": {"russia": 20, "ukraine": 40},
        "30-39": {"russia": 25, "ukraine": 30},
        "skip": {"russia": 2, "ukraine": 3},
    }
    table = protect(counts, ["russia", "ukraine"], K)
    assert table.count("skip", TOTAL) is None
    assert table.count("skip", "russia") is None and table.count("skip", "ukraine") is None
    assert_safe(table)


def test_two_small_cells_that_add_up_to_a_small_group_are_not_enough() -> None:
    counts = {"a": {"x": 2, "y": 3, "z": 50}, "b": {"x": 30, "y": 40, "z": 50}}
    table = protect(counts, ["x", "y", "z"], K)
    assert_safe(table)


def test_zero_is_not_a_group() -> None:
    table = protect({"a": {"x": 0, "y": 50}, "b": {"x": 20, "y": 30}}, ["x", "y"], K)
    assert table.hidden == frozenset() and table.count("a", "x") == 0


@pytest.mark.parametrize("seed", range(60))
def test_random_tables_never_leak_a_small_group(seed: int) -> None:
    rng = random.Random(seed)
    rows = [f"r{i}" for i in range(rng.randint(1, 5))]
    columns = [f"c{j}" for j in range(rng.randint(1, 5))]
    counts = {r: {c: rng.choice([0, 1, 2, 3, 5, 8, 9, 10, 11, 15, 30, 80]) for c in columns} for r in rows}
    table = protect(counts, columns, K)
    assert_safe(table)
    for key in itertools.product([*rows, TOTAL], [*columns, TOTAL]):
        value = table.count(*key)
        assert value is None or value == 0 or value >= K


def test_shares_round_to_100() -> None:
    assert round_shares({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}) == {"a": 34, "b": 33, "c": 33}
    assert sum(v for v in round_shares({"a": 0.125, "b": 0.375, "c": 0.5}).values() if v) == 100
    assert round_shares({"a": None, "b": 0.6}) == {"a": None, "b": 60}


@pytest.mark.parametrize("seed", range(30))
def test_tables_sharing_margins_hide_the_same_margins(seed: int) -> None:
    """Stance by age and stance by news source show the same stance totals: both hide the same ones."""
    rng = random.Random(seed)
    people = [
        (rng.choice("abcd"), rng.choice("uvwxyz"), rng.choice(["x", "y", "z"]))
        for _ in range(rng.randint(5, 80))
    ]
    by_first: dict[str, dict[str, int]] = {}
    by_second: dict[str, dict[str, int]] = {}
    for first, second, column in people:
        by_first.setdefault(first, {}).setdefault(column, 0)
        by_first[first][column] += 1
        by_second.setdefault(second, {}).setdefault(column, 0)
        by_second[second][column] += 1
    tables = protect_together({"first": by_first, "second": by_second}, ["x", "y", "z"], K)
    margins = [{key for key in t.hidden if key[0] == TOTAL} for t in tables.values()]
    assert margins[0] == margins[1]
    for table in tables.values():
        assert_safe(table)
