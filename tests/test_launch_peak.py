"""bench/launch_peak.py runs end to end on a tiny crowd and prints its table (the figures are in docs/)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
RESPONDENTS = 3
"""Thinking 0.3 to 0.5 s: the no-op bot has no pacing, and Telegram's 4 messages a second in a chat would refuse it."""


def test_launch_peak_prints_its_table() -> None:
    """A few respondents through the survey bot and the no-op bot: everyone completes, both rows and the ratio."""
    command = [
        sys.executable,
        str(ROOT / "bench" / "launch_peak.py"),
        *("--respondents", str(RESPONDENTS), "--minutes", "0.05", "--think", "0.3", "0.5"),
        *("--latency-ms", "10", "--databases", "sqlite", "--replicas", "1"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {
        cells[2]: cells
        for line in done.stdout.splitlines()
        if line.startswith("| ")
        and (cells := [cell.strip() for cell in line.split("|")])[2] in ("survey", "no-op")
    }
    assert set(rows) == {"survey", "no-op"}, done.stdout
    for cells in rows.values():
        respondents, completed, answers = (int(cells[n]) for n in (3, 4, 5))
        assert (respondents, completed, answers) == (RESPONDENTS, RESPONDENTS, 14 * RESPONDENTS)
        assert float(cells[11]) > 0  # bot CPU ms per answer, read from /proc
    assert "- sqlite, one process (polling): ratio " in done.stdout
    assert "broken off" not in done.stderr
