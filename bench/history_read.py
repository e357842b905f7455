"""Reading every campaign's trend back from a big history: what `summary --state` and `state
info` pay on a state database of many campaigns.

    python bench/history_read.py [--campaigns 100000] [--nights 8] [--rounds 3]

Builds (untimed) a state database of `--campaigns` campaigns with `--nights` committed nights
each, every night linked to the one before as a run writes it, then reads every campaign's
trend (`history.read_trends`, nights 0, as summary does) in a child process per round: its
wall time and peak RSS (the child's `ru_maxrss`), medians printed with the CPU they ran on.
Not a test: nothing asserts on these figures.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from machine import machine

from fota_poller.state.schema import open_database

_DAY_MS = 86_400_000
_READ = """
import contextlib, resource, sys, time
from pathlib import Path
from fota_poller.state.history import read_trends
from fota_poller.state.schema import open_database
started = time.perf_counter()
with contextlib.closing(open_database(Path(sys.argv[1]), read_only=True)) as connection:
    trends = read_trends(connection, nights=0, stalled_after=3)
print(len(trends), time.perf_counter() - started,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def build(path: Path, campaigns: int, nights: int) -> None:
    """The database, its rows written straight in (a run would take minutes for the same)."""
    open_database(path).close()  # the schema as fota-poller makes it
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO runs (run, run_id, started_at, committed_at) VALUES (?, ?, 'a', 'b')",
            [(run, f"run-{run}") for run in range(1, nights + 1)],
        )
        db.executemany(
            """INSERT INTO campaigns (campaign, account_name, upgrade_id, status, device_count,
            first_polled_at, last_polled_at, last_run, transitions)
            VALUES (?, '0000123456-00001', ?, 'InProgress', 100, 'a', 'b', ?, '[]')""",
            [
                (key, f"{key:08d}-0000-4000-8000-000000000000", nights)
                for key in range(1, campaigns + 1)
            ],
        )
        db.executemany(
            "INSERT INTO history VALUES (?, ?, ?, 100, ?, 0, ?, 0, NULL, NULL, 10, 0, ?)",
            (
                (
                    key,
                    run,
                    1_780_000_000_000 + run * _DAY_MS,
                    10 * run,
                    100 - 10 * run,
                    run - 1 or None,
                )
                for run in range(1, nights + 1)
                for key in range(1, campaigns + 1)
            ),
        )
        db.execute("COMMIT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=100_000)
    parser.add_argument("--nights", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="history-read-") as folder:
        path = Path(folder) / "state.db"
        build(path, args.campaigns, args.nights)
        walls, peaks = [], []
        for _ in range(args.rounds):
            done = subprocess.run(
                [sys.executable, "-c", _READ, str(path)], capture_output=True, text=True, check=True
            )
            count, wall, peak = done.stdout.split()
            assert int(count) == args.campaigns  # every campaign read back
            walls.append(float(wall))
            peaks.append(float(peak))
    print(
        f"{args.campaigns:,} campaigns x {args.nights} nights: every trend read in "
        f"{statistics.median(walls):.2f} s, peak RSS {statistics.median(peaks):.1f} MB "
        f"(medians of {args.rounds})"
    )


if __name__ == "__main__":
    main()
