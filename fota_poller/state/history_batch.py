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
_COLUMNS: Final = 2 + len(HistoryRow._fields)  # campaign, run, then the night
# Nights to a statement: 32 x 13 values, under the 999 an SQLite before 3.32 allows. A
# statement is compiled once a connection (a run), and compiling one of 64 nights took as
# long as running eight; what is left over goes one night a row through the one-night
# statement, so that no statement of another size is compiled at each commit (a 40-night
# one cost a fifth of a 1,000-campaign night's insert).
_CHUNK: Final = 32
_INSERT: Final = """INSERT OR REPLACE INTO history (campaign, run, polled_ms, devices,
    succeeded, failed, pending, unknown, on_target, late, moved, quiet, prior_run) VALUES """
# The columns that may be null (on_target, late, prior_run) are bound as -1 for none and
# made null again in SQL: binding None costs the sqlite3 module a failed adaptation (about
# 0.2 us, against 0.05 us for an integer; two or three a night), a third of the insert.
_NONE: Final = -1
_NULLABLE: Final = frozenset(
    2 + HistoryRow._fields.index(name) for name in ("on_target", "late", "prior_run")
)
_ROW: Final = (
    "(" + ", ".join(f"nullif(?, {_NONE})" if i in _NULLABLE else "?" for i in range(_COLUMNS)) + ")"
)
# The oldest run that kept nights, and whether any of its nights is as young as the cutoff:
# the start of one range of the key, read until the first such night (the first, on a night
# that prunes nothing). A time that is no integer (a file edited by hand) is no time: a run
# with none is as old as any, so retention never stops behind it (state/recent.py,
# `readable_night`).
_OLDEST_RUN: Final = "SELECT min(run) FROM history"
_KEPT: Final = """SELECT EXISTS (SELECT 1 FROM history WHERE run = ?
    AND typeof(polled_ms) = 'integer' AND polled_ms >= ?)"""


def _insert(rows: int) -> str:
    return _INSERT + ", ".join([_ROW] * rows)


_INSERT_CHUNK: Final = _insert(_CHUNK)
_INSERT_ONE: Final = _insert(1)


class NightBatch:
    """The nights staged since the last commit, their values in a row; the newest one's time."""

    def __init__(self) -> None:
        self._values: list[object] = []
        self._newest_ms: int | None = None

    def add(self, key: int, run: int, night: HistoryRow) -> None:
        """Stage one campaign's night (its key, the run's)."""
        # Unpacked at once: a NamedTuple's fields read by name cost twice the whole add.
        polled, devices, succeeded, failed, pending, unknown, target, late, moved, quiet, prior = (
            night
        )
        self._values += (
            key, run, polled, devices, succeeded, failed, pending, unknown,
            _NONE if target is None else target, _NONE if late is None else late,
            moved, quiet, _NONE if prior is None else prior,
        )  # fmt: skip
        if self._newest_ms is None or polled > self._newest_ms:
            self._newest_ms = polled

    def write(self, connection: sqlite3.Connection, history_days: int | None) -> bool:
        """Write what is staged and prune (`history_days`; None: none), in the open transaction.

        True when it pruned: there were nights to count `history_days` back from.
        """
        values, step = self._values, _CHUNK * _COLUMNS
        whole = len(values) - len(values) % step
        for start in range(0, whole, step):
            connection.execute(_INSERT_CHUNK, values[start : start + step])
        if whole < len(values):
            nights = range(whole, len(values), _COLUMNS)
            connection.executemany(_INSERT_ONE, (values[i : i + _COLUMNS] for i in nights))
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
