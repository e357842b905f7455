"""report/history.py, the one door to part A's history (issue 22's contract): read through it
when the package has `fota_poller.state.history`, "no history" when it has not, and a
failure in it as one line, never a traceback nor a made-up night."""

from __future__ import annotations

import sqlite3
import sys
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from helpers import ACCOUNT, UPGRADE, write_campaign

from fota_poller.cli import main
from fota_poller.errors import StateError
from fota_poller.model.records import CampaignRecord, RunRecord
from fota_poller.report import history
from fota_poller.report.history import (
    HISTORY_MODULE,
    NO_HISTORY,
    CampaignNight,
    CampaignTrend,
    FleetNight,
    Transition,
    read_history,
)
from fota_poller.state.schema import open_database


class PartANight(msgspec.Struct, frozen=True):
    """A class of part A's own, with the contract's fields: not the mirror's class."""

    run_id: str
    polled_at: str
    devices: int
    succeeded: int
    failed: int
    pending: int
    unknown: int
    on_target: int | None
    late: int | None
    moved: int


class PartATrend(msgspec.Struct, frozen=True):
    account_name: str
    upgrade_id: str
    succeeded_delta: int | None
    nights_without_progress: int
    projected_finish: str | None
    stalled: bool
    nights: list[PartANight]


class PartAFleetNight(msgspec.Struct, frozen=True):
    run_id: str
    polled_at: str
    devices: int
    succeeded: int
    failed: int
    pending: int
    unknown: int
    on_target: int | None
    late: int | None


class PartATransition(msgspec.Struct, frozen=True):
    from_status: str | None
    to_status: str | None
    count: int


def three_nights() -> list[PartANight]:
    return [
        PartANight(f"run-{n}", f"2026-12-0{n + 1}T02:00:00.000Z", 4, n, 1, 3 - n, 0, None, None, 1)
        for n in range(3)
    ]


def install_part_a(monkeypatch: pytest.MonkeyPatch, calls: list[object], **failing: object):
    """A stand-in `fota_poller.state.history` answering the contract's three reads."""
    module = types.ModuleType(HISTORY_MODULE)

    def read_trends(connection: sqlite3.Connection, *, nights: int, stalled_after: int):
        calls.append(("trends", nights, stalled_after))
        if "trends" in failing:
            raise failing["trends"]  # type: ignore[misc]
        kept = three_nights()
        return [PartATrend(ACCOUNT, UPGRADE, 1, 0, "2026-12-20", stalled=False, nights=kept)]

    def read_fleet_nights(connection: sqlite3.Connection, *, nights: int):
        calls.append(("fleet", nights))
        fleet = [PartAFleetNight(f"run-{n}", "2026-12-01T02:00:00.000Z", 4, n, 1, 3 - n, 0, None,
                                 None) for n in range(3)]  # fmt: skip
        return failing.get("fleet", fleet)

    def read_transitions(connection: sqlite3.Connection):
        calls.append(("transitions",))
        return {(ACCOUNT, UPGRADE): [PartATransition("RequestPending", "UpgradeSuccess", 1)]}

    module.read_trends = read_trends  # type: ignore[attr-defined]
    module.read_fleet_nights = read_fleet_nights  # type: ignore[attr-defined]
    module.read_transitions = read_transitions  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, HISTORY_MODULE, module)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    since = datetime.now(UTC) - timedelta(days=9)
    write_campaign(path, ACCOUNT, UPGRADE, [("d1", "RequestPending", None, since)])
    return path


def read(path: Path, *, nights: int = 30, stalled_after: int = 3) -> history.History:
    connection = open_database(path, read_only=True)
    try:
        return read_history(connection, path, nights=nights, stalled_after=stalled_after)
    finally:
        connection.close()


def test_without_part_as_module_no_history_is_known(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a package without the module: its import fails naming the module itself.
    monkeypatch.setitem(sys.modules, HISTORY_MODULE, None)

    assert read(state) is NO_HISTORY
    assert not NO_HISTORY.known


def test_part_as_values_are_read_as_the_contracts(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    install_part_a(monkeypatch, calls)

    found = read(state, nights=12, stalled_after=4)

    assert calls == [("trends", 12, 4), ("fleet", 12), ("transitions",)]
    assert found.known
    (trend,) = found.trends
    assert isinstance(trend, CampaignTrend)
    assert isinstance(trend.nights[0], CampaignNight)
    assert msgspec.structs.asdict(trend.nights[2]) == msgspec.structs.asdict(three_nights()[2])
    assert all(isinstance(night, FleetNight) for night in found.fleet)
    assert found.transitions == {
        (ACCOUNT, UPGRADE): [Transition("RequestPending", "UpgradeSuccess", 1)]
    }


def test_an_sqlite_error_in_the_history_is_the_state_databases_one_line(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_part_a(
        monkeypatch, [], trends=sqlite3.DatabaseError("database disk image is malformed")
    )

    with pytest.raises(StateError, match=r"state database .*state.db is corrupt"):
        read(state)


def test_values_that_break_the_contract_are_named_not_drawn(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_part_a(monkeypatch, [], fleet=[{"run_id": "r", "devices": "many"}])

    with pytest.raises(StateError, match="its history does not read"):
        read(state)


def test_a_missing_import_inside_part_as_module_is_not_taken_for_no_history(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def import_module(name: str) -> types.ModuleType:
        raise ModuleNotFoundError("No module named 'numpy'", name="numpy")

    monkeypatch.setattr(history.importlib, "import_module", import_module)

    with pytest.raises(ModuleNotFoundError, match="numpy"):
        read(state)


def test_the_report_draws_part_as_history_through_the_cli(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    install_part_a(monkeypatch, calls)
    fields: dict[str, object] = dict.fromkeys(CampaignRecord.__struct_fields__)
    fields.update(
        run_id="r", outcome="ok", attempts=1, account_name=ACCOUNT, upgrade_id=UPGRADE,
        device_count=1, device_status_counts={"RequestPending": 1},
        device_phase_counts={"pending": 1}, devices_duplicate=0,
    )  # fmt: skip
    run = RunRecord(
        "r", 2, "2026-11-26T02:00:00.000Z", "2026-11-26T02:05:00.000Z", 300.0, 1, 1, 0, 1, 1, 0,
        complete=True, exit_code=0,
    )  # fmt: skip
    records = tmp_path / "night.jsonl"
    records.write_bytes(
        msgspec.json.encode(CampaignRecord(**fields)) + b"\n" + msgspec.json.encode(run)  # type: ignore[arg-type]
    )
    page = tmp_path / "report.html"

    command = ["report", str(records), "--state", str(state), "-o", str(page), "--nights", "9"]
    assert main(command) == 0

    html = page.read_text()
    assert calls[0] == ("trends", 9, 3)
    assert html.count('<svg class="fleet"') == 1
    assert html.count('<svg class="spark"') == 1
    assert "<td>+1</td><td>2026-12-20</td><td>moving</td>" in html
    assert '<tr class="moved">' in html
    assert "No history yet" not in html
