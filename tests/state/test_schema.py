"""Opening the state database: a new one is made right, and every unusable file is refused
with one line and its exit code, left byte for byte as it was, with nothing left beside it."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from fota_poller.errors import StateBusyError, StateError
from fota_poller.state.file_checks import read_header, validate_header
from fota_poller.state.schema import APPLICATION_ID, SCHEMA_VERSION, open_database
from fota_poller.state.store import StateStore


def refused(path: Path, *, read_only: bool = False, create: bool = True) -> StateError:
    with pytest.raises(StateError) as caught:
        open_database(path, read_only=read_only, create=create)
    return caught.value


def refused_by_the_store(path: Path) -> StateError:
    with pytest.raises(StateError) as caught, StateStore.open(path):
        pass
    return caught.value


def assert_one_line_naming(error: StateError, path: Path, exit_code: int) -> None:
    message = str(error)
    assert "\n" not in message
    assert str(path) in message
    assert error.exit_code == exit_code


def test_a_new_database_has_the_schema_version_the_id_and_wal_mode(tmp_path):
    path = tmp_path / "state.db"

    with contextlib.closing(open_database(path)) as connection:
        assert connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema")}
    assert {"runs", "campaigns", "devices"} <= tables
    # Opened again, it is taken as it is: the tables are not created twice.
    open_database(path).close()
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["state.db"]


def test_an_empty_file_becomes_a_database_but_is_refused_for_reading(tmp_path, snapshot):
    path = tmp_path / "state.db"
    path.touch()
    before = snapshot(path)

    error = refused(path, read_only=True)

    assert_one_line_naming(error, path, 2)
    assert "is empty" in str(error)
    assert snapshot(path) == before
    open_database(path).close()
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        assert connection.execute("SELECT count(*) FROM devices").fetchone()[0] == 0


def test_an_unusable_file_is_refused_and_left_as_it_was(spoiled, snapshot):
    path, says = spoiled
    before = snapshot(path)

    errors = [refused(path), refused(path, read_only=True), refused_by_the_store(path)]

    for error in errors:
        assert_one_line_naming(error, path, 2)
        assert says in str(error)
    assert snapshot(path) == before


def test_a_newer_schema_still_in_the_wal_is_refused_and_the_wal_kept(database, snapshot):
    # A newer fota-poller still holds the database open: its upgrade sits in the -wal file,
    # not yet in the header; closing a read-write connection would checkpoint it.
    newer = sqlite3.connect(database, isolation_level=None)
    newer.execute("PRAGMA wal_autocheckpoint = 0")
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    wal = database.with_name("state.db-wal")
    before, wal_before = snapshot(database), wal.read_bytes()
    try:
        errors = [refused(database), refused(database, read_only=True)]
        errors.append(refused_by_the_store(database))
        assert snapshot(database) == before
        assert wal.read_bytes() == wal_before
    finally:
        newer.close()

    for error in errors:
        assert_one_line_naming(error, database, 2)
        assert f"schema version {SCHEMA_VERSION + 1}" in str(error)


def test_a_read_only_file_is_refused_for_writing_and_read_in_place(
    database, make_read_only, snapshot
):
    how = make_read_only(database)
    before = snapshot(database)

    errors = [refused(database), refused_by_the_store(database)]
    with contextlib.closing(open_database(database, read_only=True)) as connection:
        devices = connection.execute("SELECT count(*) FROM devices").fetchone()[0]

    for error in errors:
        assert_one_line_naming(error, database, 2)
        assert "is read-only" in str(error), how
    assert devices == 300
    assert snapshot(database) == before


def test_a_database_in_a_read_only_folder_is_refused_for_writing_and_read_in_place(
    database, make_read_only, snapshot
):
    how = make_read_only(database.parent)
    before = snapshot(database)

    error = refused_by_the_store(database)
    with contextlib.closing(open_database(database, read_only=True)) as connection:
        devices = connection.execute("SELECT count(*) FROM devices").fetchone()[0]

    assert_one_line_naming(error, database, 2)
    assert "read-only" in str(error), how
    assert devices == 300
    assert snapshot(database) == before


def test_a_write_transaction_of_another_process_is_busy_75_and_readers_still_read(
    database, write_transaction, snapshot
):
    write_transaction(database)  # its -wal and -shm files are there from now on
    before = snapshot(database)

    with pytest.raises(StateBusyError) as caught, StateStore.open(database):
        pass
    with contextlib.closing(open_database(database, read_only=True)) as connection:
        devices = connection.execute("SELECT count(*) FROM devices").fetchone()[0]

    assert_one_line_naming(caught.value, database, 75)
    assert "locked by another process" in str(caught.value)
    assert devices == 300
    assert snapshot(database) == before


def test_a_missing_folder_is_one_line_and_nothing_is_created(tmp_path):
    path = tmp_path / "nowhere" / "state.db"

    for error in (refused(path), refused(path, read_only=True), refused_by_the_store(path)):
        assert_one_line_naming(error, path, 2)
        assert "does not exist" in str(error)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_is_never_created_for_reading_nor_when_told_not_to(tmp_path):
    path = tmp_path / "state.db"

    for error in (refused(path, read_only=True), refused(path, create=False)):
        assert_one_line_naming(error, path, 2)
        assert "no state database" in str(error)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_in_place_of_the_file_is_refused(tmp_path):
    path = tmp_path / "state.db"
    path.mkdir()

    assert "not a regular file" in str(refused(path))


def test_a_reader_leaves_no_wal_or_shm_file_behind(database, snapshot):
    before = snapshot(database)

    with contextlib.closing(open_database(database, read_only=True)) as connection:
        connection.execute("SELECT count(*) FROM devices").fetchone()
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            connection.execute("DELETE FROM devices")

    assert snapshot(database) == before


# A file as fota-poller wrote it before `--inventory` (schema version 1): its tables as they
# were then, frozen here, and two campaigns' devices.
_VERSION_1 = (
    """CREATE TABLE runs (run INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE,
    started_at TEXT NOT NULL, committed_at TEXT NOT NULL)""",
    """CREATE TABLE campaigns (campaign INTEGER PRIMARY KEY, account_name TEXT NOT NULL,
    upgrade_id TEXT NOT NULL, status TEXT, device_count INTEGER NOT NULL,
    first_polled_at TEXT NOT NULL, last_polled_at TEXT NOT NULL, last_run INTEGER NOT NULL,
    UNIQUE (account_name, upgrade_id))""",
    """CREATE TABLE devices (campaign INTEGER NOT NULL, device_id TEXT NOT NULL, status TEXT,
    result_reason TEXT, status_since INTEGER NOT NULL, first_seen INTEGER NOT NULL,
    PRIMARY KEY (campaign, device_id)) WITHOUT ROWID""",
)
_V1_DEVICES = [
    (campaign, f"{campaign}{n:014d}", "RequestPending" if n % 3 else None, "r" if n % 2 else None,
     1_700_000_000_000 + n, 1_690_000_000_000 + n)
    for campaign in (1, 2) for n in range(500)
]  # fmt: skip


@pytest.fixture
def version_1(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode = WAL")
        for statement in _VERSION_1:
            db.execute(statement)
        db.execute("INSERT INTO runs VALUES (1, 'run-1', 't0', 't1')")
        for campaign in (1, 2):
            db.execute(
                "INSERT INTO campaigns VALUES (?, ?, 'u', 'InProgress', 500, 't0', 't1', 1)",
                (campaign, f"000012345{campaign}-00001"),
            )
        db.executemany("INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?)", _V1_DEVICES)
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute("PRAGMA user_version = 1")
    return path


def _devices(path: Path) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT * FROM devices ORDER BY campaign, device_id").fetchall()


def test_a_version_1_file_is_upgraded_by_a_writer_every_row_kept(version_1):
    with StateStore.open(version_1) as store:
        prior = store.previous("0000123451-00001", "u")

    with contextlib.closing(sqlite3.connect(version_1)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        columns = [row[1] for row in db.execute("PRAGMA table_info(devices)")]
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        # The history starts empty (a night before it is not known).
        assert db.execute("SELECT count(*) FROM history").fetchone()[0] == 0
    assert columns[-1] == "on_target"
    # Every row as it was, its on_target unknown.
    assert _devices(version_1) == [(*row, None) for row in _V1_DEVICES]
    assert len(prior.devices) == 500
    assert {device[4] for device in prior.devices.values()} == {None}
    # Opened again, it is taken as it is.
    open_database(version_1).close()
    assert _devices(version_1) == [(*row, None) for row in _V1_DEVICES]


def test_a_version_1_file_is_read_as_it_is_and_left_so(version_1, snapshot):
    with contextlib.closing(sqlite3.connect(version_1)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = snapshot(version_1)

    with contextlib.closing(open_database(version_1, read_only=True)) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 1

    assert snapshot(version_1) == before


def test_a_fota_poller_of_schema_1_refuses_an_upgraded_file(version_1):
    open_database(version_1).close()

    # What a version 1 fota-poller runs first on opening (file_checks.py is unchanged): its
    # newest schema is 1, so it refuses the file before SQLite opens it.
    with pytest.raises(StateError) as caught:
        validate_header(version_1, read_header(version_1), application_id=APPLICATION_ID, newest=1)
    newest = f"schema version {SCHEMA_VERSION}, newer than this fota-poller understands (1)"
    assert newest in str(caught.value)
