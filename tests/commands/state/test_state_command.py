"""`fota-poller state` as the operator runs it: info, stuck and forget through `cli.main`, each
unusable database one line and its exit code, and the same refusals from `poll --state`."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import sqlite3
import sys
from datetime import UTC, datetime, timedelta

import pytest
from helpers import (
    ACCOUNT,
    OTHER_UPGRADE,
    UPGRADE,
    parse_output,
    poll_cli,
    refusal,
    token_environ,
    write_campaign,
)

from fota_poller.cli import main
from fota_poller.regular_files import hold_lock
from fota_poller.state import queries

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("restore_logging")


def run(capsys, *argv):
    """`fota-poller ARGV` in this process: its exit code, stdout and stderr lines."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse: usage and --help
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def assert_one_line_naming(err, path):
    assert len(err) == 1, err
    line = refusal(err[0])  # poll's is a JSON line off a terminal
    assert line.startswith("fota-poller: ")
    assert str(path) in line


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    monkeypatch.setattr(queries, "utc_now", lambda: NOW)
    path = tmp_path / "state.db"
    write_campaign(path, ACCOUNT, UPGRADE, [
        ("stuck-8d", "RequestPending", None, NOW - timedelta(days=8)),
        ("exactly-7d", "RequestPending", None, NOW - timedelta(days=7)),
        ("accepted-9d", "Device Accepted", None, NOW - timedelta(days=9)),
        ("limbo-10d", "Firmware Limbo", None, NOW - timedelta(days=10)),
        ("done-30d", "UpgradeSuccess", None, NOW - timedelta(days=30)),
    ])  # fmt: skip
    write_campaign(path, ACCOUNT, OTHER_UPGRADE, [("other", "Queued", None, NOW)], "run-2")
    return path


def test_state_without_a_subcommand_prints_usage_and_exits_2(capsys):
    code, out, err = run(capsys, "state")

    assert code == 2
    assert out == ""
    assert err[0].startswith("usage: fota-poller state")


@pytest.mark.parametrize(
    ("subcommand", "codes"),
    [("info", ["0", "2"]), ("stuck", ["0", "2"]), ("forget", ["0", "1", "2", "75"])],
)
def test_each_subcommands_help_says_what_it_does_and_its_exit_codes(capsys, subcommand, codes):
    code, out, _ = run(capsys, "state", subcommand, "--help")

    assert code == 0
    assert "exit codes:" in out
    for exit_code in codes:
        assert f"\n  {exit_code} " in out
    assert "--state FILE.db" in out


def test_info_is_one_json_object_when_piped_and_aligned_lines_when_asked(capsys, fleet):
    code, out, err = run(capsys, "state", "info", "--state", str(fleet))
    text_code, text, _ = run(capsys, "state", "info", "--state", str(fleet), "--format", "text")

    assert (code, err, text_code) == (0, [], 0)
    info = json.loads(out)
    assert info["path"] == str(fleet)
    assert (info["schema_version"], info["campaigns"], info["devices"]) == (4, 2, 6)
    assert info["last_run"]["run_id"] == "run-2"
    assert info["size_bytes"] == fleet.stat().st_size
    lines = text.splitlines()
    assert lines[0] == f"path:           {fleet}"
    assert "devices:        6" in lines
    # The numbers, then the history's sections (none here: the fleet has no history).
    assert lines[-2:] == ["last night's transitions:", "campaigns:"]
    assert info["history"] == {
        "last_night": {"campaigns_stalled": 0, "new": 0, "gone": 0, "transitions": []},
        "campaigns": [],
    }
    value_columns = set()
    for line in lines[:-2]:
        key, _, value = line.partition(":")
        value_columns.add(len(key) + 1 + len(value) - len(value.lstrip()))
    assert len(value_columns) == 1  # every value starts in one column


def test_stuck_lists_json_lines_of_devices_stuck_over_the_duration(capsys, fleet, tmp_path):
    config = tmp_path / "fota.toml"
    config.write_text(f'[state]\npath = "{fleet}"\n[phases]\nfailed = ["Firmware Limbo"]\n')

    code, out, _ = run(capsys, "state", "stuck", "--stuck-after", "7d")
    assert code == 2  # no --state and no config naming one
    code, out, _ = run(capsys, "state", "stuck", "--config", str(config), "--stuck-after", "7d")
    plain_code, plain, _ = run(
        capsys, "state", "stuck", "--state", str(fleet), "--stuck-after", "168h"
    )
    status_code, only, _ = run(
        capsys, "state", "stuck", "--state", str(fleet), "--stuck-after", "7d",
        "--status", "request pending,NOPE", "--status", "Firmware Limbo",
    )  # fmt: skip

    assert (code, plain_code, status_code) == (0, 0, 0)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["device_id"] for line in lines] == ["accepted-9d", "stuck-8d"]
    assert lines[1] == {
        "account_name": ACCOUNT,
        "upgrade_id": UPGRADE,
        "device_id": "stuck-8d",
        "status": "RequestPending",
        "phase": "pending",
        "result_reason": None,
        "status_since": "2026-11-18T02:00:00.000Z",
        "first_seen": "2026-11-17T02:00:00.000Z",
        "stuck_for_s": 8 * 86400,
    }
    # Without the config's [phases], Firmware Limbo is unknown: stuck too.
    assert [json.loads(line)["device_id"] for line in plain.splitlines()] == [
        "limbo-10d", "accepted-9d", "stuck-8d",
    ]  # fmt: skip
    assert [json.loads(line)["device_id"] for line in only.splitlines()] == [
        "limbo-10d", "stuck-8d",
    ]  # fmt: skip


def test_stuck_on_a_terminal_is_a_table(capsys, fleet, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)

    code, out, _ = run(capsys, "state", "stuck", "--state", str(fleet), "--stuck-after", "7d")

    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == [
        "ACCOUNT", "UPGRADE", "ID", "DEVICE", "ID", "STATUS", "PHASE", "STATUS", "SINCE",
        "STUCK", "FOR",
    ]  # fmt: skip
    assert lines[-1] == "3 devices"
    row = next(line for line in lines if "stuck-8d" in line)
    assert row.split() == [
        ACCOUNT, UPGRADE, "stuck-8d", "RequestPending", "pending", "2026-11-18T02:00:00.000Z",
        "8d", "00h",
    ]  # fmt: skip
    assert row.index("stuck-8d") == lines[0].index("DEVICE ID")


def test_stuck_takes_the_old_for_as_a_hidden_alias_of_stuck_after(capsys, fleet):
    new = run(capsys, "state", "stuck", "--state", str(fleet), "--stuck-after", "7d")
    old = run(capsys, "state", "stuck", "--state", str(fleet), "--for", "7d")
    both = run(
        capsys, "state", "stuck", "--state", str(fleet), "--for", "7d", "--stuck-after", "7d"
    )
    help_code, help_text, _ = run(capsys, "state", "stuck", "--help")

    assert old[:2] == new[:2]
    assert new[0] == 0
    assert new[1]
    assert both[0] == 2
    assert help_code == 0
    assert "--stuck-after DURATION" in help_text
    assert not re.search(r"--for\b", help_text)


@pytest.mark.parametrize("duration", ["7x", "", "d", "7w", "-1d"])
def test_stuck_with_a_duration_that_is_none_is_one_line_and_exit_2(capsys, fleet, duration):
    code, out, err = run(
        capsys, "state", "stuck", "--state", str(fleet), f"--stuck-after={duration}"
    )

    assert (code, out) == (2, "")
    assert len(err) == 1
    assert err[0].startswith("fota-poller: --stuck-after: not a duration")


def test_forget_removes_campaigns_and_reports_the_missing_with_exit_1(capsys, fleet):
    missing = "0000999999-00001," + UPGRADE

    code, out, err = run(capsys, "state", "forget", "--state", str(fleet), UPGRADE, missing)
    again, _, again_err = run(capsys, "state", "forget", "--state", str(fleet), OTHER_UPGRADE)
    info = json.loads(run(capsys, "state", "info", "--state", str(fleet))[1])

    assert (code, again, again_err) == (1, 0, [])
    assert out == f"forgot {ACCOUNT},{UPGRADE}: 5 devices\n"
    assert err == [f"fota-poller: campaign {missing} is not in {fleet}"]
    assert (info["campaigns"], info["devices"]) == (0, 0)


def test_forget_of_something_that_is_no_campaign_is_exit_2_and_removes_nothing(capsys, fleet):
    code, out, err = run(capsys, "state", "forget", "--state", str(fleet), UPGRADE, "x,y")

    assert (code, out) == (2, "")
    assert "'y' is not an upgrade id" in err[0]
    assert json.loads(run(capsys, "state", "info", "--state", str(fleet))[1])["devices"] == 6


def test_forget_beside_a_run_holding_the_lock_is_75_and_removes_nothing(capsys, fleet):
    with hold_lock(f"{fleet}.lock"):
        code, out, err = run(capsys, "state", "forget", "--state", str(fleet), UPGRADE)

    assert (code, out) == (75, "")
    assert_one_line_naming(err, fleet)
    assert json.loads(run(capsys, "state", "info", "--state", str(fleet))[1])["devices"] == 6


def test_an_unusable_database_is_one_line_and_exit_2_for_every_subcommand(
    capsys, spoiled, snapshot
):
    path, says = spoiled
    before = snapshot(path)

    for argv in (["info"], ["stuck", "--stuck-after", "7d"], ["forget", UPGRADE]):
        code, out, err = run(capsys, "state", *argv, "--state", str(path))
        assert (code, out) == (2, ""), argv
        assert_one_line_naming(err, path)
        assert says in err[0]
    assert snapshot(path) == before  # and no lock file appeared beside it


def test_a_read_only_database_is_read_but_not_forgotten_from(
    capsys, database, make_read_only, snapshot
):
    make_read_only(database)
    before = snapshot(database)

    code, out, err = run(capsys, "state", "forget", "--state", str(database), UPGRADE)
    info_code, info, _ = run(capsys, "state", "info", "--state", str(database))

    assert (code, out) == (2, "")
    assert_one_line_naming(err, database)
    assert "read-only" in err[0]
    assert (info_code, json.loads(info)["devices"]) == (0, 300)
    assert snapshot(database) == before


def test_a_locked_database_is_75_for_forget_and_readable_by_info(
    capsys, database, write_transaction, snapshot
):
    write_transaction(database)
    before = snapshot(database)

    code, out, err = run(capsys, "state", "forget", "--state", str(database), UPGRADE)
    info_code, info, _ = run(capsys, "state", "info", "--state", str(database))

    assert (code, out) == (75, "")
    assert_one_line_naming(err, database)
    assert (info_code, json.loads(info)["devices"]) == (0, 300)
    after = snapshot(database)
    # Forget took the state's lock (its file is there since the database was written).
    assert after.names == sorted({*before.names, "state.db.lock"})
    assert (after.sha256, after.mtime_ns) == (before.sha256, before.mtime_ns)


def test_a_missing_database_or_folder_is_one_line_and_nothing_is_created(capsys, tmp_path):
    for path in (tmp_path / "state.db", tmp_path / "nowhere" / "state.db"):
        for argv in (["info"], ["stuck", "--stuck-after", "7d"], ["forget", UPGRADE]):
            code, out, err = run(capsys, "state", *argv, "--state", str(path))
            assert (code, out) == (2, ""), argv
            assert_one_line_naming(err, path)
    assert list(tmp_path.iterdir()) == []


# `poll --state` refuses the same files (the lead wires --state into poll).


def unlocked(names: list[str]) -> list[str]:
    """The files but the lock: every writer of the database holds `FILE.lock`, made on use."""
    return [name for name in names if not name.endswith(".lock")]


def write_ids(simulator, tmp_path):
    ids = tmp_path / "ids.csv"
    ids.write_text("".join(f"{a},{u}\n" for a, u in simulator.catalog.ids()))
    return ids


async def poll_with_state(simulator, ids, path):
    env = token_environ(simulator.options)
    result = await poll_cli(simulator, ids, "--rate", "0", "--state", str(path), env=env)
    return result.returncode, result.stdout, result.stderr.decode().splitlines()


async def test_poll_refuses_an_unusable_database_with_exit_2_unchanged(
    small_simulator, tmp_path, spoiled, snapshot
):
    path, says = spoiled
    ids = write_ids(small_simulator, tmp_path)
    before = snapshot(path)

    code, out, err = await poll_with_state(small_simulator, ids, path)

    assert (code, out) == (2, b"")
    assert_one_line_naming(err, path)
    assert says in err[0]
    after = snapshot(path)
    assert (after.sha256, after.mtime_ns) == (before.sha256, before.mtime_ns)
    assert unlocked(after.names) == unlocked(before.names)


@pytest.mark.parametrize("night", ["read-only", "locked", "no folder"])
async def test_poll_refuses_a_read_only_locked_or_missing_database(
    small_simulator, tmp_path, night, *, database, make_read_only, write_transaction, snapshot
):
    path = database
    if night == "read-only":
        make_read_only(database)
    elif night == "locked":
        write_transaction(database)
    else:
        path = tmp_path / "nowhere" / "state.db"
    ids = write_ids(small_simulator, tmp_path)
    before = snapshot(database)

    code, out, err = await poll_with_state(small_simulator, ids, path)

    assert (code, out) == ((75 if night == "locked" else 2), b"")
    assert_one_line_naming(err, path)
    after = snapshot(database)
    assert (after.sha256, after.mtime_ns) == (before.sha256, before.mtime_ns)
    assert unlocked(after.names) == unlocked(before.names)


def test_stuck_json_lines_escape_line_separators_and_tables_escape_controls(
    capsys, tmp_path, monkeypatch
):
    # A server's status with a line separator and a terminal escape, kept in the state.
    path = tmp_path / "state.db"
    hostile = "Pending\u2028next\x1b[2J"
    write_campaign(path, ACCOUNT, UPGRADE, [("d1", hostile, None, NOW - timedelta(days=9))])
    monkeypatch.setattr(queries, "utc_now", lambda: NOW)

    code, out, _ = run(capsys, "state", "stuck", "--state", str(path), "--stuck-after", "7d")
    assert code == 0
    assert "\u2028" not in out
    assert len(out.splitlines()) == 1
    assert json.loads(out)["status"] == hostile

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, _ = run(capsys, "state", "stuck", "--state", str(path), "--stuck-after", "7d")
    assert code == 0
    assert "\x1b" not in out
    assert "\\x1b[2J" in out


# Times a database edited by hand (or by another program) may hold: past year 9999, before
# year 1, text. Each is read as unknown, never an OverflowError.
OUT_OF_RANGE = [2**62, -(2**62), "yesterday"]


def spoil_times(path, where=""):
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        rows = db.execute(f"SELECT campaign, device_id FROM devices {where}").fetchall()
        for (campaign, device), value in zip(rows, itertools.cycle(OUT_OF_RANGE)):
            db.execute(
                "UPDATE devices SET status_since = ?, first_seen = ? "
                "WHERE campaign = ? AND device_id = ?",
                (value, value, campaign, device),
            )
    return len(rows)


def test_stuck_and_info_read_a_time_out_of_range_as_unknown(capsys, fleet, monkeypatch):
    spoil_times(fleet, "WHERE device_id IN ('stuck-8d', 'accepted-9d', 'limbo-10d')")

    code, out, err = run(capsys, "state", "stuck", "--state", str(fleet), "--stuck-after", "7d")
    info_code, info, info_err = run(capsys, "state", "info", "--state", str(fleet))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    table_code, table, table_err = run(
        capsys, "state", "stuck", "--state", str(fleet), "--stuck-after", "1d"
    )

    assert (code, info_code, table_code) == (0, 0, 0), err + info_err + table_err
    assert not any("Traceback" in line for line in err + info_err + table_err)
    # In key order accepted-9d gets 2**62, limbo-10d -2**62, stuck-8d text. -2**62 is older
    # than any cutoff: listed, its times unknown; the others are not listed.
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["device_id"] for line in lines] == ["limbo-10d"]
    assert (lines[0]["status_since"], lines[0]["first_seen"], lines[0]["stuck_for_s"]) == (
        None, None, None,
    )  # fmt: skip
    assert json.loads(info)["devices"] == 6
    row = next(line for line in table.splitlines() if "limbo-10d" in line)
    assert row.split()[-2:] == ["(unknown)", "(unknown)"]


async def test_a_poll_reads_a_time_out_of_range_in_the_state_as_null(small_simulator, tmp_path):
    ids, path = write_ids(small_simulator, tmp_path), tmp_path / "state.db"
    first_code, _, _ = await poll_with_state(small_simulator, ids, path)
    spoiled = spoil_times(path)

    code, out, err = await poll_with_state(small_simulator, ids, path)

    assert (first_code, code) == (0, 0), err
    assert not any("Traceback" in line for line in err)
    output = parse_output(out)
    assert len(output.campaigns) == 30
    assert all(c.outcome == "ok" for c in output.campaigns)
    same = [d for d in output.devices if d.change == "same"]
    assert spoiled == len(output.devices) > 0
    # A device whose status stayed has no readable time: its status_since is null.
    assert same
    assert all(d.status_since is None for d in same)
