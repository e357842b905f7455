"""The operator's questions to the state database: what it holds, who is stuck, and forgetting.

Stuck, for `state stuck` (each device) and `summary --state` (a count per campaign) alike, one
condition (`STUCK_WHERE`): a pending or unknown phase (the phase table, with the config's
`[phases]`) whose status has not changed for longer than `--stuck-after`, and a device not
known to be on target (`poll --inventory` saw it run the campaign's firmware: a late
success needs nothing, whatever its status says). A schema version 1 file (read, never
upgraded, by a reader) knows no device on target.

Read with a read-only connection (`state info`, `state stuck`), which works beside a run
holding the write transaction; `forget_campaigns` writes, in one transaction. Rows are
streamed from one query each, never loaded whole: a fleet may be a million devices.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import msgspec

from fota_poller.model.phases import PhaseTable, status_key
from fota_poller.model.records import Phase
from fota_poller.state.binding import lenient_text
from fota_poller.state.file_checks import wal_path
from fota_poller.state.schema import has_on_target, sqlite_error, stored_text
from fota_poller.state.times import stored_time, stored_time_text, to_ms

# The phases whose devices can be stuck: not final, or not known to be.
STUCK_PHASES: Final[frozenset[Phase]] = frozenset({"pending", "unknown"})
# SQLite integers are 64-bit: a cutoff before any status is kept at the smallest it holds.
_SMALLEST_MS: Final = -(2**63)


def utc_now() -> datetime:
    """Now, in UTC: the moment `stuck` measures from (tests replace this function)."""
    return datetime.now(UTC)


def stuck_cutoff_ms(longer_than_s: float) -> int | None:
    """The status time (ms) before which a device is stuck; None when none can be."""
    if not math.isfinite(longer_than_s):
        return None
    return max(to_ms(utc_now()) - round(longer_than_s * 1000), _SMALLEST_MS)


class LastRun(msgspec.Struct):
    """The last run that committed to the database."""

    run_id: str
    started_at: str
    committed_at: str


class DatabaseInfo(msgspec.Struct):
    """What `state info` tells: the file, its schema, what it holds, its last run, its size."""

    path: str
    schema_version: int
    campaigns: int
    devices: int
    last_run: LastRun | None
    size_bytes: int  # the database and its -wal file


class StuckDevice(msgspec.Struct):
    """A device whose not-final status has not changed for longer than asked."""

    account_name: str
    upgrade_id: str
    device_id: str
    status: str | None
    phase: Phase
    result_reason: str | None
    # Null when the stored time is no time (`times.stored_time`): a database edited by hand.
    status_since: str | None
    first_seen: str | None
    stuck_for_s: int | None


class Forgotten(msgspec.Struct):
    """A campaign `forget` removed, and how many device rows went with it."""

    account_name: str
    upgrade_id: str
    devices: int


def database_info(connection: sqlite3.Connection, path: Path) -> DatabaseInfo:
    """The numbers of `state info`, read in one read transaction (one consistent snapshot)."""
    try:
        connection.execute("BEGIN")
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            campaigns = connection.execute("SELECT count(*) FROM campaigns").fetchone()[0]
            devices = connection.execute("SELECT count(*) FROM devices").fetchone()[0]
            last = connection.execute(
                "SELECT run_id, started_at, committed_at FROM runs ORDER BY run DESC LIMIT 1"
            ).fetchone()
        finally:
            connection.execute("COMMIT")
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    wal = wal_path(path)
    size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return DatabaseInfo(
        path=os.fspath(path),
        schema_version=version,
        campaigns=campaigns,
        devices=devices,
        last_run=None if last is None else LastRun(*last),
        size_bytes=size,
    )


# A device's status as the stuck queries read it (a blob is none: `stored_text`).
STATUS: Final = stored_text("d.status")
# Which devices may be stuck, for both questions: the time and on-target filters are SQL's;
# the phase is Python's (the table of phases is the config's). `IS NOT 1`: an unknown
# (null) on_target may be stuck.
STUCK_WHERE: Final = "WHERE d.status_since < ? AND d.on_target IS NOT 1"
# A version 1 file has no on_target: no device in it is known on target.
_STUCK_WHERE_V1: Final = "WHERE d.status_since < ?"
# One pass over the devices in key order (campaign, device_id), each joined to its campaign
# by its primary key: no temporary table for the scan itself.
STUCK_QUERY: Final = f"""SELECT c.account_name, c.upgrade_id, d.device_id, {STATUS},
    {stored_text("d.result_reason")}, d.status_since, d.first_seen
FROM devices AS d JOIN campaigns AS c ON c.campaign = d.campaign
{STUCK_WHERE}"""  # noqa: S608 - constant text, no input: the values are parameters
# Longest stuck first, ties in a stable order (`LIMIT -1`: no limit); only the stuck are
# sorted, told by the phase table through an SQL function (`_stuck_function`).
_STUCK_FUNCTION: Final = "fota_poller_stuck"
STUCK_OLDEST_FIRST: Final = f"""{STUCK_QUERY} AND {_STUCK_FUNCTION}(CAST({STATUS} AS BLOB))
ORDER BY d.status_since, c.account_name, c.upgrade_id, d.device_id
LIMIT ?"""


def stuck_devices(
    connection: sqlite3.Connection,
    path: Path,
    *,
    longer_than_s: float,
    phases: PhaseTable,
    statuses: Collection[str] = (),
    limit: int | None = None,
) -> Iterator[StuckDevice]:
    """Devices in a pending or unknown phase whose status is older than `longer_than_s`.

    Oldest status first, at most `limit` (SQLite's sorter: bounded, spilling to a temporary
    file). Only those in `statuses`, when given (matched as the phase table matches: case,
    spaces, `_` and `-` ignored). Exactly `longer_than_s` old is not listed.
    """
    now_ms = to_ms(utc_now())
    if not math.isfinite(longer_than_s):
        return
    cutoff = max(now_ms - round(longer_than_s * 1000), _SMALLEST_MS)
    listed = _stuck_function(connection, phases, statuses)
    try:
        query = for_schema(connection, STUCK_OLDEST_FIRST)
        cursor = connection.execute(query, (cutoff, -1 if limit is None else limit))
        for account, upgrade, device, status, reason, since, first_seen in cursor:
            if (phase := listed[status]) is None:  # never: SQL kept only the stuck
                continue
            yield StuckDevice(
                account_name=account,
                upgrade_id=upgrade,
                device_id=device,
                status=status,
                phase=phase,
                result_reason=reason,
                status_since=stored_time_text(since),
                first_seen=stored_time_text(first_seen),
                stuck_for_s=None if stored_time(since) is None else (now_ms - since) // 1000,
            )
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None


# One grouped query: a count per campaign and status, never a row per device.
_STUCK_COUNTS: Final = f"""SELECT c.account_name, c.upgrade_id, {STATUS}, COUNT(*)
FROM devices AS d JOIN campaigns AS c ON c.campaign = d.campaign
{STUCK_WHERE}
GROUP BY d.campaign, {STATUS}"""  # noqa: S608 - constant text, no input


def stuck_counts(
    connection: sqlite3.Connection, path: Path, *, longer_than_s: float, phases: PhaseTable
) -> dict[tuple[str, str], int]:
    """(account, upgrade id) -> devices stuck longer than `longer_than_s`; absent means none."""
    counts: dict[tuple[str, str], int] = {}
    if not math.isfinite(longer_than_s):
        return counts
    cutoff = max(to_ms(utc_now()) - round(longer_than_s * 1000), _SMALLEST_MS)
    try:
        query = for_schema(connection, _STUCK_COUNTS)
        for account, upgrade, status, count in connection.execute(query, (cutoff,)):
            if phases.phase(status) in STUCK_PHASES:
                key = (account, upgrade)
                counts[key] = counts.get(key, 0) + count
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    return counts


def _stuck_function(
    connection: sqlite3.Connection, phases: PhaseTable, statuses: Collection[str]
) -> dict[str | None, Phase | None]:
    """Register the SQL function telling a stuck status; the phases it found, by status.

    It takes the status's bytes, read as the connection reads text (`lenient_text`): sqlite3
    decodes a function's text strictly, and one not UTF-8 (an edited file) failed the query.
    """
    wanted = {status_key(status) for status in statuses}
    # Each distinct status is looked up once: a million devices share a few dozen.
    listed: dict[str | None, Phase | None] = {}
    by_bytes: dict[bytes | None, bool] = {}

    def stuck(raw: bytes | None) -> bool:
        if raw not in by_bytes:
            status = None if raw is None else lenient_text(raw)
            listed[status] = stuck_phase(phases, status, wanted)
            by_bytes[raw] = listed[status] is not None
        return by_bytes[raw]

    connection.create_function(_STUCK_FUNCTION, 1, stuck, deterministic=True)
    return listed


def for_schema(connection: sqlite3.Connection, query: str) -> str:
    """`query` as the database's schema can run it (version 1: without the on-target filter)."""
    return query if has_on_target(connection) else query.replace(STUCK_WHERE, _STUCK_WHERE_V1)


def stuck_phase(phases: PhaseTable, status: str | None, wanted: set[str]) -> Phase | None:
    """The phase of a status whose devices are listed; None for a status that is not."""
    if wanted and (status is None or status_key(status) not in wanted):
        return None
    phase = phases.phase(status)
    return phase if phase in STUCK_PHASES else None


def _find_campaigns(
    connection: sqlite3.Connection, account_name: str | None, upgrade_id: str
) -> list[tuple[int, str, str]]:
    """(key, account, upgrade id) of a campaign; every account's when `account_name` is None."""
    if account_name is None:
        query = "SELECT campaign, account_name, upgrade_id FROM campaigns WHERE upgrade_id = ?"
        return connection.execute(query, (upgrade_id,)).fetchall()
    query = """SELECT campaign, account_name, upgrade_id FROM campaigns
        WHERE account_name = ? AND upgrade_id = ?"""
    return connection.execute(query, (account_name, upgrade_id)).fetchall()


_FORGET_NIGHTS = "DELETE FROM history WHERE run IN (SELECT run FROM runs) AND campaign = ?"


def forget_campaigns(
    connection: sqlite3.Connection, path: Path, wanted: list[tuple[str | None, str]]
) -> tuple[list[Forgotten], list[tuple[str | None, str]]]:
    """Remove the campaigns `wanted` names, their devices and history, in one transaction.

    `wanted` holds (account or None for every account, upgrade id). Gives what was removed
    and what was not in the database. A `StateBusyError` while a run holds the database.
    """
    removed: list[Forgotten] = []
    missing: list[tuple[str | None, str]] = []
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    try:
        for account_name, upgrade_id in wanted:
            found = _find_campaigns(connection, account_name, upgrade_id)
            if not found:
                missing.append((account_name, upgrade_id))
            for key, account, upgrade in found:
                devices = connection.execute("DELETE FROM devices WHERE campaign = ?", (key,))
                # Its nights go with it (a writer's file is version 4): a probe per run
                # into the key (run, campaign), the table having no index by campaign.
                connection.execute(_FORGET_NIGHTS, (key,))
                connection.execute("DELETE FROM campaigns WHERE campaign = ?", (key,))
                removed.append(Forgotten(account, upgrade, devices.rowcount))
        connection.execute("COMMIT")
    except BaseException as exc:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise sqlite_error(path, exc) from None
        raise
    return removed, missing
