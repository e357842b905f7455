"""Check a fota-poller output against what the pre-rendered server served.

usage: python bench/check_devices.py CAMPAIGNS DEVICES OUTPUT

Every line decodes into its record type, and the device lines carry exactly the served
devices, in order. Exits 1 with a one-line reason otherwise.
"""

import sys
from pathlib import Path

import msgspec

from fota_poller.model.records import CampaignRecord, DeviceRecord, RunRecord
from fota_poller.simulator import Catalog, SimulatorOptions


def main() -> int:
    campaigns, devices, output = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    catalog = Catalog(
        SimulatorOptions(campaigns=campaigns, devices_min=devices, devices_max=devices)
    )
    expected = []
    for account, upgrade_id in catalog.ids():
        campaign = catalog.campaign(account, upgrade_id)
        assert campaign is not None
        expected += [(d.device_id, d.status, d.result_reason) for d in campaign.device_list]
    decoder = msgspec.json.Decoder(DeviceRecord | CampaignRecord | RunRecord)
    seen = []
    with output.open("rb") as lines:
        for line in lines:
            record = decoder.decode(line)
            if isinstance(record, DeviceRecord):
                seen.append((record.device_id, record.status, record.result_reason))
    if seen != expected:
        print(f"check_devices: {len(seen)} device lines differ from the served devices")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
