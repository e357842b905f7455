"""What binding a value costs Python's sqlite3, by type, and what that makes of a night's insert.

    python bench/sqlite_binding.py [--rounds 40] [--nights 1000]

Each figure the median of `--rounds`:
- `SELECT ?` with one value of each type: an int, a float or a str is bound directly; None,
  a bool or bytes goes through the adaptation protocol first (its lookups fail), which costs
  more than the bind itself; then None and a bool again, with the adapters the state
  registers (fota_poller/state/binding.py); and 100,000 new device rows (the devices table's
  columns, a reason and an on-target status unknown) inserted without those adapters and
  with them (a quarter of `--rounds`);
- `--nights` history rows (the table of state/history.py) inserted on a fresh connection
  a trial, as a run does once a night, with the state's adapters registered: nulls bound
  as None, bound as -1 made null by
  `nullif`, or written as NULL in the SQL (state/history_batch.py's `_UNJOINED`); and, the
  last way, with 4, 16, 32 and 64 nights a statement (the rest one by one), the statements'
  compiling included.
bench/README.md ("A third sitting", issue 22) has the figures and what came of them.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine

from fota_poller.state.history import HISTORY_TABLES
from fota_poller.state.history_batch import JOINED_ROW, UNJOINED_ROW, NightShape

# How a night's two unknown counts (on target, late) reach the table (the last way is the
# state's own), and the values a night binds then (campaign and run first, the night before
# last).
WAYS = {
    "None bound": (JOINED_ROW, (200, 100, 3, 97, 0, None, None, 4, 0)),
    "-1 and nullif": (
        "(?, ?, ?, ?, ?, ?, ?, ?, nullif(?, -1), nullif(?, -1), ?, ?, ?)",
        (200, 100, 3, 97, 0, -1, -1, 4, 0),
    ),
    "NULL in the SQL": (UNJOINED_ROW, (200, 100, 3, 97, 0, 4, 0)),
}
# The state's adapters (fota_poller/state/binding.py), registered by importing any of it.
ADAPTED = [(kind, sqlite3.PrepareProtocol) for kind in (type(None), bool)]


@contextlib.contextmanager
def without_the_state_s_adapters() -> Iterator[None]:
    """The block with None and bools bound as Python's sqlite3 binds them by itself."""
    taken = {key: sqlite3.adapters.pop(key) for key in ADAPTED}
    try:
        yield
    finally:
        sqlite3.adapters.update(taken)


def bind_ns(value: object, rounds: int) -> float:
    """Nanoseconds of one `SELECT ?` with `value`, the median of `rounds` runs of 20,000."""
    connection = sqlite3.connect(":memory:")
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(20_000):
            connection.execute("SELECT ?", (value,))
        times.append((time.perf_counter() - started) / 20_000)
    return statistics.median(times) * 1e9


def devices_ms(rounds: int, devices: int = 100_000) -> float:
    """Milliseconds (thread CPU) of `devices` new device rows, a reason and on-target unknown."""
    rows = [(1, f"{i:015d}", "UpgradeSuccess", None, 1, 1, None) for i in range(devices)]
    times = []
    for _ in range(rounds):
        connection = sqlite3.connect(":memory:")
        connection.execute(
            """CREATE TABLE devices (campaign INTEGER, device_id TEXT, status TEXT,
            result_reason TEXT, status_since INTEGER, first_seen INTEGER, on_target INTEGER,
            PRIMARY KEY (campaign, device_id)) WITHOUT ROWID"""
        )
        started = time.thread_time()
        connection.executemany("INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?, ?)", iter(rows))
        times.append(time.thread_time() - started)
        connection.close()
    return statistics.median(times) * 1000


def insert_ms(folder: Path, way: str, chunk: int, nights: int, rounds: int) -> float:
    """Milliseconds of one night's insert of `nights` rows (thread CPU), a fresh connection each."""
    row, counts = WAYS[way]
    path = folder / f"{way}-{chunk}.db"
    with sqlite3.connect(path, isolation_level=None) as setup:
        setup.execute("PRAGMA journal_mode = WAL")
        setup.execute(HISTORY_TABLES[0])
    setup.close()
    shape = NightShape(row, chunk)
    times = []
    for run in range(1, rounds + 1):
        values: list[object] = []
        for campaign in range(nights):
            values += (campaign, run, 1_790_000_000_000 + campaign, *counts, run - 1)
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("BEGIN IMMEDIATE")
        started = time.thread_time()
        shape.write(connection, values)
        times.append(time.thread_time() - started)
        connection.execute("COMMIT")
        connection.close()
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--nights", type=int, default=1000)
    args = parser.parse_args()
    print(machine())
    print(f"SQLite {sqlite3.sqlite_version}; medians of {args.rounds} rounds")
    rounds = max(1, args.rounds // 4)
    with without_the_state_s_adapters():
        for value in (1, 1.5, "x", None, True, b"x"):
            ns = bind_ns(value, args.rounds)
            print(f"SELECT ? with {type(value).__name__:8s} {ns:6.0f} ns")
        print(f"100,000 device rows, two values None:     {devices_ms(rounds):.1f} ms")
    for value in (None, True):
        ns = bind_ns(value, args.rounds)
        print(f"SELECT ? with {type(value).__name__:8s} {ns:6.0f} ns, the state's adapter")
    print(f"100,000 device rows, the state's adapters: {devices_ms(rounds):.1f} ms")
    with tempfile.TemporaryDirectory(prefix="binding-bench-") as folder:
        for way in WAYS:
            ms = insert_ms(Path(folder), way, 32, args.nights, args.rounds)
            print(f"{args.nights:,} nights, {way:16s} 32 a statement: {ms:.2f} ms")
        for chunk in (4, 16, 64):
            ms = insert_ms(Path(folder), "NULL in the SQL", chunk, args.nights, args.rounds)
            print(f"{args.nights:,} nights, NULL in the SQL, {chunk:2d} a statement: {ms:.2f} ms")


if __name__ == "__main__":
    main()
