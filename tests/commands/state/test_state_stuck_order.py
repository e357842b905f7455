"""`state stuck` longest stuck first, `--limit`, and `--by campaign` in both formats, with
its ties; a `--limit` that lists nothing is one line and exit 2."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import pytest
from helpers import ACCOUNT, OTHER_ACCOUNT, OTHER_UPGRADE, UPGRADE, write_campaign

from fota_poller.cli import main
from fota_poller.state import queries

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
THIRD = "7a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

pytestmark = pytest.mark.usefixtures("restore_logging")


def days(count: float) -> datetime:
    return NOW - timedelta(days=count)


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    """Three campaigns: UPGRADE 3 stuck (oldest 12d), OTHER_UPGRADE 2 (oldest 20d), THIRD on
    another account 2 (oldest 20d: ties OTHER_UPGRADE on count and time, not on account)."""
    monkeypatch.setattr(queries, "utc_now", lambda: NOW)
    path = tmp_path / "state.db"
    write_campaign(path, ACCOUNT, UPGRADE, [
        ("a-12d", "RequestPending", None, days(12)),
        ("b-9d", "Device Accepted", None, days(9)),
        ("c-8d", "RequestPending", None, days(8)),
        ("d-1d", "RequestPending", None, days(1)),
        ("e-done", "UpgradeSuccess", None, days(30)),
    ])  # fmt: skip
    write_campaign(path, ACCOUNT, OTHER_UPGRADE, [
        ("f-20d", "Queued", None, days(20)),
        ("g-10d", "Queued", None, days(10)),
    ], "run-2")  # fmt: skip
    write_campaign(path, OTHER_ACCOUNT, THIRD, [
        ("h-20d", "Queued", None, days(20)),
        ("i-11d", "RequestPending", None, days(11)),
    ], "run-3")  # fmt: skip
    return path


def stuck(capsys, path, *args):
    code = main(["state", "stuck", "--state", str(path), "--stuck-after", "7d", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def json_lines(text):
    return [json.loads(line) for line in text.splitlines()]


def test_devices_come_longest_stuck_first_and_limit_keeps_the_longest(capsys, fleet):
    code, out, _ = stuck(capsys, fleet, "--format", "json")
    limited_code, limited, _ = stuck(capsys, fleet, "--format", "json", "--limit", "3")

    assert (code, limited_code) == (0, 0)
    devices = [line["device_id"] for line in json_lines(out)]
    # f-20d and h-20d tie on the moment: the account, then the upgrade id, decides.
    assert devices == ["f-20d", "h-20d", "a-12d", "i-11d", "g-10d", "b-9d", "c-8d"]
    assert [line["device_id"] for line in json_lines(limited)] == devices[:3]
    since = [line["status_since"] for line in json_lines(out)]
    assert since == sorted(since)


def test_by_campaign_counts_per_campaign_most_stuck_first(capsys, fleet):
    code, out, _ = stuck(capsys, fleet, "--by", "campaign", "--format", "json")

    assert code == 0
    assert json_lines(out) == [
        {
            "account_name": ACCOUNT,
            "upgrade_id": UPGRADE,
            "stuck": 3,
            "oldest_status_since": "2026-11-14T02:00:00.000Z",
            "longest_stuck_for_s": 12 * 86400,
        },
        # Two each, stuck as long: the account breaks the tie.
        {
            "account_name": ACCOUNT,
            "upgrade_id": OTHER_UPGRADE,
            "stuck": 2,
            "oldest_status_since": "2026-11-06T02:00:00.000Z",
            "longest_stuck_for_s": 20 * 86400,
        },
        {
            "account_name": OTHER_ACCOUNT,
            "upgrade_id": THIRD,
            "stuck": 2,
            "oldest_status_since": "2026-11-06T02:00:00.000Z",
            "longest_stuck_for_s": 20 * 86400,
        },
    ]
    # The counts are summary --state's, device for device.
    listed = json_lines(stuck(capsys, fleet, "--format", "json")[1])
    assert sum(line["stuck"] for line in json_lines(out)) == len(listed)


def test_by_campaign_takes_limit_and_status_and_ties_go_to_the_oldest(capsys, fleet):
    _, first, _ = stuck(capsys, fleet, "--by", "campaign", "--format", "json", "--limit", "1")
    _, queued, _ = stuck(
        capsys, fleet, "--by", "campaign", "--format", "json", "--status", "Queued"
    )
    _, none, _ = stuck(capsys, fleet, "--by", "campaign", "--format", "json", "--status", "X")

    assert [line["upgrade_id"] for line in json_lines(first)] == [UPGRADE]
    # Queued only: OTHER_UPGRADE 2 (f-20d, g-10d), THIRD 1 (h-20d); UPGRADE has none.
    assert [(line["upgrade_id"], line["stuck"]) for line in json_lines(queued)] == [
        (OTHER_UPGRADE, 2),
        (THIRD, 1),
    ]
    assert none == ""


def test_by_campaign_on_a_terminal_is_a_table_with_its_totals(capsys, fleet, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)

    code, out, _ = stuck(capsys, fleet, "--by", "campaign")

    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == [
        "ACCOUNT",
        "UPGRADE",
        "ID",
        "STUCK",
        "OLDEST",
        "SINCE",
        "STUCK",
        "FOR",
    ]
    assert lines[1].split() == [ACCOUNT, UPGRADE, "3", "2026-11-14T02:00:00.000Z", "12d", "00h"]
    assert lines[1][: lines[0].index("STUCK") + len("STUCK")].endswith(" 3")  # right-aligned
    assert lines[-1] == "3 campaigns, 7 stuck devices"


@pytest.mark.parametrize("limit", ["0", "-3"])
@pytest.mark.parametrize("by", ["device", "campaign"])
def test_a_limit_that_lists_nothing_is_one_line_and_exit_2(capsys, fleet, limit, by):
    code, out, err = stuck(capsys, fleet, "--limit", limit, "--by", by)

    assert code == 2
    assert out == ""
    assert len(err) == 1, err
    assert err[0].startswith(f"fota-poller: --limit: {limit} lists nothing")
