"""A run's staged nights of history: kept in memory as campaigns are staged, written at the commit.

Written in the run's own transaction, just before its COMMIT, in two statements for every
campaign staged since the last commit: one statement per campaign as each was staged made
a night's commit half as slow again (bench/history_commit.py). Retention's delete runs
there too: nights older than `history_days` before the newest staged night (not the clock
of the machine: a clock set back prunes nothing it should not).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

import msgspec

from fota_poller.state.history import HistoryRow, TransitionRow

_DAY_MS: Final = 86_400_000
_INSERT_NIGHT: Final = """INSERT OR REPLACE INTO history (campaign, run, polled_ms, devices,
    succeeded, failed, pending, unknown, on_target, late, moved, quiet)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_REPLACE_MOVES: Final = "INSERT OR REPLACE INTO transitions (campaign, run, moves) VALUES (?, ?, ?)"
_encoder: Final = msgspec.json.Encoder()


class NightBatch:
    """The nights and transitions staged since the last commit, and the newest night's time."""

    def __init__(self) -> None:
        self._nights: list[tuple[object, ...]] = []
        self._moves: list[tuple[int | None, int, str]] = []
        self._newest_ms: int | None = None

    def add(
        self, key: int | None, run: int, night: HistoryRow, transitions: Sequence[TransitionRow]
    ) -> None:
        """Stage one campaign's night and transitions (its key, the run's)."""
        self._nights.append((key, run, *msgspec.structs.astuple(night)))
        self._moves.append((key, run, _encoder.encode(list(transitions)).decode()))
        if self._newest_ms is None or night.polled_ms > self._newest_ms:
            self._newest_ms = night.polled_ms

    def write(self, connection: sqlite3.Connection, history_days: int | None) -> None:
        """Write what is staged and prune (`history_days`; None: none), in the open transaction."""
        connection.executemany(_INSERT_NIGHT, self._nights)
        connection.executemany(_REPLACE_MOVES, self._moves)
        if history_days is not None and self._newest_ms is not None:
            cutoff = self._newest_ms - history_days * _DAY_MS
            connection.execute("DELETE FROM history WHERE polled_ms < ?", (cutoff,))
