"""A run's staged nights of history: kept in memory as campaigns are staged, written at the commit.

Written in the run's own transaction, just before its COMMIT, a few dozen nights to a
statement (`INSERT ... VALUES (...), (...), ...`): a statement per campaign as each was
staged made a night's commit half as slow again, and even one statement run once per night
(`executemany`) cost a fifth more than this (bench/history_commit.py, bench/README.md).
Retention's delete runs there too, in the first commit of a run that has nights (the store
asks once a run: a run to stdout commits every few hundred campaigns, and reading the oldest
run's nights at each commit cost 6 ms a commit at 100,000 campaigns, 200 commits a night):
the oldest runs whose nights are all older than
`history_days` before the newest staged night (not the clock of the machine: a clock set
back prunes nothing it should not), a run whole, oldest first, through the key (run,
campaign): the table needs no index by time. A run behind a younger one (its clock set
back) goes when the runs before it have.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from fota_poller.state.history import HistoryRow

_DAY_MS: Final = 86_400_000
# Nights to a statement: at most 32 x 13 values, under the 999 an SQLite before 3.32
# allows. A statement is compiled once a connection (a run), and compiling one of 64 nights
# took as long as running eight; what is left over goes one night a row through the
# one-night statement, so that no statement of another size is compiled at each commit (a
# 40-night one cost a fifth of a 1,000-campaign night's insert).
_CHUNK: Final = 32
_INSERT: Final = """INSERT OR REPLACE INTO history (campaign, run, polled_ms, devices,
    succeeded, failed, pending, unknown, on_target, late, moved, quiet, prior_run) VALUES """


class NightShape:
    """How one kind of night is bound: its row's SQL, and its statements of many and of one.

    A night without `--inventory` knows neither on target nor late: such nights are written
    with those two as NULL in the SQL, bound not at all. Binding None costs more than binding
    an integer even through the state's adapter (binding.py): 1,000 nights take 0.81 ms so,
    against 1.14 binding None and 1.02 binding -1 made null by `nullif`
    (bench/sqlite_binding.py, which writes them through this class).
    """

    def __init__(self, row: str, chunk: int = _CHUNK) -> None:
        self.per_night = row.count("?")
        self.chunk = chunk
        self.many = _INSERT + ", ".join([row] * chunk)
        self.one = _INSERT + row

    def write(self, connection: sqlite3.Connection, values: list[object]) -> None:
        """Insert the nights whose values are `values`, one after the other."""
        step = self.chunk * self.per_night
        whole = len(values) - len(values) % step
        for start in range(0, whole, step):
            connection.execute(self.many, values[start : start + step])
        if whole < len(values):
            nights = range(whole, len(values), self.per_night)
            connection.executemany(self.one, (values[i : i + self.per_night] for i in nights))


JOINED_ROW: Final = "(" + ", ".join("?" * (2 + len(HistoryRow._fields))) + ")"
UNJOINED_ROW: Final = "(?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)"
_JOINED: Final = NightShape(JOINED_ROW)
_UNJOINED: Final = NightShape(UNJOINED_ROW)
# The oldest run that kept nights, and whether any of its nights is as young as the cutoff:
# the start of one range of the key, read until the first such night (the first, on a night
# that prunes nothing). A time that is no integer (a file edited by hand) is no time: a run
# with none is as old as any, so retention never stops behind it (state/recent.py,
# `readable_night`).
_OLDEST_RUN: Final = "SELECT min(run) FROM history"
_KEPT: Final = """SELECT EXISTS (SELECT 1 FROM history WHERE run = ?
    AND typeof(polled_ms) = 'integer' AND polled_ms >= ?)"""


class NightBatch:
    """The nights staged since the last commit, their values in a row; the newest one's time.

    Nights that know neither on target nor late (no `--inventory`) are kept apart from the
    others, their values without those two (`UNJOINED_ROW`).
    """

    def __init__(self) -> None:
        self._joined: list[object] = []
        self._unjoined: list[object] = []
        self._newest_ms: int | None = None

    def add(self, key: int, run: int, night: HistoryRow) -> None:
        """Stage one campaign's night (its key, the run's)."""
        # Unpacked at once: a NamedTuple's fields read by name cost twice the whole add.
        polled, devices, succeeded, failed, pending, unknown, target, late, moved, quiet, prior = (
            night
        )
        if target is None and late is None:
            self._unjoined += (
                key, run, polled, devices, succeeded, failed, pending, unknown, moved, quiet,
                prior,
            )  # fmt: skip
        else:
            self._joined += (key, run, *night)
        if self._newest_ms is None or polled > self._newest_ms:
            self._newest_ms = polled

    def write(self, connection: sqlite3.Connection, history_days: int | None) -> bool:
        """Write what is staged and prune (`history_days`; None: none), in the open transaction.

        True when it pruned: there were nights to count `history_days` back from.
        """
        _UNJOINED.write(connection, self._unjoined)
        _JOINED.write(connection, self._joined)
        if history_days is None or self._newest_ms is None:
            return False
        _prune(connection, self._newest_ms - history_days * _DAY_MS)
        return True


def _prune(connection: sqlite3.Connection, cutoff_ms: int) -> None:
    """Delete the oldest runs whose every night is older than `cutoff_ms`, oldest first."""
    while True:
        (run,) = connection.execute(_OLDEST_RUN).fetchone()
        if run is None or connection.execute(_KEPT, (run, cutoff_ms)).fetchone()[0]:
            return
        connection.execute("DELETE FROM history WHERE run = ?", (run,))
