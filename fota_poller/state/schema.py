"""The state database's file: its tables, its schema version, and opening it safely.

An SQLite file (the standard library's sqlite3, WAL mode). Rows are replaced, never
appended, so the file stays about the size of the fleet with no vacuum: one row per
campaign, one per device in a campaign's last successful poll, one per run that committed.
A device's rows are clustered by campaign (the primary key starts with it), so one
campaign's devices are one range read. A device's times are integers (milliseconds since
the epoch, UTC): a fifth of the bytes of the ISO text, for a million rows.

Opening refuses, with a `StateError` (exit 2) and before writing anything, a missing folder,
a file that is not SQLite or is cut short or damaged, an SQLite file that is not
fota-poller's, a schema newer than this version, and (for writing) a read-only file or
folder; the file is left byte for byte as it was (file_checks.py says how).

Schema versions: 1 (fota-poller before `--inventory`), 2 (each device's last known `on_target`),
3 (the history: a row per committed run per campaign, and each campaign's last transitions in
its row; state/history.py), 4 (each night linked to the campaign's night before, and the
history's two indexes dropped; state/recent.py). A writer upgrades an older file in place, in
one transaction (`ALTER TABLE ... ADD COLUMN` changes the table's definition only: every row is
kept, as it was, its `on_target` unknown; the history starts empty, or keeps what it had); a
reader reads any of them as it is (`has_on_target`, `history.has_history`, `recent.has_chain`).
A fota-poller of an older version refuses a newer file as it refuses any newer schema: it would
otherwise drop what it holds. The history is campaigns x nights, never devices x nights: a row
of about 60 bytes per campaign a night, pruned past `state.history_days`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from fota_poller.errors import StateBusyError, StateError
from fota_poller.state.binding import lenient_text
from fota_poller.state.file_checks import (
    newer_schema,
    not_ours,
    read_header,
    reader_mode,
    require_usable_path,
    require_writable,
    validate_header,
    wal_path,
)
from fota_poller.state.history import HISTORY_TABLES, TRANSITIONS_COLUMN
from fota_poller.state.recent import upgrade_to_4

SCHEMA_VERSION: Final = 4
# The oldest schema this version still reads and upgrades.
OLDEST_SCHEMA_VERSION: Final = 1
# PRAGMA application_id: "FPST" (fota-poller state), so another program's SQLite file is
# never taken for a state database, nor changed.
APPLICATION_ID: Final = 0x46505354
# How long a write waits for another connection's write transaction to end.
BUSY_TIMEOUT_MS: Final = 2000

# One statement each: `executescript` would commit the open transaction first (Python 3.11).
_TABLES: Final = (
    """CREATE TABLE runs (
    run INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    started_at TEXT NOT NULL,
    committed_at TEXT NOT NULL
)""",
    """CREATE TABLE campaigns (
    campaign INTEGER PRIMARY KEY,
    account_name TEXT NOT NULL,
    upgrade_id TEXT NOT NULL,
    status TEXT,
    device_count INTEGER NOT NULL,
    first_polled_at TEXT NOT NULL,
    last_polled_at TEXT NOT NULL,
    last_run INTEGER NOT NULL,
    transitions TEXT,
    UNIQUE (account_name, upgrade_id)
)""",
    """CREATE TABLE devices (
    campaign INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    status TEXT,
    result_reason TEXT,
    status_since INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    on_target INTEGER,
    PRIMARY KEY (campaign, device_id)
) WITHOUT ROWID""",
    *HISTORY_TABLES,
)
# From each version to the next (the key), one statement (or a function of the connection,
# for what SQL alone cannot compute) each, run in one transaction. A column added last, as
# `_TABLES` has it: an upgraded file and a new one hold the same table.
_UPGRADES: Final[dict[int, tuple[str | Callable[[sqlite3.Connection], None], ...]]] = {
    2: ("ALTER TABLE devices ADD COLUMN on_target INTEGER",),
    3: (*HISTORY_TABLES, TRANSITIONS_COLUMN),
    4: (upgrade_to_4,),
}
# The tables a file of each version holds (from the version the key names on).
_TABLE_NAMES: Final = {
    1: frozenset({"runs", "campaigns", "devices"}),
    3: frozenset({"history"}),
}


def open_database(
    path: Path, *, read_only: bool = False, create: bool = True
) -> sqlite3.Connection:
    """A connection to the state database at `path`, created (empty) when missing and `create`.

    `read_only` never creates nor writes, and works beside a run holding a write transaction.
    `StateError` (exit 2) for a file that cannot be used, `StateBusyError` (exit 75) when
    another connection holds a write transaction. The connection is in autocommit mode: the
    caller opens its own transactions.
    """
    exists = require_usable_path(path, create=create and not read_only)
    header = read_header(path) if exists else b""
    wal_in_use = wal_path(path).exists()
    if header and not wal_in_use:
        # Nothing waits in a -wal file: the file's own header is the whole truth, and what
        # it refuses is refused before SQLite opens (and could change) anything.
        validate_header(path, header, application_id=APPLICATION_ID, newest=SCHEMA_VERSION)
    if read_only:
        if not header:  # an empty file: nothing to read, and a reader creates nothing
            raise StateError(f"state database {path} is empty")
        connection = _connect(path, reader_mode(path, wal_in_use=wal_in_use))
        connection.text_factory = lenient_text  # text that is not UTF-8 is none (binding.py)
        with _closed_on_error(connection):
            connection.execute("PRAGMA query_only = ON")
            _verify(connection, path, read_only=True)
        return connection
    require_writable(path, exists=exists)
    if header and wal_in_use:
        # A -wal file may hold what the header does not show yet (another program's, or a
        # newer fota-poller's). Look through a read-only connection first: closing a
        # read-write one would checkpoint that -wal into the file and delete it.
        with contextlib.closing(_connect(path, "ro")) as probe:
            _identify(probe, path)
    connection = _connect(path, "rw" if exists else "rwc")
    with _closed_on_error(connection):
        _verify(connection, path, read_only=False)
    return connection


def sqlite_error(path: Path, exc: sqlite3.Error) -> StateError:
    """A `StateError` for an SQLite error: busy (exit 75), read-only or unusable (exit 2)."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StateBusyError(f"state database {path} is locked by another process")
    if "readonly" in text or "read-only" in text:
        return StateError(f"state database {path} is read-only: {text}")
    if "malformed" in text or "not a database" in text:
        return StateError(f"state database {path} is corrupt: {text}")
    return StateError(f"state database {path} is not usable: {text}")


@contextlib.contextmanager
def _closed_on_error(connection: sqlite3.Connection) -> Iterator[None]:
    try:
        yield
    except BaseException:
        connection.close()
        raise


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    try:
        return sqlite3.connect(
            f"file:{_quote(path)}?mode={mode}",
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None


def stored_text(column: str) -> str:
    """SQL: `column` if it holds text, else null: a blob in an edited file is no status."""
    return f"CASE WHEN typeof({column}) = 'text' THEN {column} END"


def has_on_target(connection: sqlite3.Connection) -> bool:
    """Whether the database's devices keep their `on_target` (schema version 2 on)."""
    return int(connection.execute("PRAGMA user_version").fetchone()[0]) >= 2  # noqa: PLR2004


def _identify(connection: sqlite3.Connection, path: Path) -> int:
    """The schema version of fota-poller's database, 0 for an empty file; else a `StateError`."""
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        query = "SELECT name FROM sqlite_schema WHERE type = 'table'"
        tables = {row[0] for row in connection.execute(query)}
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    if application_id != APPLICATION_ID:
        if application_id != 0 or tables:
            raise not_ours(path)
        return 0
    if version > SCHEMA_VERSION:
        raise newer_schema(path, version, SCHEMA_VERSION)
    if version < OLDEST_SCHEMA_VERSION:
        raise StateError(f"state database {path} has unknown schema version {version}")
    expected = set().union(*(names for since, names in _TABLE_NAMES.items() if since <= version))
    if missing := sorted(expected - tables):
        # Ours, but someone dropped a table: a run would fail half-way, after its output.
        raise StateError(f"state database {path} lacks its table {missing[0]}")
    return int(version)


def _verify(connection: sqlite3.Connection, path: Path, *, read_only: bool) -> None:
    version = _identify(connection, path)
    if not version:
        if read_only:
            raise StateError(f"state database {path} is empty")
        _create(connection, path)
        return
    try:
        # About 0.3 s for a million devices: a damaged file is refused before a run reads
        # half of it and reports changes that are not.
        complaints = connection.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    if complaints != [("ok",)]:
        complaint = "; ".join(str(complaints[0][0]).splitlines())  # one line, as errors are
        raise StateError(f"state database {path} is corrupt: {complaint}")
    if not read_only:
        _use_wal(connection, path)
        if version < SCHEMA_VERSION:
            _upgrade(connection, path)


def _upgrade(connection: sqlite3.Connection, path: Path) -> None:
    """Bring an older schema to this version, in one transaction: all of it, or nothing."""
    with _immediate(connection, path):
        # Another process may have upgraded it since we looked: start from what it holds now.
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for step in _UPGRADES[target]:
                if callable(step):
                    step(connection)
                else:
                    connection.execute(step)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _create(connection: sqlite3.Connection, path: Path) -> None:
    _use_wal(connection, path)
    with _immediate(connection, path):
        # Another process may have created it since we looked: then it is there, as it is.
        if connection.execute("PRAGMA application_id").fetchone()[0] == 0:
            for statement in _TABLES:
                connection.execute(statement)
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    _identify(connection, path)


@contextlib.contextmanager
def _immediate(connection: sqlite3.Connection, path: Path) -> Iterator[None]:
    """The block in one write transaction, taken at once: committed whole, or rolled back.

    An SQLite error anywhere in it is the file's one line (`sqlite_error`).
    """
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("COMMIT")
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise sqlite_error(path, exc) from None


def _use_wal(connection: sqlite3.Connection, path: Path) -> None:
    try:
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        # FULL: a commit is on disk when COMMIT returns, so no reported change is forgotten.
        connection.execute("PRAGMA synchronous = FULL")
        # 256 KiB of page cache, not SQLite's 2 MB: a run reads each campaign once, so a big
        # cache buys nothing, and on a 100,000-campaign database the default one was most of
        # the growth in peak RSS over a 1,000-campaign one (bench/README.md, "With state").
        connection.execute("PRAGMA cache_size = -256")
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    if mode != "wal":
        # SQLite answers with the mode it kept (e.g. on a file system without shared memory).
        raise StateError(f"state database {path} cannot use WAL mode (journal mode {mode})")


def _quote(path: Path) -> str:
    """The path as an SQLite URI path: `?` and `#` would end it, `%` would start an escape."""
    return str(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def lock_path(path: Path) -> str:
    """The lock a poll run and `state forget` hold beside the state database."""
    return f"{path}.lock"
