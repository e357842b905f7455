"""`summary --sort`: each order on campaigns made to tie, the stalled ones through the one
adapter to the state's history (hand-made `CampaignTrend`s, as the history module will give
them), and 10,000 campaigns read as a stream in flat memory."""

from __future__ import annotations

import json
import random
import re
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from helpers import ACCOUNT, OTHER_ACCOUNT, run_cli, write_campaign

from fota_poller.cli import main
from fota_poller.commands import summary as summary_command
from fota_poller.model.phases import PhaseTable
from fota_poller.state import night_report
from fota_poller.state.history import CampaignNight, CampaignTrend
from fota_poller.summary import order, stalls
from fota_poller.summary.night import Night

RUN = {"record": "run", "run_id": "run-1", "complete": True, "exit_code": 0}


def trend(upgrade: str, nights_without_progress: int, *, stalled: bool) -> CampaignTrend:
    night = CampaignNight("run-1", "2026-12-01T02:00:00.000Z", 10, 5, 1, 4, 0, None, None, 0)
    return CampaignTrend(ACCOUNT, upgrade, 0, nights_without_progress, None, stalled, [night])


def line(upgrade: str, devices: int, failed: int, pending: int, **changes: object) -> bytes:
    fields: dict[str, object] = {
        "record": "campaign",
        "run_id": "run-1",
        "outcome": "ok",
        "account_name": ACCOUNT,
        "upgrade_id": upgrade,
        "device_count": devices,
        "device_phase_counts": {
            "succeeded": devices - failed - pending,
            "failed": failed,
            "pending": pending,
        },
    }
    fields.update(changes)
    return msgspec.json.encode(fields) + b"\n"


# Made to tie: A and G tie on everything but the account; A, B and E share 10% failed;
# C is under 20 devices (its share counts as 0); F's poll failed; H has no device.
CAMPAIGNS = (
    line("A", 100, 10, 5),
    line("B", 40, 4, 30),
    line("C", 19, 15, 0),
    line("D", 1000, 50, 900),
    line("E", 20, 2, 2),
    line("F", 0, 0, 0, outcome="failed", error_kind="timeout"),
    line("G", 100, 10, 5, account_name=OTHER_ACCOUNT),
    line("H", 0, 0, 0),
)
# E stalled for 4 nights, B for 3; D has not moved for 2 nights (not stalled); the rest moved.
TRENDS = [
    trend("E", 4, stalled=True),
    trend("B", 3, stalled=True),
    trend("D", 2, stalled=False),
    trend("A", 0, stalled=False),
]
EXPECTED = {
    "failed-share": ["F", "A", "G", "B", "E", "D", "C", "H"],
    "failed": ["F", "D", "C", "A", "G", "B", "E", "H"],
    "pending": ["F", "E", "B", "D", "A", "G", "C", "H"],
    "stalled": ["F", "E", "B", "D", "A", "G", "C", "H"],
}


@pytest.fixture
def night(tmp_path: Path) -> Path:
    path = tmp_path / "night.jsonl"
    path.write_bytes(b"".join(CAMPAIGNS) + msgspec.json.encode(RUN) + b"\n")
    return path


@pytest.fixture
def history(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, list[dict]]:
    """A state database whose history says TRENDS (the trends read, as asked, recorded)."""
    state = tmp_path / "state.db"
    write_campaign(state, ACCOUNT, "A", [("imei-1", "UpgradeSuccess", None, datetime.now(UTC))])
    asked: list[dict] = []

    def read_trends(connection: object, *, nights: int, stalled_after: int) -> list:
        asked.append({"nights": nights, "stalled_after": stalled_after})
        return TRENDS

    monkeypatch.setattr(night_report, "read_trends", read_trends)
    return state, asked


def upgrades(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["summary", *args, "--format", "json"]) == 1  # F's poll failed
    return [row["upgrade_id"] for row in json.loads(capsys.readouterr().out)["rows"]]


@pytest.mark.parametrize("sort", ["failed-share", "failed", "pending"])
def test_each_order_with_its_ties_and_the_default(
    capsys: pytest.CaptureFixture[str], night: Path, history: tuple[Path, list[dict]], sort: str
) -> None:
    state, _ = history
    without_history = EXPECTED[sort]
    if sort == "pending":  # stalled first among the pending: known only from the history
        without_history = ["F", "D", "B", "A", "G", "E", "C", "H"]
    assert upgrades(capsys, str(night), "--sort", sort, "--state", str(state)) == EXPECTED[sort]
    assert upgrades(capsys, str(night), "--sort", sort) == without_history
    # A limit keeps the first of the same order (pruned as the rows stream in).
    assert upgrades(capsys, str(night), "--sort", sort, "--limit", "3") == without_history[:3]
    if sort == "failed-share":
        assert upgrades(capsys, str(night)) == without_history  # the default


def test_stalled_comes_from_the_history_longest_first_then_the_default_order(
    capsys: pytest.CaptureFixture[str], night: Path, history: tuple[Path, list[dict]]
) -> None:
    state, asked = history

    assert (
        upgrades(capsys, str(night), "--sort", "stalled", "--state", str(state))
        == (EXPECTED["stalled"])
    )
    limited = upgrades(
        capsys, str(night), "--sort", "stalled", "--state", str(state), "--limit", "2"
    )
    assert limited == ["F", "E"]
    # Once per summary, with the configured `phases.stalled_after` (3 by default).
    assert [ask["stalled_after"] for ask in asked] == [3, 3]


def test_a_state_without_history_has_every_campaign_read_as_not_stalled(
    capsys: pytest.CaptureFixture[str], night: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    write_campaign(state, ACCOUNT, "A", [("imei-1", "UpgradeSuccess", None, datetime.now(UTC))])
    assert (
        upgrades(capsys, str(night), "--sort", "stalled", "--state", str(state))
        == (EXPECTED["failed-share"])
    )


def test_the_campaigns_standing_still_are_kept_from_the_trends() -> None:
    found = stalls.stalls_of(TRENDS)
    assert found == {
        (ACCOUNT, "E"): stalls.Stall(stalled=True, nights_without_progress=4),
        (ACCOUNT, "B"): stalls.Stall(stalled=True, nights_without_progress=3),
        (ACCOUNT, "D"): stalls.Stall(stalled=False, nights_without_progress=2),
    }  # A moved last night: no entry, it reads as NOT_STALLED


def _table_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, columns: int, *argv: str
) -> tuple[list[str], int]:
    """`fota-poller ARGV` on a terminal `columns` wide: its lines, and its header's index."""
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("NO_COLOR", "1")
    main(list(argv))
    lines = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out).splitlines()
    return lines, next(i for i, text in enumerate(lines) if text.lstrip().startswith("account "))


def test_the_table_marks_the_stalled_campaigns_with_their_nights(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    night: Path,
    history: tuple[Path, list[dict]],
) -> None:
    state, _ = history
    lines, header_at = _table_on_a_terminal(
        capsys, monkeypatch, 80, "summary", str(night), "--state", str(state), "--sort", "stalled"
    )

    assert lines[header_at].split()[-1] == "stalled"
    rows = {text.split()[1]: text for text in lines[header_at + 2 : header_at + 10]}
    assert rows["E"].split()[-1] == "4"
    assert rows["B"].split()[-1] == "3"
    assert rows["D"].split()[-1] != "2"  # standing still, not stalled: no mark
    assert all(len(text) <= 80 for text in lines)


def test_sort_names_its_order_in_the_title(capsys: pytest.CaptureFixture[str], night: Path) -> None:
    main(["summary", str(night), "--sort", "pending", "--format", "table"])
    assert "campaigns, most pending first (8 of 8 shown)" in capsys.readouterr().out


def test_the_sorts_the_command_offers_are_the_orders(capsys: pytest.CaptureFixture[str]) -> None:
    assert summary_command._SORTS == order.SORTS


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--sort", "stalled"], "--sort stalled reads the state database's history"),
        (["--by", "model", "--sort", "failed"], "--by model has its own order"),
    ],
)
def test_a_sort_that_cannot_be_is_one_line_and_exit_2(
    night: Path, args: list[str], says: str
) -> None:
    done = run_cli(["summary", str(night), *args])
    assert done.returncode == 2
    assert done.stdout == b""
    err = done.stderr.decode().splitlines()
    assert len(err) == 1, err
    assert says in err[0]


def many_campaigns(path: Path, count: int) -> list[bytes]:
    draw = random.Random(count)
    lines = []
    for number in range(count):
        devices = draw.choice((5, 19, 20, 21, 100, 400))
        failed = draw.randrange(devices // 2 + 1)
        pending = draw.randrange(devices - failed + 1)
        lines.append(line(f"{number:08x}-0000-4000-8000-000000000000", devices, failed, pending))
    path.write_bytes(b"".join(lines) + msgspec.json.encode(RUN) + b"\n")
    return lines


def peak_of_summary(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    tracemalloc.start()
    try:
        main(["summary", *args, "--format", "json"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, [row["upgrade_id"] for row in json.loads(capsys.readouterr().out)["rows"]]


def reference(lines: list[bytes], sort: str) -> list[str]:
    rows = [msgspec.json.decode(text) for text in lines]

    def key(row: dict) -> tuple:
        devices, phases = row["device_count"], row["device_phase_counts"]
        failed, pending, upgrade = phases["failed"], phases["pending"], row["upgrade_id"]
        if sort == "failed-share":
            share = failed / devices if devices >= 20 else 0.0
            return (-share, -failed, -pending, upgrade)
        if sort == "failed":
            return (-failed, -pending, upgrade)
        return (pending == 0, -pending, -failed, upgrade)

    return [row["upgrade_id"] for row in sorted(rows, key=key)]


@pytest.mark.parametrize("sort", ["failed-share", "failed", "pending"])
def test_ten_thousand_campaigns_stream_in_flat_memory_in_each_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sort: str
) -> None:
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    many_campaigns(small, 2_500)
    lines = many_campaigns(large, 10_000)

    small_peak, _ = peak_of_summary(capsys, str(small), "--sort", sort, "--limit", "50")
    large_peak, worst = peak_of_summary(capsys, str(large), "--sort", sort, "--limit", "50")

    assert worst == reference(lines, sort)[:50]
    # Four times the campaigns, not four times the memory: at most a prune's worth of rows.
    assert large_peak < 2 * small_peak, (small_peak, large_peak)


def test_the_table_shows_each_campaigns_succeeded_since_last_night_and_its_finish(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    night: Path,
    history: tuple[Path, list[dict]],
) -> None:
    state, _ = history
    moving = [
        CampaignTrend(ACCOUNT, "A", 12, 0, "2027-01-09", stalled=False, nights=[]),
        CampaignTrend(ACCOUNT, "D", -3, 0, None, stalled=False, nights=[]),
    ]
    monkeypatch.setattr(night_report, "read_trends", lambda *_args, **_kwargs: moving)
    for columns, finish in ((80, "01-09"), (200, "2027-01-09")):
        args = ["summary", str(night), "--state", str(state)]
        wide = [] if columns == 80 else ["--wide"]
        lines, header_at = _table_on_a_terminal(capsys, monkeypatch, columns, *args, *wide)
        assert lines[header_at].split()[-2:] == ["ok", "finish"]  # `Δ ok`, `finish`
        rows = {text.split()[1]: text.split() for text in lines[header_at + 2 : header_at + 10]}
        assert rows["A"][-2:] == ["+12", finish]
        assert rows["D"][-1] == "-3"  # no finish known: the cell is blank
        assert all(len(text) <= columns for text in lines)


def test_a_night_read_without_an_order_is_in_summarys_default_one() -> None:
    # `report` reads its campaigns so: its page lists them as `summary` does.
    assert Night(PhaseTable()).key is order.sort_key(order.DEFAULT_SORT, {})
