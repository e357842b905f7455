"""The state database's file: its tables, its schema version, and opening it safely.

An SQLite file (the standard library's sqlite3, WAL mode). Rows are replaced, never
appended, so the file stays about the size of the fleet with no vacuum: one row per
campaign, one per device in a campaign's last successful poll, one per run that committed.
A device's rows are clustered by campaign (the primary key starts with it), so one
campaign's devices are one range read. A device's times are integers (milliseconds since
the epoch, UTC): a fifth of the bytes of the ISO text, for a million rows.

Opening refuses, with a `StateError` and before writing anything, a file that is not
SQLite, an SQLite file that is not fota-poller's, and a schema newer than this version.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Final

from fota_poller.errors import StateBusyError, StateError

SCHEMA_VERSION: Final = 1
# PRAGMA application_id: "FPST" (fota-poller state), so another program's SQLite file is
# never taken for a state database, nor changed.
APPLICATION_ID: Final = 0x46505354
# How long a write waits for another connection's write transaction to end.
BUSY_TIMEOUT_MS: Final = 2000

_TABLES: Final = """
CREATE TABLE runs (
    run INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    started_at TEXT NOT NULL,
    committed_at TEXT NOT NULL
);
CREATE TABLE campaigns (
    campaign INTEGER PRIMARY KEY,
    account_name TEXT NOT NULL,
    upgrade_id TEXT NOT NULL,
    status TEXT,
    device_count INTEGER NOT NULL,
    first_polled_at TEXT NOT NULL,
    last_polled_at TEXT NOT NULL,
    last_run INTEGER NOT NULL,
    UNIQUE (account_name, upgrade_id)
);
CREATE TABLE devices (
    campaign INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    status TEXT,
    result_reason TEXT,
    status_since INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (campaign, device_id)
) WITHOUT ROWID;
"""


def open_database(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection to the state database at `path`, created (empty) when missing.

    `read_only` never creates nor writes. `StateError` (exit 2) for a file that cannot be
    used, `StateBusyError` (exit 75) when another connection holds a write transaction.
    The connection is in autocommit mode: the caller opens its own transactions.
    """
    exists = path.exists()
    if read_only and not exists:
        raise StateError(f"no state database at {path}")
    if exists and not path.is_file():
        raise StateError(f"state database {path} is not a regular file")
    if not read_only and not _writable(path, exists):
        raise StateError(f"state database {path} is read-only")
    mode = "ro" if read_only else ("rw" if exists else "rwc")
    try:
        connection = sqlite3.connect(
            f"file:{_quote(path)}?mode={mode}",
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise StateError(f"cannot open state database {path}: {exc}") from None
    try:
        _check(connection, path, read_only=read_only)
    except BaseException:
        connection.close()
        raise
    return connection


def _check(connection: sqlite3.Connection, path: Path, *, read_only: bool) -> None:
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StateError(f"state database {path} is not usable: {exc}") from None
    if application_id != APPLICATION_ID:
        if application_id != 0 or tables:
            raise StateError(f"{path} is not a fota-poller state database")
        if read_only:
            raise StateError(f"state database {path} is empty")
        _create(connection, path)
        return
    if version > SCHEMA_VERSION:
        raise StateError(
            f"state database {path} has schema version {version}, newer than this "
            f"fota-poller understands ({SCHEMA_VERSION}); upgrade fota-poller"
        )
    if version < SCHEMA_VERSION:
        raise StateError(f"state database {path} has unknown schema version {version}")
    if not read_only:
        _use_wal(connection, path)


def _create(connection: sqlite3.Connection, path: Path) -> None:
    _use_wal(connection, path)
    try:
        # One script, one transaction: executescript commits any transaction open before it.
        connection.executescript(
            f"BEGIN IMMEDIATE;\n{_TABLES}\nPRAGMA application_id = {APPLICATION_ID};\n"
            f"PRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
        )
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise sqlite_error(path, exc) from None


def _use_wal(connection: sqlite3.Connection, path: Path) -> None:
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk when COMMIT returns, so no reported change is forgotten.
        connection.execute("PRAGMA synchronous = FULL")
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None


def sqlite_error(path: Path, exc: sqlite3.Error) -> StateError:
    """A `StateError` for an SQLite error: busy (exit 75) or unusable (exit 2)."""
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StateBusyError(f"state database {path} is locked by another process")
    return StateError(f"state database {path} is not usable: {exc}")


def _writable(path: Path, exists: bool) -> bool:
    # WAL mode writes two files beside the database, so its folder must be writable too.
    folder_ok = os.access(path.parent if str(path.parent) else ".", os.W_OK | os.X_OK)
    return folder_ok and (not exists or os.access(path, os.W_OK))


def _quote(path: Path) -> str:
    """The path as an SQLite URI path: `?` and `#` would end it, `%` would start an escape."""
    return str(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
