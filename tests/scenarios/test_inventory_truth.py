"""Issue 21, acceptance 1: `poll --inventory` against the simulator's own truth.

The simulator is set to have late successes (devices on target in ended campaigns whose
status is not a success), several models and one that fails far more often. The truth is
computed from its catalogue (`simulator.inventory`), never from the poller's output: every
device record's inventory fields, each campaign's late successes and models, and `summary
--by model`'s rows must equal it, the failing model first.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import anyio
from helpers import ACCOUNT, OTHER_ACCOUNT, assert_calm, poll_cli, token_environ

from fota_poller.model.phases import PHASES, PhaseTable
from fota_poller.model.timestamps import format_timestamp
from fota_poller.simulator import InventoryOptions, SimulatorOptions, run_simulator
from fota_poller.simulator.inventory import FAILING_MODEL

ACCOUNTS = (ACCOUNT, OTHER_ACCOUNT)
NIGHT = SimulatorOptions(
    campaigns=80,
    devices_min=5,
    devices_max=40,
    accounts=ACCOUNTS,
    inventory=InventoryOptions(late_share=0.3, page_size=100, extra_devices=20),
)


def truth_of(simulator, phases: PhaseTable):
    """Per device (account, upgrade, device): the fields the records must carry; per
    campaign: late successes and models; per model: the night's row."""
    devices, campaigns = {}, {}
    models: dict[str, Counter[str]] = defaultdict(Counter)
    for account in ACCOUNTS:
        listed = simulator.inventory.truth(account)
        for _, upgrade_id in (ref for ref in simulator.catalog.ids() if ref[0] == account):
            late, by_model = 0, defaultdict(Counter)
            for imei, device in simulator.inventory.campaign_truth(account, upgrade_id).items():
                entry = listed[imei]
                upgraded = entry.upgrade_time
                devices[account, upgrade_id, imei] = (
                    entry.model,
                    entry.make,
                    entry.firmware,
                    None if upgraded is None else format_timestamp(upgraded),
                    device.on_target,
                )
                phase = phases.phase(device.status)
                row = by_model[entry.model]
                row[phase] += 1
                row["on_target"] += device.on_target
                row["late"] += device.late
                late += device.late
                night = models[entry.model]
                night["devices"] += 1
                night[phase] += 1
                night["on_target"] += device.on_target
                night["late"] += device.late
            campaigns[account, upgrade_id] = (
                late,
                {m: {k: r[k] for k in (*PHASES, "on_target", "late")} for m, r in by_model.items()},
            )
    return devices, campaigns, models


async def test_every_record_equals_the_simulators_truth_and_summary_by_model_too(
    tmp_path: Path,
) -> None:
    async with run_simulator(NIGHT) as simulator:
        simulator.catalog.write_ids(tmp_path / "ids.txt")
        devices, campaigns, models = truth_of(simulator, PhaseTable())
        result = await poll_cli(
            simulator,
            tmp_path / "ids.txt",
            "--inventory",
            "--rate",
            "0",
            "-o",
            str(tmp_path / "night.jsonl"),
            env=token_environ(NIGHT),
        )
    assert_calm(result.stderr)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    # The night has what the test is about: late successes, and the failing model.
    assert sum(late for late, _ in campaigns.values()) >= 10
    assert FAILING_MODEL in models

    records = [json.loads(line) for line in (tmp_path / "night.jsonl").read_bytes().splitlines()]
    got = {
        (r["account_name"], r["upgrade_id"], r["device_id"]): (
            r["model"], r["make"], r["reported_firmware"], r["firmware_upgraded_at"],
            r["on_target"],
        )
        for r in records
        if r["record"] == "device"
    }  # fmt: skip
    assert got == devices
    got_campaigns = {
        (r["account_name"], r["upgrade_id"]): (r["devices_late"], r["device_models"])
        for r in records
        if r["record"] == "campaign"
    }
    assert got_campaigns == campaigns
    assert all(r["inventory"] == "ok" for r in records if r["record"] == "campaign")

    summary = await anyio.run_process(
        [sys.executable, "-m", "fota_poller", "summary", "--by", "model", "--format", "json",
         str(tmp_path / "night.jsonl")],
        check=False,
    )  # fmt: skip
    assert summary.returncode == 0, summary.stderr.decode()
    rows = [row for row in json.loads(summary.stdout)["rows"] if row["model"] is not None]
    assert {
        row["model"]: (row["devices"], *(row[k] for k in (*PHASES, "on_target", "late")))
        for row in rows
    } == {
        model: (row["devices"], *(row[k] for k in (*PHASES, "on_target", "late")))
        for model, row in models.items()
    }
    # Worst failed share first: the failing model.
    assert rows[0]["model"] == FAILING_MODEL
