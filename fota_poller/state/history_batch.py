"""A run's staged nights of history: kept in memory as campaigns are staged, written at the commit.

Written in the run's own transaction, just before its COMMIT, in one statement for every
campaign staged since the last commit: a statement per campaign as each was staged (and
the transitions in a table of their own) made a night's commit half as slow again
(bench/history_commit.py). Retention's delete runs
there too: nights older than `history_days` before the newest staged night (not the clock
of the machine: a clock set back prunes nothing it should not).
"""

from __future__ import annotations

import sqlite3
from typing import Final

import msgspec

from fota_poller.state.history import HistoryRow

_DAY_MS: Final = 86_400_000
_INSERT_NIGHT: Final = """INSERT OR REPLACE INTO history (campaign, run, polled_ms, devices,
    succeeded, failed, pending, unknown, on_target, late, moved, quiet)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


class NightBatch:
    """The nights staged since the last commit, and the newest one's time."""

    def __init__(self) -> None:
        self._nights: list[tuple[object, ...]] = []
        self._newest_ms: int | None = None

    def add(self, key: int | None, run: int, night: HistoryRow) -> None:
        """Stage one campaign's night (its key, the run's)."""
        self._nights.append((key, run, *msgspec.structs.astuple(night)))
        if self._newest_ms is None or night.polled_ms > self._newest_ms:
            self._newest_ms = night.polled_ms

    def write(self, connection: sqlite3.Connection, history_days: int | None) -> None:
        """Write what is staged and prune (`history_days`; None: none), in the open transaction."""
        connection.executemany(_INSERT_NIGHT, self._nights)
        if history_days is not None and self._newest_ms is not None:
            cutoff = self._newest_ms - history_days * _DAY_MS
            connection.execute("DELETE FROM history WHERE polled_ms < ?", (cutoff,))
