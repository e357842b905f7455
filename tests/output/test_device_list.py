from fota_poller.api.decode import Device
from fota_poller.output.device_list import without_duplicates


def test_a_list_without_duplicates_is_kept_as_it_is():
    devices = [Device("1", "Queued"), Device(None, "Queued"), Device(None, "Queued")]
    kept, dropped = without_duplicates(devices)
    assert kept is devices
    assert dropped == 0


def test_a_device_listed_twice_keeps_its_last_entry_where_it_stands():
    devices = [
        Device("1", "Queued"),
        Device("2", "Queued"),
        Device(None, "Device Rejected"),
        Device("1", "UpgradeSuccess"),
        Device(None, "Device Rejected"),
        Device("1", "UpgradeFailed"),
    ]
    kept, dropped = without_duplicates(devices)
    # Devices without an id cannot be told apart: both stay.
    assert kept == [devices[1], devices[2], devices[4], devices[5]]
    assert dropped == 2
