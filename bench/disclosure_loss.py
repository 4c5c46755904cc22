"""The digest's disclosure control, measured: what an LP attacker pins, and what the rounding costs.

    .venv/bin/python bench/disclosure_loss.py --runs 20 --digests 8

Each run is a simulated crowd (tests/loss.crowd_digests) that grows digest after digest by 10
to 60 newcomers, with 0 to 5 erasures in between, as the figures move in the channel (fewer
newcomers leave them unchanged, so they add nothing). Every digest's tables are rounded as
research/digest.gather() rounds them, with a fresh key per run. It prints:
- protection: how many groups (cells, rows, columns) the LP attacker of tests/attacker.py pins
  inside 1..k-1 in a digest, or in the change between two consecutive digests (also when it
  knows that nobody was erased between them: newcomers only);
- information loss: the share of groups of at least 2k people hidden whole (no main view shown),
  and how far the shown shares are off, by group size, over all digests at each crowd size.
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from research.digest import Figures
from tests.attacker import K, pinned_groups
from tests.loss import Loss, crowd_digests


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--digests", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    rng = random.Random(arguments.seed)
    began = time.perf_counter()
    checked = {"digests": 0, "pairs": 0, "pairs, newcomers only": 0}
    pinned = dict.fromkeys(checked, 0)
    loss = Loss(K)
    for run in range(arguments.runs):
        before: Figures | None = None
        for day, digest in enumerate(crowd_digests(rng, K, secrets.token_hex(32), arguments.digests)):
            loss.add(digest.figures.tables, digest.true)
            checks = [("digests", [digest.figures], False)]
            if before is not None:
                checks.append(("pairs", [before, digest.figures], False))
                if not digest.erased:
                    checks.append(("pairs, newcomers only", [before, digest.figures], True))
            for what, publications, only_newcomers in checks:
                checked[what] += 1
                found = pinned_groups(publications, only_newcomers)
                pinned[what] += len(found)
                if found:
                    print(f"pinned ({what}, run {run}, digest {day}): {found}", file=sys.stderr)
            before = digest.figures
    print("| checked by the LP attacker | publications | small groups pinned |\n|---|---|---|")
    for what, count in checked.items():
        print(f"| {what} | {count} | {pinned[what]} |")
    seconds = time.perf_counter() - began
    print(f"\n{loss}\n({arguments.runs} runs of {arguments.digests} digests, {seconds:.0f} s)")


if __name__ == "__main__":
    main()
