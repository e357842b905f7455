"""`summary` on a night with more campaigns than it keeps in memory: rows spill to TMPDIR.

Past `RUN_ROWS` campaigns without a limit (json, csv) the rows are sorted in runs written to
an anonymous temporary file and merged back: the output must be what one full sort of every
row gives, and a temporary file that cannot be written must be one line and exit 74.
"""

from __future__ import annotations

import csv
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import msgspec
import pytest
from helpers import clean_environ

from fota_poller.cli import main
from fota_poller.summary.spill import RUN_ROWS

# Two runs spilled and half a run still in memory when the file ends.
CAMPAIGNS = 2 * RUN_ROWS + RUN_ROWS // 2
ACCOUNTS = ("0000123456-00001", "0000123456-00002", "0000777777-00009")
HUGE = 2**70  # a count no 64-bit integer holds: a file nobody validated may have one


def campaign_line(number: int) -> dict[str, object]:
    """A campaign record as `poll` writes it; small counts, so that many rows tie."""
    # Every 997th campaign repeats the campaign RUN_ROWS + 3 lines earlier (in another run):
    # same upgrade id, same counts, the key ties; only the firmware tells the two apart.
    twin = number % 997 == 0 and number >= RUN_ROWS + 3
    upgrade = number - RUN_ROWS - 3 if twin else number
    draw = random.Random(upgrade)
    failed, pending = draw.choice((0, 0, 0, 1, 2)), draw.randrange(3)
    outcome = "failed" if upgrade % 101 == 0 else "ok"
    return {
        "record": "campaign",
        "run_id": "run-1",
        "account_name": ACCOUNTS[upgrade % 3],
        "upgrade_id": f"{upgrade:08x}-0000-4000-8000-000000000000",
        "outcome": outcome,
        "campaign_status": "Queued" if pending else "UpgradeCompleted",
        "firmware_to": f"fw-{number}",
        "campaign_ended": not pending,
        "device_count": failed + pending + 1,
        "device_status_counts": {"UpgradeSuccess": 1},
        "device_phase_counts": {
            "succeeded": HUGE if number == 4321 else 1,
            "failed": failed,
            "pending": pending,
        },
        "error_kind": "timeout" if outcome == "failed" else None,
    }


@pytest.fixture(scope="module")
def big_night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    """A night of CAMPAIGNS campaigns (a device line after some), and its campaign records."""
    draw = random.Random(12)
    campaigns = [campaign_line(number) for number in range(CAMPAIGNS)]
    device = msgspec.json.encode({"record": "device", "device_id": "x"}) + b"\n"
    path = tmp_path_factory.mktemp("big") / "night.jsonl"
    with path.open("wb") as out:
        for campaign in campaigns:
            out.write(msgspec.json.encode(campaign) + b"\n")
            if draw.random() < 0.1:
                out.write(device)
        run = {"record": "run", "run_id": "run-1", "complete": True, "exit_code": 1}
        out.write(msgspec.json.encode(run) + b"\n")
    return path, campaigns


def reference(campaigns: list[dict[str, object]]) -> list[tuple[object, ...]]:
    """Worst first, as one stable sort of every campaign gives it."""

    def key(campaign: dict[str, object]) -> tuple[object, ...]:
        phases = campaign["device_phase_counts"]
        assert isinstance(phases, dict)
        failed_poll = campaign["outcome"] == "failed"
        account, upgrade = campaign["account_name"], campaign["upgrade_id"]
        return (not failed_poll, -phases["failed"], -phases["pending"], account, upgrade)

    return [shown(campaign) for campaign in sorted(campaigns, key=key)]


def shown(campaign: dict[str, object]) -> tuple[object, ...]:
    phases = campaign["device_phase_counts"]
    assert isinstance(phases, dict)
    return (
        campaign["account_name"],
        campaign["upgrade_id"],
        campaign["firmware_to"],
        campaign["outcome"],
        phases["succeeded"],
        phases["failed"],
        phases["pending"],
    )


def test_a_night_past_the_spill_gives_every_row_in_the_order_of_one_full_sort(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    big_night: tuple[Path, list[dict[str, object]]],
) -> None:
    path, campaigns = big_night
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    expected = reference(campaigns)

    assert main(["summary", str(path), "--format", "json"]) == 1  # failed polls: exit 1
    rows = json.loads(capsys.readouterr().out)["rows"]
    fields = ("account_name", "upgrade_id", "firmware", "outcome", "succeeded", "failed")
    assert [tuple(row[f] for f in (*fields, "pending")) for row in rows] == expected
    assert next(row for row in rows if row["succeeded"] == HUGE)["firmware"] == "fw-4321"

    assert main(["summary", str(path), "--format", "csv"]) == 1
    lines = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    as_read = [
        (*(line[f] for f in fields[:4]), *(int(line[f]) for f in (*fields[4:], "pending")))
        for line in lines
    ]
    assert as_read == expected
    # The temporary file had no name: nothing is left behind in TMPDIR.
    assert list(tmp_path.iterdir()) == []


def _limit_file_size() -> None:
    # Files this process writes stop at 64 KiB, as on a full disk: the spill's writes fail
    # (EFBIG; Python ignores SIGXFSZ). stdout and stderr are pipes, not limited.
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_a_temporary_folder_without_room_is_one_line_and_exit_74(
    tmp_path: Path, big_night: tuple[Path, list[dict[str, object]]]
) -> None:
    path, _ = big_night
    folder = tmp_path / "tmp"
    folder.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "fota_poller", "summary", str(path), "--format", "csv"],
        env=clean_environ() | {"TMPDIR": str(folder), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        preexec_fn=_limit_file_size,  # a plain setrlimit between fork and exec
        timeout=60,
        check=False,
    )
    error = result.stderr.decode()
    assert result.returncode == 74, error
    assert error.count("\n") == 1
    assert error.startswith(f"fota-poller: cannot write output {folder} ")
    assert error.endswith(": File too large\n")
    assert "TMPDIR" in error
    assert result.stdout == b""
    assert list(folder.iterdir()) == []
