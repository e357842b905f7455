"""A campaign's last nights, read back through the chain each night keeps to the one before.

A campaign's trend (state/history.py, `campaign_trend`) needs its last `FIT_NIGHTS` nights.
The history table is clustered by run and has no index by campaign: such an index has its
entries spread over every campaign, so each night writes into a page of it per campaign, and
grows with retention (bench/history_commit.py, bench/README.md). Instead each night keeps
`prior_run`, the run of the campaign's night before it (null for its first: a run's worker
sets it from the campaign's `last_run`, `Prior.last_run`), and the campaign's row its last
run: from there a campaign's nights are a walk of probes into the key (run, campaign), one
recursive query for one campaign (`read_recent`), a run's read and summary's and report's,
campaign after campaign (`recent_reader`), so a reader holds one campaign's nights at a
time. Retention cuts the walk where it pruned.

A version 3 file has no chain: a reader reads its nights through the version 3 index by
campaign (`recent_from_history`); a writer upgrading it to version 4 links every night to
the one before through that index, then drops it (`upgrade_to_4`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Final

import msgspec

# The nights the projected finish is fitted over, and so the nights a trend reads.
FIT_NIGHTS: Final = 7


class FitPoint(msgspec.Struct, frozen=True):
    """One night of a campaign, as its trend needs it."""

    polled_ms: int
    devices: int
    succeeded: int
    resolved: int  # succeeded + failed


class Recent(msgspec.Struct, frozen=True):
    """A campaign's last nights (oldest first, at most `FIT_NIGHTS`), and the latest's state.

    `quiet` is the latest night's nights without progress, `pending` its pending devices.
    """

    quiet: int
    pending: int
    points: list[FitPoint]


# A night as its readers take it: every count an integer from 0 to 2**40 (on target and
# late null too: unknown; no sum over campaigns overflows SQLite's 64 bits), its time an
# integer between years 1 and 9999 (what `polled_text` formats). The file is one others can
# edit (a value of another type, or out of range, as a devices row's times may be:
# times.stored_time): a night that is not so is no night to its readers, read as unknown,
# never a crash. On the chain it ends the walk as a missing night does.
_COUNTS: Final = ("devices", "succeeded", "failed", "pending", "unknown", "moved", "quiet")
_COUNT: Final = f"BETWEEN 0 AND {2**40}"
_TIME_MS: Final = "BETWEEN -62135596800000 AND 253402300799999"


def readable_night(alias: str) -> str:
    """The SQL condition under which the history's row `alias` is a night its readers take."""
    counts = [f"typeof({alias}.{name}) = 'integer' AND {alias}.{name} {_COUNT}" for name in _COUNTS]
    known = [
        f"(typeof({alias}.{name}) = 'null' OR (typeof({alias}.{name}) = 'integer' "
        f"AND {alias}.{name} {_COUNT}))"
        for name in ("on_target", "late")
    ]
    time = f"typeof({alias}.polled_ms) = 'integer' AND {alias}.polled_ms {_TIME_MS}"
    return "(" + " AND ".join([time, *counts, *known]) + ")"


def has_chain(connection: sqlite3.Connection) -> bool:
    """Whether each night keeps the one before (schema version 4 on)."""
    return int(connection.execute("PRAGMA user_version").fetchone()[0]) >= 4  # noqa: PLR2004


# From a campaign's last night (its row's last run, given), back along prior_run: one probe
# of the key per night. (FIT_NIGHTS is this module's constant, not input.)
_CHAIN: Final = f"""WITH RECURSIVE chain(campaign, depth, polled_ms, devices, succeeded, failed,
    pending, quiet, prior) AS (
    SELECT h.campaign, 1, h.polled_ms, h.devices, h.succeeded, h.failed, h.pending, h.quiet,
        h.prior_run
    FROM history AS h WHERE h.run = ? AND h.campaign = ? AND {readable_night("h")}
    UNION ALL
    SELECT h.campaign, chain.depth + 1, h.polled_ms, h.devices, h.succeeded, h.failed,
        h.pending, h.quiet, h.prior_run
    FROM chain JOIN history AS h ON h.run = chain.prior AND h.campaign = chain.campaign
    WHERE chain.depth < {FIT_NIGHTS} AND {readable_night("h")}
)
SELECT campaign, polled_ms, devices, succeeded, failed, pending, quiet FROM chain
ORDER BY depth DESC"""  # noqa: S608

# A version 3 file's nights of one campaign, newest first, through its index by campaign.
_FROM_HISTORY: Final = f"""SELECT campaign, polled_ms, devices, succeeded, failed, pending, quiet
FROM history WHERE campaign = ? AND {readable_night("history")} ORDER BY run DESC LIMIT ?"""  # noqa: S608

# (campaign, polled_ms, devices, succeeded, failed, pending, quiet), oldest night first.
_Row = tuple[int, int, int, int, int, int, int]


def _recent(rows: list[_Row]) -> Recent:
    points = [FitPoint(row[1], row[2], row[3], row[3] + row[4]) for row in rows]
    return Recent(quiet=rows[-1][6], pending=rows[-1][5], points=points)


def read_recent(connection: sqlite3.Connection, key: int, last_run: int) -> Recent | None:
    """The last nights (None: none) of campaign `key`, whose row's last run is `last_run`.

    In a file of version 4 on.
    """
    rows = connection.execute(_CHAIN, (last_run, key)).fetchall()
    return _recent(rows) if rows else None


# Reads a campaign's last nights: (connection, its key, its row's last run).
Reader = Callable[[sqlite3.Connection, int, int], "Recent | None"]


def recent_reader(connection: sqlite3.Connection) -> Reader:
    """How to read a campaign's last nights in this file.

    Along the chain; in a version 3 file, through its index by campaign.
    """
    return read_recent if has_chain(connection) else recent_from_history


def recent_from_history(
    connection: sqlite3.Connection,
    key: int,
    last_run: int,  # noqa: ARG001 - a `Reader`'s: the index needs no run
) -> Recent | None:
    """A version 3 file's campaign: its last nights through the index by campaign."""
    rows = connection.execute(_FROM_HISTORY, (key, FIT_NIGHTS)).fetchall()
    return _recent(rows[::-1]) if rows else None


# Each night linked to the campaign's night before, through version 3's index by campaign.
_LINK: Final = """UPDATE history SET prior_run = (SELECT max(h.run) FROM history AS h
    WHERE h.campaign = history.campaign AND h.run < history.run)"""


def upgrade_to_4(connection: sqlite3.Connection) -> None:
    """Version 3 to 4, in the caller's transaction: the chain, then the indexes dropped.

    From version 2 the history was just made with its `prior_run` (the table as version 4
    has it), and is empty.
    """
    columns = {row[1] for row in connection.execute("PRAGMA table_info(history)")}
    if "prior_run" not in columns:
        connection.execute("ALTER TABLE history ADD COLUMN prior_run INTEGER")
        connection.execute(_LINK)
    connection.execute("DROP INDEX IF EXISTS history_by_campaign")
    connection.execute("DROP INDEX IF EXISTS history_by_time")
