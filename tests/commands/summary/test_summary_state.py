"""`summary --state`: what moved per campaign, and its devices stuck past `--stuck-after`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from helpers import ACCOUNT, OTHER_UPGRADE, UPGRADE, write_campaign

from fota_poller.cli import main
from fota_poller.model.records import CampaignRecord, RunRecord

STUCK = UPGRADE
FRESH = OTHER_UPGRADE
NOW = datetime.now(UTC)


def campaign_line(upgrade: str, new: int, changed: int, gone: int) -> bytes:
    fields: dict[str, object] = dict.fromkeys(CampaignRecord.__struct_fields__)
    fields.update(
        run_id="r", outcome="ok", attempts=1, account_name=ACCOUNT, upgrade_id=upgrade,
        device_count=4, device_status_counts={"RequestPending": 4},
        device_phase_counts={"pending": 4}, devices_duplicate=0, devices_new=new,
        devices_changed=changed,
        devices_gone=gone,
    )  # fmt: skip
    return msgspec.json.encode(CampaignRecord(**fields)) + b"\n"  # type: ignore[arg-type]


@pytest.fixture
def night(tmp_path: Path) -> tuple[Path, Path]:
    state = tmp_path / "state.db"
    write_campaign(state, ACCOUNT, STUCK, [
        ("pending-8d", "RequestPending", None, NOW - timedelta(days=8)),
        ("accepted-20d", "Device Accepted", None, NOW - timedelta(days=20)),
        ("unknown-10d", "Firmware Limbo", None, NOW - timedelta(days=10)),
        ("pending-6d", "RequestPending", None, NOW - timedelta(days=6)),
        ("succeeded-30d", "UpgradeSuccess", None, NOW - timedelta(days=30)),
        ("failed-30d", "UpgradeFailed", None, NOW - timedelta(days=30)),
    ], run_id="run-1")  # fmt: skip
    write_campaign(state, ACCOUNT, FRESH, [
        ("pending-1d", "RequestPending", None, NOW - timedelta(days=1)),
    ], run_id="run-2")  # fmt: skip
    run = RunRecord(
        "r", 2, "2026-11-26T02:00:00.000Z", "2026-11-26T02:05:00.000Z", 300.0, 2, 2, 0, 8, 2, 0,
        complete=True, exit_code=0,
    )  # fmt: skip
    records = tmp_path / "night.jsonl"
    records.write_bytes(
        campaign_line(STUCK, 0, 2, 1) + campaign_line(FRESH, 1, 0, 0) + msgspec.json.encode(run)
    )
    return records, state


def test_state_counts_stuck_pending_and_unknown_devices_and_shows_what_moved(
    capsys: pytest.CaptureFixture[str], night: tuple[Path, Path]
) -> None:
    records, state = night
    assert main(["summary", str(records), "--state", str(state)]) == 0
    rows = {row["upgrade_id"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    assert rows[STUCK]["stuck"] == 3  # pending 8d, accepted 20d, unknown 10d; not 6d nor final
    assert rows[FRESH]["stuck"] == 0
    moved = [
        (rows[u]["devices_new"], rows[u]["devices_changed"], rows[u]["devices_gone"])
        for u in (STUCK, FRESH)
    ]
    assert moved == [(0, 2, 1), (1, 0, 0)]


def test_stuck_after_moves_the_cutoff_and_the_table_shows_the_column(
    capsys: pytest.CaptureFixture[str], night: tuple[Path, Path]
) -> None:
    records, state = night
    assert main(["summary", str(records), "--state", str(state), "--stuck-after", "9d"]) == 0
    rows = {row["upgrade_id"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    assert rows[STUCK]["stuck"] == 2
    main(["summary", str(records), "--state", str(state), "--format", "table"])
    table = capsys.readouterr().out
    assert "stuck" in table
    assert "changed" in table


def test_a_state_file_that_is_no_database_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], night: tuple[Path, Path], tmp_path: Path
) -> None:
    records, _ = night
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"not sqlite at all" * 100)
    assert main(["summary", str(records), "--state", str(bogus)]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1
    assert "bogus.db" in err
