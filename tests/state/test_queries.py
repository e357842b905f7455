"""The operator's questions: `info` beside a run, `stuck` on a fake clock, `forget` in one go."""

from __future__ import annotations

import contextlib
import sqlite3
import types
from datetime import UTC, datetime, timedelta

import pytest
from helpers import ACCOUNT, OTHER_ACCOUNT, OTHER_UPGRADE, UPGRADE, write_campaign

from fota_poller.errors import StateBusyError
from fota_poller.model.phases import PhasesConfig, PhaseTable
from fota_poller.state import queries
from fota_poller.state.schema import SCHEMA_VERSION, open_database

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
WEEK = 7 * 86400
MS = timedelta(milliseconds=1)


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    """Devices whose status is known since chosen moments, on a clock stopped at NOW."""
    monkeypatch.setattr(queries, "utc_now", lambda: NOW)
    path = tmp_path / "state.db"
    write_campaign(path, ACCOUNT, UPGRADE, [
        ("over-8d", "RequestPending", None, NOW - timedelta(days=8)),
        ("exactly-7d", "RequestPending", None, NOW - timedelta(days=7)),
        ("7d-and-1ms", "Request Pending", "queued", NOW - timedelta(days=7) - MS),
        ("6d", "RequestPending", None, NOW - timedelta(days=6)),
        ("succeeded-30d", "UpgradeSuccess", None, NOW - timedelta(days=30)),
        ("failed-30d", "UpgradeFailed", "Device Rejected", NOW - timedelta(days=30)),
        ("unknown-10d", "Firmware Limbo", None, NOW - timedelta(days=10)),
        ("no-status-9d", None, None, NOW - timedelta(days=9)),
    ])  # fmt: skip
    write_campaign(path, OTHER_ACCOUNT, OTHER_UPGRADE, [
        ("accepted-20d", "Device Accepted", None, NOW - timedelta(days=20)),
        ("accepted-1d", "Device Accepted", None, NOW - timedelta(days=1)),
    ], "run-2")  # fmt: skip
    return path


def stuck(path, longer_than_s=WEEK, phases=None, statuses=()):
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        devices = queries.stuck_devices(
            connection,
            path,
            longer_than_s=longer_than_s,
            phases=PhaseTable(phases),
            statuses=statuses,
        )
        return {device.device_id: device for device in devices}


def test_stuck_lists_exactly_the_pending_and_unknown_devices_older_than_a_week(fleet):
    found = stuck(fleet)

    # Exactly seven days is not "longer than" seven days; one millisecond more is.
    assert set(found) == {"over-8d", "7d-and-1ms", "unknown-10d", "no-status-9d", "accepted-20d"}
    assert {name: device.phase for name, device in found.items()} == {
        "over-8d": "pending",
        "7d-and-1ms": "pending",
        "unknown-10d": "unknown",
        "no-status-9d": "unknown",
        "accepted-20d": "pending",
    }
    assert found["7d-and-1ms"] == queries.StuckDevice(
        account_name=ACCOUNT,
        upgrade_id=UPGRADE,
        device_id="7d-and-1ms",
        status="Request Pending",
        phase="pending",
        result_reason="queued",
        status_since="2026-11-19T01:59:59.999Z",
        first_seen="2026-11-18T01:59:59.999Z",
        stuck_for_s=WEEK,  # whole seconds, rounded down
    )
    assert found["accepted-20d"].account_name == OTHER_ACCOUNT
    assert found["over-8d"].stuck_for_s == 8 * 86400


def test_stuck_keeps_only_the_statuses_asked_for_in_any_spelling(fleet):
    assert set(stuck(fleet, statuses=["requestpending"])) == {"over-8d", "7d-and-1ms"}
    assert set(stuck(fleet, statuses=["Device Accepted", "FIRMWARE_LIMBO"])) == {
        "accepted-20d",
        "unknown-10d",
    }
    # A final status asked for by name is still never stuck.
    assert stuck(fleet, statuses=["UpgradeSuccess"]) == {}


def test_the_configs_phases_decide_which_status_is_final(fleet):
    phases = PhasesConfig(failed=("Firmware Limbo",), succeeded=("Device Accepted",))

    assert set(stuck(fleet, phases=phases)) == {"over-8d", "7d-and-1ms", "no-status-9d"}


def test_stuck_over_a_longer_span_or_none(fleet):
    assert set(stuck(fleet, longer_than_s=9.5 * 86400)) == {"unknown-10d", "accepted-20d"}
    assert set(stuck(fleet, longer_than_s=0)) == {
        "over-8d", "exactly-7d", "7d-and-1ms", "6d", "unknown-10d", "no-status-9d",
        "accepted-20d", "accepted-1d",
    }  # fmt: skip
    # Longer than any clock can hold: nothing, and no overflow in SQLite's integers.
    assert stuck(fleet, longer_than_s=1e300) == {}
    assert stuck(fleet, longer_than_s=float("inf")) == {}


def test_stuck_comes_oldest_first_from_one_scan_sorted_by_sqlite(fleet):
    with contextlib.closing(open_database(fleet, read_only=True)) as connection:
        # The function the query calls is registered by `stuck_devices` on its connection.
        devices = queries.stuck_devices(connection, fleet, longer_than_s=WEEK, phases=PhaseTable())
        first = next(devices)  # rows are produced one by one, not a list built first
        plan = connection.execute(
            f"EXPLAIN QUERY PLAN {queries.STUCK_OLDEST_FIRST}", (0, -1)
        ).fetchall()
        rest = [device.device_id for device in devices]

    details = " | ".join(row[-1] for row in plan)
    assert "SCAN d" in details
    assert "SEARCH c USING INTEGER PRIMARY KEY" in details
    assert "USE TEMP B-TREE FOR ORDER BY" in details  # SQLite's sorter, not a Python list
    assert isinstance(devices, types.GeneratorType)
    # Longest stuck first, whichever campaign; the same moment breaks on the ids.
    assert [first.device_id, *rest] == [
        "accepted-20d", "unknown-10d", "no-status-9d", "over-8d", "7d-and-1ms",
    ]  # fmt: skip


def test_stuck_limit_keeps_the_longest_stuck_and_ties_go_to_the_ids(fleet, tmp_path):
    assert [d.device_id for d in stuck_list(fleet, limit=2)] == ["accepted-20d", "unknown-10d"]
    assert [d.device_id for d in stuck_list(fleet, limit=1, statuses=["RequestPending"])] == [
        "over-8d"
    ]
    # Three devices stuck since one moment, in two campaigns: account, upgrade, device id.
    moment = NOW - timedelta(days=12)
    path = tmp_path / "ties.db"
    write_campaign(path, OTHER_ACCOUNT, UPGRADE, [("b", "Queued", None, moment)])
    write_campaign(path, ACCOUNT, UPGRADE, [("z", "Queued", None, moment)], "run-2")
    write_campaign(path, ACCOUNT, OTHER_UPGRADE, [("a", "Queued", None, moment)], "run-3")
    listed = [(d.account_name, d.upgrade_id, d.device_id) for d in stuck_list(path)]
    assert listed == sorted(listed)
    assert [device for *_, device in listed] == ["a", "z", "b"]


def stuck_list(path, limit=None, statuses=()):
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        return list(
            queries.stuck_devices(
                connection, path, longer_than_s=WEEK, phases=PhaseTable(), statuses=statuses,
                limit=limit,
            )
        )  # fmt: skip


def test_info_counts_what_the_database_holds(fleet):
    with contextlib.closing(open_database(fleet, read_only=True)) as connection:
        info = queries.database_info(connection, fleet)

    assert info.path == str(fleet)
    assert info.schema_version == SCHEMA_VERSION == 4
    assert (info.campaigns, info.devices) == (2, 10)
    assert info.last_run == queries.LastRun(
        "run-2", "2026-11-26T02:00:00.000Z", "2026-11-26T02:05:00.000Z"
    )
    assert info.size_bytes == fleet.stat().st_size


def test_info_reads_beside_a_run_holding_the_write_transaction(fleet, write_transaction):
    write_transaction(fleet)
    wal = fleet.with_name("state.db-wal")

    with contextlib.closing(open_database(fleet, read_only=True)) as connection:
        info = queries.database_info(connection, fleet)

    assert (info.campaigns, info.devices) == (2, 10)
    assert info.size_bytes == fleet.stat().st_size + wal.stat().st_size


def test_info_of_a_database_never_committed_to_has_no_last_run(tmp_path):
    path = tmp_path / "state.db"
    open_database(path).close()

    with contextlib.closing(open_database(path, read_only=True)) as connection:
        info = queries.database_info(connection, path)

    assert (info.campaigns, info.devices, info.last_run) == (0, 0, None)


def counts(path):
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT c.account_name || ',' || c.upgrade_id, count(d.device_id) FROM campaigns c"
            " LEFT JOIN devices d ON d.campaign = c.campaign GROUP BY c.campaign"
        )
        return dict(rows.fetchall())


def forget(path, wanted):
    with contextlib.closing(open_database(path, create=False)) as connection:
        return queries.forget_campaigns(connection, path, wanted)


def test_forget_removes_a_campaign_and_its_devices_and_names_what_it_did_not_find(fleet):
    removed, missing = forget(fleet, [(ACCOUNT, UPGRADE), (ACCOUNT, OTHER_UPGRADE)])

    assert removed == [queries.Forgotten(ACCOUNT, UPGRADE, 8)]
    assert missing == [(ACCOUNT, OTHER_UPGRADE)]
    assert counts(fleet) == {f"{OTHER_ACCOUNT},{OTHER_UPGRADE}": 2}


def test_forget_a_bare_upgrade_id_removes_it_from_every_account(database):
    upgrade = "e3a8d88a-04c6-4ef3-b039-89b62f91e962"  # the database fixture's, on two accounts

    removed, missing = forget(database, [(None, upgrade)])

    assert sorted((gone.account_name, gone.devices) for gone in removed) == [
        ("0000123456-00001", 200),
        ("0000654321-00001", 100),
    ]
    assert missing == []
    assert counts(database) == {}


def test_forget_beside_a_write_transaction_is_busy_and_removes_nothing(fleet, write_transaction):
    write_transaction(fleet)

    with pytest.raises(StateBusyError) as caught:
        forget(fleet, [(ACCOUNT, UPGRADE)])

    assert caught.value.exit_code == 75
    assert str(fleet) in str(caught.value)
    assert counts(fleet) == {f"{ACCOUNT},{UPGRADE}": 8, f"{OTHER_ACCOUNT},{OTHER_UPGRADE}": 2}


def mark_on_target(path, on_target):
    """Set each named device's on_target as `poll --inventory` would have stored it."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.executemany(
            "UPDATE devices SET on_target = ? WHERE device_id = ?",
            [(value, device) for device, value in on_target.items()],
        )


def stuck_counted(path):
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        return queries.stuck_counts(connection, path, longer_than_s=WEEK, phases=PhaseTable())


def test_a_device_on_target_is_never_stuck_and_summary_counts_agree(fleet):
    # A late success (pending, on target) needs nothing; one known off target is stuck.
    mark_on_target(fleet, {"over-8d": 1, "unknown-10d": 1, "7d-and-1ms": 0, "accepted-20d": 1})

    found = stuck(fleet)

    assert set(found) == {"7d-and-1ms", "no-status-9d"}
    assert stuck_counted(fleet) == {(ACCOUNT, UPGRADE): 2}


def test_a_version_1_file_read_in_place_knows_no_device_on_target(fleet):
    with contextlib.closing(sqlite3.connect(fleet, isolation_level=None)) as db:
        db.execute("ALTER TABLE devices DROP COLUMN on_target")
        db.execute("PRAGMA user_version = 1")

    assert set(stuck(fleet)) == {
        "over-8d",
        "7d-and-1ms",
        "unknown-10d",
        "no-status-9d",
        "accepted-20d",
    }
    assert stuck_counted(fleet) == {(ACCOUNT, UPGRADE): 4, (OTHER_ACCOUNT, OTHER_UPGRADE): 1}
