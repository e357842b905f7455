"""One run's use of the state database: read a campaign's last poll, stage tonight's, commit.

A run reads the state campaign by campaign (never the whole database), and the single
writer stages each ok campaign's changes into one open write transaction after its lines
are written. `commit` makes them durable; the caller calls it only once the records that
report those changes are durable themselves (see run/pipeline.py), so no change is ever
committed unreported. A run that dies before a commit leaves the state as it was: SQLite
rolls the open transaction back, and the next run reports the same changes again.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from sys import intern

import msgspec

from fota_poller.errors import StateError, StateWriteError
from fota_poller.regular_files import hold_lock
from fota_poller.state import history
from fota_poller.state.binding import lenient_text
from fota_poller.state.history_batch import NightBatch
from fota_poller.state.recent import Recent, read_recent
from fota_poller.state.schema import lock_path, open_database, sqlite_error, stored_text

# A device as the last successful poll of its campaign saw it, as SQLite returns the row:
# (device_id, status, result_reason, status_since in ms, on_target). A plain tuple, not a
# named one: a second run reads a million of them, and building a NamedTuple each costs a
# third more. `on_target` is the last one known (1, 0, or None: never known), as stored:
# SQLite keeps a bool as an integer, and 1 == True, so it is compared as it comes.
PriorDevice = tuple[str, str | None, str | None, int, int | None]


class Prior(msgspec.Struct):
    """A campaign's state: its key (None: never polled), devices, recent nights (None: none).

    `last_run` is the run of its last night (None: none yet), the next night's `prior_run`.
    """

    key: int | None
    devices: dict[str, PriorDevice]
    recent: Recent | None = None
    last_run: int | None = None


# What a device row is written as: device_id, status, result_reason, status_since, first_seen,
# on_target (the last known: a night that does not know it writes the one it had).
DeviceRow = tuple[str, str | None, str | None, int, int, bool | int | None]


class CampaignUpdate(msgspec.Struct):
    """What one ok campaign changes in the state: its row, its devices, its night of history."""

    key: int | None
    account_name: str
    upgrade_id: str
    status: str | None
    device_count: int
    polled_at: str
    upserts: list[DeviceRow]
    deletes: list[str]
    night: history.HistoryRow | None = None
    transitions: list[history.TransitionRow] = msgspec.field(default_factory=list)


_CAMPAIGN = "SELECT campaign, last_run FROM campaigns WHERE account_name = ? AND upgrade_id = ?"
_DEVICES = """SELECT device_id, status, result_reason, status_since, on_target FROM devices
    WHERE campaign = ?"""
# The same, a blob where a status or reason was written read as none (`stored_text`).
_AS_TEXT = f"""SELECT device_id, {stored_text("status")}, {stored_text("result_reason")},
    status_since, on_target FROM devices WHERE campaign = ?"""  # noqa: S608 - our SQL
_INSERT_CAMPAIGN = """INSERT INTO campaigns (account_name, upgrade_id, status, device_count,
    first_polled_at, last_polled_at, last_run, transitions) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
_UPDATE_CAMPAIGN = """UPDATE campaigns SET status = ?, device_count = ?, last_polled_at = ?,
    last_run = ?, transitions = ? WHERE campaign = ?"""
# first_seen is kept: a changed device was first seen when it was first seen.
_UPSERT_DEVICE = """INSERT INTO devices (campaign, device_id, status, result_reason,
    status_since, first_seen, on_target) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (campaign, device_id) DO UPDATE SET status = excluded.status,
    result_reason = excluded.result_reason, status_since = excluded.status_since,
    on_target = excluded.on_target"""
_DELETE_DEVICE = "DELETE FROM devices WHERE campaign = ? AND device_id = ?"


def _interned(rows: Iterable[PriorDevice]) -> dict[str, PriorDevice]:
    """Device rows by id, each text once (SQLite copies it per row: 120 MB for a million)."""
    return {
        device_id: (
            device_id,
            None if status is None else intern(status),
            None if reason is None else intern(reason),
            since,
            target,
        )
        for device_id, status, reason, since, target in rows
    }


class StateStore:
    """The state database as one run uses it; from the event loop's thread only."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.path = path
        self._db = connection
        self._run: int | None = None
        self._run_id = ""
        self._started_at = ""
        self._in_transaction = False
        self._run_committed = False
        self.staged = 0  # campaigns staged since the last commit
        # Nights staged, written at the commit; the run's first commit with nights prunes
        # those `history_days` old (once a run: `_prune_due`).
        self._history_days: int | None = None
        self._prune_due = False
        self._batch = NightBatch()

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path) -> Iterator[StateStore]:
        """The store for the block, its lock held; what the block did not commit is rolled back.

        The database is opened (and refused, when it cannot be used) before its lock file
        appears beside it; then `FILE.lock` is held, as every writer of it holds it (exit 75
        while another does).
        """
        with (
            contextlib.closing(open_database(path)) as connection,
            hold_lock(lock_path(path)),
            cls._opened(connection, path) as store,
        ):
            yield store

    @classmethod
    @contextlib.contextmanager
    def reserve(cls, path: Path) -> Iterator[Reserved]:
        """Hold the database's lock for the block, before it is opened (`Reserved.open`).

        For a run that must hold its locks before anything else it does (the watch, the
        output): a second run is refused before it writes anything.
        """
        with hold_lock(lock_path(path)):
            yield Reserved(path)

    @classmethod
    @contextlib.contextmanager
    def _opened(cls, connection: sqlite3.Connection, path: Path) -> Iterator[StateStore]:
        store = cls(connection, path)
        try:
            store._begin()  # a database another process is writing is refused now (exit 75)
            yield store
        finally:
            store.close()

    def start_run(self, run_id: str, started_at: str, *, history_days: int | None = None) -> None:
        """Name the run whose changes are staged from now on; keep `history_days` of history."""
        self._run_id, self._started_at = run_id, started_at
        self._history_days = history_days
        self._prune_due = history_days is not None

    def previous(self, account_name: str, upgrade_id: str) -> Prior:
        """What the last successful poll of this campaign saw (no devices if none did)."""
        try:
            row = self._db.execute(_CAMPAIGN, (account_name, upgrade_id)).fetchone()
            if row is None:
                return Prior(None, {})
            key, last_run = row
            try:
                devices = _interned(self._db.execute(_DEVICES, (key,)))
            except (TypeError, sqlite3.OperationalError):
                # intern() refused a blob, or a text was not UTF-8: a file edited by hand.
                devices = self._devices_leniently(key)
            recent = read_recent(self._db, key, last_run)
        except sqlite3.Error as exc:
            raise StateWriteError(f"cannot read state database {self.path}: {exc}") from None
        return Prior(key, devices, recent, last_run)

    def _devices_leniently(self, key: int) -> dict[str, PriorDevice]:
        """A campaign's devices read again, a status or reason no text could be read as none.

        Only after the plain read failed: the lenient text factory costs a Python call per
        value (binding.py). Another error (a disk's) fails again, and is raised.
        """
        self._db.text_factory = lenient_text
        try:
            return _interned(self._db.execute(_AS_TEXT, (key,)))
        finally:
            self._db.text_factory = str

    def stage(self, update: CampaignUpdate) -> None:
        """Write one campaign's changes into the open transaction (not yet committed)."""
        try:
            self._begin()
            run = self._run_row()
            key = update.key
            night = update.night
            moves = None if night is None else history.moves_text(update.transitions)
            if key is None:
                named = (update.account_name, update.upgrade_id, update.status)
                counted = (update.device_count, update.polled_at, update.polled_at, run)
                cursor = self._db.execute(_INSERT_CAMPAIGN, (*named, *counted, moves))
                key = cursor.lastrowid
                assert key is not None  # noqa: S101 - an INSERT always has one
            else:
                changed = (update.status, update.device_count, update.polled_at, run, moves)
                self._db.execute(_UPDATE_CAMPAIGN, (*changed, key))
            # Rows from generators: a list of a million parameter tuples would cost 150 MB.
            if update.upserts:
                self._db.executemany(_UPSERT_DEVICE, ((key, *row) for row in update.upserts))
            if update.deletes:
                self._db.executemany(_DELETE_DEVICE, ((key, device) for device in update.deletes))
            if night is not None:
                self._batch.add(key, run, night)
        except sqlite3.Error as exc:
            raise StateWriteError(f"cannot write state database {self.path}: {exc}") from None
        self.staged += 1

    def commit(self, committed_at: str) -> None:
        """Make everything staged durable (one COMMIT); nothing staged, nothing done."""
        if not self.staged:
            return
        try:
            self._db.execute(
                "UPDATE runs SET committed_at = ? WHERE run = ?", (committed_at, self._run)
            )
            pruned = self._batch.write(self._db, self._history_days if self._prune_due else None)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self.rollback()
            raise StateWriteError(f"cannot commit state database {self.path}: {exc}") from None
        self._prune_due = self._prune_due and not pruned
        self._in_transaction = False
        self._run_committed = self._run is not None
        self._unstage()

    def rollback(self) -> None:
        """Drop everything staged since the last commit."""
        if self._in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
        self._in_transaction = False
        self._unstage()
        if not self._run_committed:
            self._run = None  # its row was in the transaction rolled back

    def _unstage(self) -> None:
        self.staged = 0
        self._batch = NightBatch()

    def close(self) -> None:
        """Roll back what is uncommitted and close the database."""
        self.rollback()
        self._db.close()

    def _begin(self) -> None:
        if self._in_transaction:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise sqlite_error(self.path, exc) from None
        self._in_transaction = True

    def _run_row(self) -> int:
        if self._run is None:
            if not self._run_id:
                raise StateError("no run started on the state database")
            cursor = self._db.execute(
                "INSERT INTO runs (run_id, started_at, committed_at) VALUES (?, ?, ?)",
                (self._run_id, self._started_at, self._started_at),
            )
            assert cursor.lastrowid is not None  # noqa: S101 - an INSERT always has one
            self._run = cursor.lastrowid
        return self._run


class Reserved(msgspec.Struct, frozen=True):
    """A state database whose lock this process holds (`StateStore.reserve`), not yet open."""

    path: Path

    @contextlib.contextmanager
    def open(self) -> Iterator[StateStore]:
        """The store for the block (the lock is the reservation's)."""
        with StateStore._opened(open_database(self.path), self.path) as store:  # noqa: SLF001
            yield store
