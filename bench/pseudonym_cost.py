"""What a guessed Telegram id costs: the keyed pseudonym (HMAC) against the participation hash (scrypt).

Someone holding the database and PSEUDONYM_KEY recovers a linked respondent's Telegram id by
computing the pseudonym of every candidate id; after unlinking only the participation hash is left,
and each guess costs one scrypt. This prints both costs here, on one core, and what enumerating
10^10 Telegram ids (the whole space, with room to spare) would take.

    .venv/bin/python bench/pseudonym_cost.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from core.privacy import SCRYPT_COST, new_key, participant_hash, pseudonym

IDS = 10**10
SECONDS_PER_YEAR = 365.25 * 24 * 3600


def per_call(function: Callable[[str, int], str], key: str, repeat: int) -> tuple[float, float]:
    """Seconds of one core (CPU time) and of the clock per call of function(key, id), `repeat` ids."""
    cpu, wall = time.process_time(), time.perf_counter()
    for user_id in range(7_000_000_000, 7_000_000_000 + repeat):
        function(key, user_id)
    return (time.process_time() - cpu) / repeat, (time.perf_counter() - wall) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20, help="scrypt hashes to time (default 20)")
    args = parser.parse_args()
    key = new_key()
    hmac_cost, _wall = per_call(pseudonym, key, 200_000)
    scrypt_cost, scrypt_wall = per_call(participant_hash, key, args.repeat)
    memory = 128 * SCRYPT_COST["r"] * SCRYPT_COST["n"] * SCRYPT_COST["p"]
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    n, r, p = SCRYPT_COST["n"], SCRYPT_COST["r"], SCRYPT_COST["p"]
    print(f"scrypt parameters: n={n} r={r} p={p}, {memory >> 20} MiB")
    print(f"HMAC-SHA256 pseudonym: {hmac_cost * 1e6:.2f} µs of one core per id")
    print(
        f"scrypt participation hash: {scrypt_cost * 1e3:.1f} ms of one core per id "
        f"({scrypt_wall * 1e3:.1f} ms by the clock on this shared machine; {args.repeat} ids)"
    )
    for name, cost in (("pseudonym", hmac_cost), ("participation hash", scrypt_cost)):
        seconds = cost * IDS
        print(
            f"enumerating 10^10 ids by {name} on one core: {seconds / 3600:,.1f} hours "
            f"= {seconds / SECONDS_PER_YEAR:,.2f} years"
        )
    print(f"one person's id checked by participation hash: {scrypt_cost * 1e3:.1f} ms (a targeted guess)")


if __name__ == "__main__":
    main()
