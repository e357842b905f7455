"""A run's use of the state database: read a campaign, stage its changes, commit or not."""

import sqlite3
from datetime import UTC, datetime

import pytest

from fota_poller.errors import AlreadyRunningError, StateWriteError
from fota_poller.state.store import CampaignUpdate, StateStore
from fota_poller.state.times import from_ms, to_ms


def update(key, devices, deletes=(), *, polled_at="2026-11-25T02:00:00.000Z", upgrade="u1"):
    return CampaignUpdate(
        key=key,
        account_name="0000123456-00001",
        upgrade_id=upgrade,
        status="InProgress",
        device_count=len(devices),
        polled_at=polled_at,
        upserts=list(devices),
        deletes=list(deletes),
    )


def rows(path):
    with sqlite3.connect(path) as db:
        return sorted(db.execute("SELECT device_id, status, status_since, first_seen FROM devices"))


def test_a_staged_campaign_is_read_back_only_once_committed(tmp_path):
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        store.start_run("run-1", "2026-11-25T02:00:00.000Z")
        assert store.previous("0000123456-00001", "u1").key is None
        store.stage(update(None, [("d1", "RequestPending", None, 10, 10, None)]))
        assert rows(path) == []  # another connection sees nothing yet
        store.commit("2026-11-25T02:00:01.000Z")
        assert rows(path) == [("d1", "RequestPending", 10, 10)]
    with StateStore.open(path) as store:
        prior = store.previous("0000123456-00001", "u1")
        assert prior.key is not None
        assert prior.devices == {"d1": ("d1", "RequestPending", None, 10, None)}
        assert store.previous("0000123456-00001", "other").devices == {}
        assert store.previous("other-account", "u1").key is None


def test_a_change_keeps_first_seen_and_a_gone_device_is_deleted(tmp_path):
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        store.start_run("run-1", "t1")
        store.stage(
            update(None, [("d1", "A", None, 10, 10, None), ("d2", "A", None, 10, 10, None)])
        )
        store.commit("t1")
    with StateStore.open(path) as store:
        store.start_run("run-2", "t2")
        key = store.previous("0000123456-00001", "u1").key
        store.stage(update(key, [("d1", "B", "r", 20, 20, None)], deletes=["d2"]))
        store.commit("t2")
    assert rows(path) == [("d1", "B", 20, 10)]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*), max(last_run) FROM campaigns").fetchone() == (1, 2)
        assert db.execute("SELECT run_id FROM runs ORDER BY run").fetchall() == [
            ("run-1",),
            ("run-2",),
        ]


def test_what_is_not_committed_is_rolled_back_with_its_run_row(tmp_path):
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        store.start_run("run-1", "t1")
        store.stage(update(None, [("d1", "A", None, 10, 10, None)]))
        store.rollback()
        store.stage(update(None, [("d2", "A", None, 10, 10, None)]))
        store.commit("t1")
        store.stage(update(None, [("d3", "A", None, 10, 10, None)], upgrade="u2"))
    # Closed with d3 staged: rolled back.
    assert [row[0] for row in rows(path)] == ["d2"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT run_id FROM runs").fetchall() == [("run-1",)]


def test_a_commit_with_nothing_staged_writes_nothing(tmp_path):
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        store.start_run("run-1", "t1")
        store.commit("t1")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_a_second_writer_is_refused_while_a_run_holds_the_database(tmp_path):
    path = tmp_path / "state.db"
    # Its lock first: the second is refused on FILE.lock, exit 75, as a second poll is.
    with StateStore.open(path), pytest.raises(AlreadyRunningError, match="lock file"):  # noqa: SIM117
        with StateStore.open(path):
            pass


def test_a_write_that_fails_is_a_state_write_error_naming_the_file(tmp_path):
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        store.start_run("run-1", "t1")
        store._db.execute("DROP TABLE devices")  # a write that SQLite refuses
        with pytest.raises(StateWriteError, match=str(path)):
            store.stage(update(None, [("d1", "A", None, 10, 10, None)]))


def test_times_round_trip_to_the_millisecond():
    moment = datetime(2026, 11, 25, 2, 0, 0, 123999, tzinfo=UTC)
    assert from_ms(to_ms(moment)) == moment.replace(microsecond=123000)
    assert to_ms(from_ms(1_764_036_000_123)) == 1_764_036_000_123
