"""Issue 21, acceptance 3: late successes in the change feed, and `state stuck`, over nights.

Two nights of `poll --inventory --state --emit changes` through the CLI against the evolving
simulator: every late success that appeared between the nights (computed from the
simulator's truth of day 0 and day 1, never from the poller's output) is reported exactly
once, as `changed` (its `previous_status` its status, when only `on_target` moved); a third
night on the same day reports nothing; `state stuck --for 1d` lists no device on target.
The worst night: a night between them without the inventory changes nothing and forgets
nothing, and the next night with it reports the late successes it missed, once.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from helpers import ACCOUNT, OTHER_ACCOUNT, assert_calm, poll_cli, token_environ

from fota_poller.cli import main
from fota_poller.model.phases import PhaseTable
from fota_poller.simulator import (
    EvolveOptions,
    InventoryOptions,
    RunningSimulator,
    SimulatorOptions,
    run_simulator,
)
from fota_poller.state import queries

OPTIONS = SimulatorOptions(
    campaigns=40,
    devices_min=5,
    devices_max=30,
    accounts=(ACCOUNT, OTHER_ACCOUNT),
    evolve=EvolveOptions(seed=5, share=0.2),
    inventory=InventoryOptions(late_share=0.2, page_size=200, extra_devices=5),
)
Key = tuple[str, str]  # (upgrade id, device id)


def truth_on(simulator: RunningSimulator, day: int) -> dict[Key, tuple[str, bool, bool]]:
    """(status, on target, late) of every campaign device on `day`, from the catalogue."""
    truth = {}
    for account, upgrade_id in simulator.catalog.ids():
        judged = simulator.inventory.campaign_truth(account, upgrade_id, day=day)
        for imei, device in judged.items():
            truth[upgrade_id, imei] = (device.status, device.on_target, device.late)
    return truth


async def night(
    simulator: RunningSimulator, tmp_path: Path, name: str, *flags: str
) -> list[dict[str, object]]:
    """One `poll --state --emit changes` run: its device records."""
    out = tmp_path / f"{name}.jsonl"
    result = await poll_cli(
        simulator, tmp_path / "ids.txt", "--state", str(tmp_path / "state.db"),
        "--emit", "changes", "--rate", "0", "-o", str(out), *flags,
        env=token_environ(OPTIONS),
    )  # fmt: skip
    assert_calm(result.stderr)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    records = [json.loads(line) for line in out.read_bytes().splitlines()]
    return [record for record in records if record["record"] == "device"]


def became_late(
    before: dict[Key, tuple[str, bool, bool]], after: dict[Key, tuple[str, bool, bool]]
):
    """The devices late on the second day that were not known on target on the first."""
    return {
        key for key, (_, _, late) in after.items()
        if late and not (key in before and before[key][1])
    }  # fmt: skip


def assert_reported_once(
    devices: list[dict[str, object]],
    appeared: set[Key],
    after: dict[Key, tuple[str, bool, bool]],
    stored: dict[Key, str],
) -> None:
    """Each of `appeared` is one line: `changed` (from its status as `stored`), or `new`;
    a change of `on_target` alone (the status as stored) is one of them and none other."""
    lines: dict[Key, list[dict[str, object]]] = {}
    for record in devices:
        lines.setdefault((record["upgrade_id"], record["device_id"]), []).append(record)
    assert all(len(found) == 1 for found in lines.values())
    for key in appeared:
        (record,) = lines[key]
        assert (record["status"], record["on_target"]) == (after[key][0], True)
        if key in stored:
            assert (record["change"], record["previous_status"]) == ("changed", stored[key])
        else:
            assert record["change"] == "new"
    only_on_target = {
        key for key, (record,) in lines.items()
        if record["change"] == "changed" and record["previous_status"] == record["status"]
    }  # fmt: skip
    assert only_on_target == {key for key in appeared if stored.get(key) == after[key][0]}
    assert only_on_target  # the test is not passing on an empty night


def stuck_a_day(path: Path, monkeypatch, capsys) -> set[Key]:
    """`state stuck --for 1d`, asked two days after the nights (they ran just now)."""
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    monkeypatch.setattr(queries, "utc_now", lambda: later)
    capsys.readouterr()
    assert main(["state", "stuck", "--state", str(path), "--for", "1d", "--format", "json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return {(device["upgrade_id"], device["device_id"]) for device in listed}


def stuck_truth(after: dict[Key, tuple[str, bool, bool]]) -> set[Key]:
    """Devices of a pending or unknown phase, not on target."""
    phases = PhaseTable()
    return {
        key for key, (status, on_target, _) in after.items()
        if phases.phase(status) in {"pending", "unknown"} and not on_target
    }  # fmt: skip


async def test_a_late_success_is_changed_exactly_once_and_never_stuck(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    async with run_simulator(OPTIONS) as simulator:
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        await night(simulator, tmp_path, "night-1", "--inventory")
        simulator.catalog.advance_day()
        second = await night(simulator, tmp_path, "night-2", "--inventory")
        third = await night(simulator, tmp_path, "night-3", "--inventory")
        before, after = truth_on(simulator, 0), truth_on(simulator, 1)

    appeared = became_late(before, after)
    assert len(appeared) >= 10
    assert_reported_once(second, appeared, after, {key: v[0] for key, v in before.items()})
    assert third == []  # the same day again: nothing is told twice

    stuck = stuck_a_day(tmp_path / "state.db", monkeypatch, capsys)
    assert not {key for key in stuck if after[key][1]}
    assert stuck == stuck_truth(after)
    # Some devices on target are pending: `stuck` is leaving them out, not finding none.
    assert any(late for _, _, late in after.values())


async def test_a_night_without_the_inventory_forgets_nothing_and_the_next_tells_once(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    async with run_simulator(OPTIONS) as simulator:
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        await night(simulator, tmp_path, "night-1", "--inventory")
        simulator.catalog.advance_day()
        blind = await night(simulator, tmp_path, "night-2")
        stuck_blind = stuck_a_day(tmp_path / "state.db", monkeypatch, capsys)
        third = await night(simulator, tmp_path, "night-3", "--inventory")
        before, after = truth_on(simulator, 0), truth_on(simulator, 1)

    # Without the list: status changes only, each device's on_target null and none flipped.
    assert all(record["on_target"] is None for record in blind)
    assert all(
        record["previous_status"] != record["status"]
        for record in blind
        if record["change"] == "changed"
    )
    # What night 1 knew on target is still left out of `stuck`.
    assert not {key for key in stuck_blind if before.get(key, ("", False))[1]}
    # The list is back: the late successes of the day it missed are told now, once.
    appeared = became_late(before, after)
    # Night 2 stored each device's status of day 1: only on_target moves tonight.
    assert_reported_once(third, appeared, after, {key: v[0] for key, v in after.items()})
    assert stuck_a_day(tmp_path / "state.db", monkeypatch, capsys) == stuck_truth(after)
