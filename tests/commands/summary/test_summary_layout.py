"""`summary`'s table at a terminal's width: every number of the narrow layout visible at 80
columns (a real pty, as an operator's terminal), `--wide` whole, and its worst nights: no
campaign, ids shorter than the cut or made of wide and control characters."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from helpers import (
    ACCOUNT,
    OTHER_ACCOUNT,
    clean_environ,
    run_cli,
    run_on_a_terminal,
    write_campaign,
)
from rich.cells import cell_len

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
NOW = datetime.now(UTC)
RUN = {"record": "run", "run_id": "run-1", "complete": True, "exit_code": 0}


def upgrade_id(number: int) -> str:
    return f"{number:08x}-1e2f-4a3b-8c4d-5e6f7a8b9c0d"


def campaign(number: int, account: str = ACCOUNT, **changes: object) -> dict[str, object]:
    """A schema-3 campaign line with an inventory and moves: every column of the table."""
    devices = 20 + (number * 7919) % 48000  # up to five digits
    failed, late = (number * 31) % (devices // 3), number % 50
    pending = (devices - failed) // (2 + number % 3)
    line: dict[str, object] = {
        "record": "campaign",
        "run_id": "run-1",
        "outcome": "ok",
        "account_name": account,
        "upgrade_id": upgrade_id(number),
        "campaign_status": ("UpgradeInProgress", "RequestPending", "Queued")[number % 3],
        "firmware_to": f"VerizonFirmwareVersion-{number:02d}",
        "campaign_ended": False,
        "device_count": devices,
        "device_status_counts": {"UpgradeSuccess": devices - failed - pending},
        "device_phase_counts": {
            "succeeded": devices - failed - pending,
            "failed": failed,
            "pending": pending,
        },
        "devices_new": number * 13 % 400,
        "devices_changed": number * 97 % 2000,
        "devices_gone": number % 7,
        "inventory": "ok",
        "devices_on_target": devices - failed - pending + late,
        "devices_late": late,
        "devices_not_in_inventory": 0,
    }
    line.update(changes)
    return line


def write_night(path: Path, campaigns: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(msgspec.json.encode(c) + b"\n" for c in [*campaigns, RUN]))
    return path


@pytest.fixture(scope="module")
def full_night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Twelve campaigns of one account with every column, and a state with stuck devices."""
    folder = tmp_path_factory.mktemp("layout")
    state = folder / "state.db"
    for number in (1, 4, 9):
        since = NOW - timedelta(days=10 + number)
        devices = [(f"imei-{n}", "RequestPending", None, since) for n in range(number * 37)]
        write_campaign(state, ACCOUNT, upgrade_id(number), devices, f"run-{number}")
    night = write_night(folder / "night.jsonl", [campaign(n) for n in range(1, 13)])
    return night, state


def on_a_terminal(*args: str, columns: int) -> list[str]:
    """`summary ARGS` on a pty `columns` wide: the lines it showed, styles taken out."""
    env = {**clean_environ(), "TERM": "xterm-256color"}
    env.pop("COLUMNS", None)
    argv = [sys.executable, "-m", "fota_poller", "summary", *args]
    code, shown = run_on_a_terminal(argv, env, stderr=False, rows=60, columns=columns)
    assert code == 0, shown.decode()
    return ANSI.sub("", shown.decode()).replace("\r\n", "\n").splitlines()


def campaign_rows(lines: list[str]) -> list[str]:
    """The campaigns table's rows: after its header and rule, up to the blank line."""
    header = next(i for i, line in enumerate(lines) if re.match(r"\s*(account|upgrade)\s", line))
    rows = []
    for line in lines[header + 2 :]:
        if not line.strip() or line.startswith("accounts: "):  # the end, or the legend
            break
        rows.append(line)
    return rows


def expected_numbers(row: dict[str, object]) -> list[str]:
    """The numbers a campaign's row shows, in the columns' order (a zero shows blank)."""
    share = row["succeeded_share"]
    cells = [
        str(row["devices"]),
        f"{share:.1%}" if isinstance(share, float) else "",
        str(row["failed"] or ""),
        str(row["pending"] or ""),
        *(str(row[key]) for key in ("devices_new", "devices_changed", "devices_gone")),
        str(row["stuck"] or ""),
        str(row["devices_late"] or ""),
    ]
    return [cell for cell in cells if cell]


def json_rows(*args: str) -> list[dict[str, object]]:
    done = run_cli(["summary", "--format", "json", *args])
    assert done.returncode == 0, done.stderr.decode()
    rows = json.loads(done.stdout)["rows"]
    assert isinstance(rows, list)
    return rows


@pytest.mark.parametrize("columns", [80, 120])
def test_every_number_of_the_default_table_is_visible_on_a_terminal(
    full_night: tuple[Path, Path], columns: int
) -> None:
    night, state = full_night
    lines = on_a_terminal(str(night), "--state", str(state), columns=columns)
    truth = json_rows(str(night), "--state", str(state))

    assert all(cell_len(line) <= columns for line in lines)
    # One account: named once, in the title, and no account column.
    header_at = next(i for i, line in enumerate(lines) if line.startswith("upgrade "))
    title = " ".join(line.strip() for line in lines[:header_at])  # wrapped at 80
    assert title == f"campaigns of account {ACCOUNT}, worst failed share first (12 of 12 shown)"
    header = lines[header_at].split()
    assert "account" not in header
    for name in ("devices", "failed", "pending", "new", "changed", "gone", "stuck", "late"):
        assert name in header
    rows = campaign_rows(lines)
    assert len(rows) == len(truth) == 12
    assert sum(bool(row["stuck"]) for row in truth) == 3  # the stuck column is not all blank
    for shown, row in zip(rows, truth, strict=True):
        assert isinstance(row["upgrade_id"], str)
        assert shown.split()[0] == row["upgrade_id"][:8]  # worst first, as JSON has them
        numbers = expected_numbers(row)
        assert shown.split()[-len(numbers) :] == numbers, shown
        assert "…" not in shown.split()[-len(numbers) :]
    if any("…" in row for row in rows):  # a text was cut: no cell of the terminal left unused
        assert max(cell_len(row.rstrip()) for row in rows) == columns
    if columns == 120:  # room for the text too
        assert all("VerizonFirmwareVersion-" in row for row in rows)
        assert any("UpgradeInProgress" in row for row in rows)


def test_several_accounts_get_the_account_column_and_still_every_number_at_80(
    tmp_path: Path,
) -> None:
    lines_in = [campaign(n, (ACCOUNT, OTHER_ACCOUNT)[n % 2]) for n in range(1, 9)]
    for line in lines_in:  # a night without --state nor --inventory: the default columns
        for key in ("devices_new", "devices_changed", "devices_gone", "inventory"):
            line.pop(key)
        for key in ("devices_on_target", "devices_late", "devices_not_in_inventory"):
            line.pop(key)
    night = write_night(tmp_path / "night.jsonl", lines_in)

    lines = on_a_terminal(str(night), columns=80)
    truth = json_rows(str(night))

    assert lines[0].startswith("campaigns, worst failed share first (8 of 8 shown)")
    assert lines[1].split()[:2] == ["account", "upgrade"]
    for shown, row in zip(campaign_rows(lines), truth, strict=True):
        assert isinstance(row["upgrade_id"], str)
        assert shown.split()[:2] == [row["account_name"], row["upgrade_id"][:8]]
        numbers = [str(row["devices"]), f"{row['succeeded_share']:.1%}"]
        numbers += [str(row[key]) for key in ("failed", "pending") if row[key]]
        assert shown.split()[-len(numbers) :] == numbers
        assert cell_len(shown) <= 80


def test_wide_shows_whole_ids_the_account_and_ended(full_night: tuple[Path, Path]) -> None:
    night, state = full_night
    lines = on_a_terminal(str(night), "--state", str(state), "--wide", columns=200)
    truth = json_rows(str(night), "--state", str(state))

    assert lines[0].startswith("campaigns, worst failed share first (12 of 12 shown)")
    header = next(line for line in lines if line.strip().startswith("account"))
    assert header.split()[:4] == ["account", "upgrade", "firmware", "status"]
    assert "ended" in header.split()
    body = "\n".join(lines)
    for row in truth:
        assert isinstance(row["upgrade_id"], str)
        assert f"{row['account_name']}   {row['upgrade_id']}" in body


def test_a_table_written_to_a_file_is_the_wide_layout(full_night: tuple[Path, Path]) -> None:
    night, _ = full_night
    done = run_cli(["summary", str(night), "--format", "table"])
    assert done.returncode == 0
    assert upgrade_id(1) in done.stdout.decode()  # whole, as before: a file is not a terminal


def test_a_night_of_no_campaign_is_an_empty_table_not_an_error(tmp_path: Path) -> None:
    night = write_night(tmp_path / "empty.jsonl", [])
    lines = on_a_terminal(str(night), columns=80)
    assert lines[0].rstrip() == "campaigns, worst failed share first (0 of 0 shown)"
    assert campaign_rows(lines) == []
    assert "campaigns: 0, 0 polled, 0 failed" in lines


def test_short_wide_and_control_character_ids_are_escaped_and_the_columns_stay_aligned(
    tmp_path: Path,
) -> None:
    hostile = {
        "abc": "abc",  # shorter than the cut: shown whole
        "升级升级升级-1": "升级升级",  # wide characters: 8 cells, 4 characters
        "\x1b[2Jabcdef": "\\x1b[2Ja",  # the escape escaped, then cut to 8 cells
        "ab\u2028cdefgh": "ab\\u2028",
    }
    lines_in = [campaign(n, upgrade_id=upgrade) for n, upgrade in enumerate(hostile, 1)]
    night = write_night(tmp_path / "night.jsonl", lines_in)

    lines = on_a_terminal(str(night), columns=80)
    rows = campaign_rows(lines)
    text = "\n".join(lines)

    assert "\x1b" not in text
    assert "\u2028" not in text
    assert sorted(row.split()[0] for row in rows) == sorted(hostile.values())
    # Every row's number columns end at the same cell: the wide characters took their width.
    ends = {cell_len(row.rstrip()) for row in rows}
    assert len(ends) == 1, rows
    # And the column after the ids starts at one cell in every row.
    starts = set()
    for row in rows:
        after_id = row[len(row.split()[0]) :]
        starts.add(cell_len(row[: len(row) - len(after_id.lstrip())]))
    assert len(starts) == 1, rows


def test_several_accounts_with_every_column_are_numbered_and_named_below_at_80(
    full_night: tuple[Path, Path], tmp_path: Path
) -> None:
    _, state = full_night
    lines_in = [campaign(n, (ACCOUNT, OTHER_ACCOUNT)[n % 2]) for n in range(1, 9)]
    night = write_night(tmp_path / "night.jsonl", lines_in)

    lines = on_a_terminal(str(night), "--state", str(state), columns=80)
    truth = json_rows(str(night), "--state", str(state))

    rows = campaign_rows(lines)
    # Numbered in the order they first appear, worst first.
    first, second = dict.fromkeys(str(row["account_name"]) for row in truth)
    numbers = {first: "#1", second: "#2"}
    for shown, row in zip(rows, truth, strict=True):
        assert isinstance(row["upgrade_id"], str)
        assert shown.split()[:2] == [numbers[row["account_name"]], row["upgrade_id"][:8]]
        expected = expected_numbers(row)
        assert shown.split()[-len(expected) :] == expected
        assert cell_len(shown) <= 80
    legend = " ".join(line.strip() for line in lines[lines.index(rows[-1]) + 1 :][:3])
    assert legend.startswith(f"accounts: #1 {first}, #2 {second}")
