"""Quality flags: speeders flagged in the export, counted in /stats, left out of weighted figures."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import Settings
from db.engine import session_factory
from research.export import CSV_ENCODING
from research.quality import speeders
from research.weights import Plan
from survey.model import load_questionnaire
from survey.targets import load_targets
from tests.conftest import RESEARCHER_ID
from tests.dataset import Person, seed
from tests.harness import BotHarness

# Median 3 minutes: the threshold is 60 s. Three took 30 s (speeders); one took exactly 60 s (not).
STEADY = [Person(age=30 + i % 30, minutes=3, stance="peace") for i in range(20)]
FAST = [Person(age=25, minutes=0.5, stance="russia") for _ in range(3)]
EDGE = [Person(age=40, minutes=1, stance="ukraine")]


async def test_speeders_are_those_under_a_third_of_the_median(engine: AsyncEngine) -> None:
    """A response of 30 s is a speeder when the median is 180 s; one of exactly 60 s is not."""
    await seed(engine, STEADY + FAST + EDGE)
    async with session_factory(engine).begin() as session:
        found = await speeders(session, 1 / 3)
    assert found.seconds == 60 and found.count == 3
    assert (found.flag(30), found.flag(59), found.flag(60), found.flag(None)) == (1, 1, 0, None)


@pytest.mark.slow  # /export starts its process
async def test_speeders_are_flagged_in_the_export_and_get_no_weight(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """The export's speeder column is 1 for exactly the crafted speeders; their weight is empty."""
    await seed(engine, STEADY + FAST + EDGE)
    researcher = harness.user(user_id=RESEARCHER_ID, language_code="kk")
    await researcher.send("/export")
    data = next(m.file for m in researcher.messages if m.media == "document")
    assert data is not None
    rows = list(csv.DictReader(io.StringIO(data.decode(CSV_ENCODING))))
    flagged = [row for row in rows if row["speeder"] == "1"]
    assert len(flagged) == 3 and {row["duration_seconds"] for row in flagged} == {"30"}
    assert all(row["weight"] == "" for row in flagged)
    assert all(row["speeder"] == "0" and float(row["weight"]) > 0 for row in rows if row not in flagged)


async def test_stats_count_speeders_and_weighted_figures_leave_them_out(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    """/stats counts the speeders; its weighted shares stand on the others (n 21), raw on all (n 24)."""
    await seed(engine, STEADY + FAST + EDGE)
    researcher = harness.user(user_id=RESEARCHER_ID, language_code="ru")
    _ = harness.services.i18n.translator("ru")
    await researcher.send("/stats")
    weighted = "\n".join(researcher.texts)
    minute = _("{minutes} min {seconds} s", minutes=1, seconds=0)
    assert _("Speeders (completed in under {time}): {count}", time=minute, count="3") in weighted
    assert _("Speeders are left out: {count}.", count="3") in weighted
    assert f"{_('View of the war')} (n = 21)" in weighted
    assert f"• {_('Russia is right, it is protecting its security')}: 0 · 0,0%" in weighted

    await researcher.send("/stats raw")
    raw = researcher.last.plain_text
    assert f"{_('View of the war')} (n = 24)" in raw
    assert f"• {_('Russia is right, it is protecting its security')}: 3* · 12,5%" in raw


def test_weight_speeders_keeps_them() -> None:
    """WEIGHT_SPEEDERS=true: the plan keeps speeders; by default it leaves out a third of the median."""
    targets = load_targets(load_questionnaire())
    assert Plan.from_settings(targets, Settings(weight_speeders=True)).speeder_fraction is None
    assert Plan.from_settings(targets, Settings()).speeder_fraction == 1 / 3
