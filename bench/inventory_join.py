"""What `--inventory`'s join costs a device: the real store of 1,000,000 devices, no network.

.venv/bin/python bench/inventory_join.py [--rounds 5]

Builds the store (`inventory.store`) of one account of 1,000,000 devices (40% with an upgrade
time, five models, three firmwares), then makes the fields of 1,000 campaigns of 100 devices
(each a run of neighbouring IMEIs from a random place in the list) twice: as a run without
`--inventory` does (`DeviceFields`: id, status, phase, reason) and joined
(`output.inventory_join.DeviceJoin`: the lookup, the counts, `JoinedFields`). Then the whole
of a campaign's records as a worker makes them and the writer encodes them
(`output.campaign.from_response` on the campaign's body, its lines encoded), without and with
the list: the per-device CPU a run's campaigns pay for `--inventory`. Prints the CPU
microseconds a device of each, and of the store's lookups alone, the median of the rounds.
Against another version: `PYTHONPATH=/tmp/before .venv/bin/python bench/inventory_join.py`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
from machine import machine

from fota_poller.api.decode import Device
from fota_poller.api.redact import Redactor
from fota_poller.inventory.store import Inventory

try:
    from fota_poller.inventory.builder import InventoryBuilder
except ImportError:  # a version before the builder had its own module
    from fota_poller.inventory.store import InventoryBuilder  # type: ignore[attr-defined,no-redef]
from fota_poller.model.inventory import CampaignInventory
from fota_poller.model.phases import PhaseTable
from fota_poller.model.refs import CampaignRef
from fota_poller.output.campaign import RecordOptions, from_response
from fota_poller.output.device_lines import DeviceFields
from fota_poller.output.inventory_join import DeviceJoin

LISTED = 1_000_000
CAMPAIGNS, DEVICES = 1_000, 100
TARGET = "VerizonFirmwareVersion-02"
STATUSES = ("UpgradeSuccess", "Request Pending", "UpgradeFailed", "Device Accepted")


def build(rng: random.Random) -> tuple[Inventory, list[str]]:
    """The store, and its IMEIs in order."""
    builder = InventoryBuilder()
    imeis = [str(350_000_000_000_000 + row * 7) for row in range(LISTED)]
    for row, imei in enumerate(imeis):
        timed = rng.random() < 0.4  # the share of devices ever upgraded
        builder.add(
            imei,
            model=f"Model-{row % 5}",
            make="Maker",
            firmware=f"VerizonFirmwareVersion-{row % 3:02}",
            upgraded_ms=1_780_000_000_000 + rng.randrange(10**9) if timed else None,
            fota_eligible=True,
        )
    return builder.finish(), imeis


def per_device(work: Callable[[], None]) -> float:
    """CPU microseconds a device of `work` over every campaign."""
    started = time.process_time()
    work()
    return (time.process_time() - started) * 1e6 / (CAMPAIGNS * DEVICES)


Campaigns = list[list[Device]]


def plain(campaigns: Campaigns, phases: PhaseTable) -> None:
    """The fields of a run without `--inventory`."""
    known, phase_of = phases.known, phases.phase
    for devices in campaigns:
        for device in devices:
            phase = known.get(device.status) or phase_of(device.status)
            DeviceFields(device.device_id, device.status, phase, device.result_reason)


def joined(campaigns: Campaigns, phases: PhaseTable, inventory: Inventory) -> None:
    """The fields joined, and each campaign's counts."""
    redactor = Redactor()
    for devices in campaigns:
        join = DeviceJoin(inventory, TARGET, redactor)
        join.sent_fields(devices, phases)
        join.counts()


def lookups(campaigns: Campaigns, inventory: Inventory) -> None:
    """The store's lookups alone: `Inventory.find` per campaign (`lookup` per device before)."""
    find = getattr(inventory, "find", None)
    for devices in campaigns:
        if find is not None:
            find([device.device_id for device in devices])
            continue
        for device in devices:
            inventory.lookup(device.device_id or "")


Bodies = list[tuple[CampaignRef, bytes]]


def bodies_of(campaigns: Campaigns) -> Bodies:
    """Each campaign as the upgrade endpoint answers it."""
    bodies: Bodies = []
    for number, devices in enumerate(campaigns):
        ref = CampaignRef("bench-account", f"00000000-0000-0000-0000-{number:012}")
        body = {
            "id": ref.upgrade_id,
            "accountName": ref.account_name,
            "firmwareName": "Bench",
            "firmwareTo": TARGET,
            "startDate": "2026-11-01",
            "endDate": "2026-11-30",
            "status": "UpgradeCompleted",
            "deviceList": [
                {"deviceId": d.device_id, "status": d.status, "resultReason": "bench"}
                for d in devices
            ],
        }
        bodies.append((ref, msgspec.json.encode(body)))
    return bodies


def records(bodies: Bodies, inventory: Inventory | None) -> None:
    """Each campaign's records from its body, its device lines encoded."""
    options = RecordOptions(PhaseTable())
    listed = None if inventory is None else CampaignInventory("ok", inventory)
    received = datetime(2026, 12, 7, 2, 15, tzinfo=UTC)
    for ref, body in bodies:
        result = from_response(
            "bench-run", ref, status=200, body=body, received_at=received, elapsed_ms=1.0,
            attempts=1, options=options, inventory=listed,
        )  # fmt: skip
        if result.lines is not None:
            for _ in result.lines.chunks():
                pass


def main() -> None:
    """Build the store, time the three, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(21)
    inventory, imeis = build(rng)
    campaigns: Campaigns = []
    for _ in range(CAMPAIGNS):
        start = rng.randrange(LISTED - DEVICES)
        chosen = imeis[start : start + DEVICES]
        campaigns.append([Device(imei, rng.choice(STATUSES)) for imei in chosen])
    phases = PhaseTable()
    bodies = bodies_of(campaigns)
    work: dict[str, Callable[[], None]] = {
        "fields without --inventory": lambda: plain(campaigns, phases),
        "fields joined (DeviceJoin)": lambda: joined(campaigns, phases, inventory),
        "the store's lookups alone": lambda: lookups(campaigns, inventory),
        "records without --inventory": lambda: records(bodies, None),
        "records joined": lambda: records(bodies, inventory),
    }
    figures: dict[str, list[float]] = {label: [] for label in work}
    for _ in range(args.rounds):
        for label, run in work.items():
            figures[label].append(per_device(run))
    print(f"{CAMPAIGNS:,} campaigns x {DEVICES} devices, a list of {LISTED:,}; {machine()}")
    for label, values in figures.items():
        print(f"{label:<30} {statistics.median(values):5.2f} us a device (CPU)")


if __name__ == "__main__":
    main()
