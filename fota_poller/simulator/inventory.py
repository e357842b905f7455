"""The account device list's shapes: its options, the truth tests read, and the table it is.

Each account's list is kept as sorted columns (an IMEI array, small codes, upgrade times in
milliseconds), so that a 1,000,000-device account costs tens of MB, not a million objects.
How the list is drawn from the catalogue: inventory_build.py; how it is paged and served:
inventory_pages.py.
"""

from __future__ import annotations

import bisect
import datetime as dt
from array import array
from typing import Final

import msgspec

# (model, make): a small fleet. Model-C fails far more often than the others.
MODELS: Final = (
    ("Model-A", "Acme"),
    ("Model-B", "Acme"),
    ("Model-C", "Borealis"),
    ("Model-D", "Cirrus"),
)
FAILING_MODEL: Final = "Model-C"
SUCCESS_STATUSES: Final = frozenset({"UpgradeSuccess"})
FAILURE_STATUSES: Final = frozenset({"UpgradeFailed", "Device Rejected", "LicenseRemoveFailed"})
FIRMWARE_PREFIX: Final = "VerizonFirmwareVersion-"
NEVER: Final = -1  # the upgrade time of a device never upgraded
NEVER_TEXT: Final = "01/01/1900 0:0:0"  # how the device list writes it
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# The bits of InventoryTable.flags.
FLAG_ELIGIBLE: Final = 1
FLAG_LICENSE: Final = 2
Row = tuple[int, int, int, int, int]  # model, firmware, upgraded_ms, flags, mdn

# Ways the device list can misbehave, for the poller's worst nights (inventory_pages.py):
QUIRKS: Final = (
    "stuck",
    "backwards",
    "null_last",
    "string_last",
    "empty_last",
    "duplicate",
    "foreign",
)


class InventoryOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The device list: late successes, devices in no campaign, paging, and a misbehaviour."""

    late_share: float = 0.05  # of the not-succeeded devices of ended campaigns
    extra_devices: int = 25  # per account, in no campaign
    page_size: int = 1000
    quirk: str | None = None  # one of inventory_pages.QUIRKS, or None to answer as documented


def validate_inventory(options: InventoryOptions) -> None:
    """Raise ValueError for a share outside [0, 1], a negative count, a page under 1, a quirk."""
    if not 0 <= options.late_share <= 1:
        raise ValueError(f"the late share must be within 0-1, got {options.late_share}")
    if options.extra_devices < 0:
        raise ValueError(f"extra devices must not be negative, got {options.extra_devices}")
    if options.page_size < 1:
        raise ValueError(f"the inventory page size must be at least 1, got {options.page_size}")
    if options.quirk is not None and options.quirk not in QUIRKS:
        raise ValueError(f"unknown inventory quirk {options.quirk!r}; known: {', '.join(QUIRKS)}")


class InventoryTruth(msgspec.Struct, frozen=True):
    """What the device list says of one device; upgrade_time None is the 1900 "never"."""

    model: str
    make: str
    firmware: str
    upgrade_time: dt.datetime | None
    fota_eligible: bool
    license_assigned: bool


class CampaignDeviceTruth(msgspec.Struct, frozen=True):
    """One device of a campaign: its status there and whether its firmware is the target.

    `late` is on target without a succeeded status (the late success the poller must find).
    """

    status: str
    firmware_to: str
    reported_firmware: str
    on_target: bool
    late: bool


class InventoryTable:
    """One account's devices sorted by IMEI, as columns; built by `build_table`."""

    def __init__(self) -> None:
        self.imeis = array("q")
        self.models = bytearray()
        self.firmware = array("H")  # the version number after FIRMWARE_PREFIX
        self.upgraded_ms = array("q")  # ms since the epoch, or NEVER
        self.flags = bytearray()
        self.mdns = array("q")

    def __len__(self) -> int:
        return len(self.imeis)

    def append(self, imei: int, row: Row) -> None:
        """Add a device after every one already held (IMEIs must come in order)."""
        model, firmware, upgraded, flags, mdn = row
        self.imeis.append(imei)
        self.models.append(model)
        self.firmware.append(firmware)
        self.upgraded_ms.append(upgraded)
        self.flags.append(flags)
        self.mdns.append(mdn)

    def position(self, imei: str) -> int | None:
        """Where imei is in the table, or None when the account has no such device."""
        key = int(imei)
        at = bisect.bisect_left(self.imeis, key)
        return at if at < len(self.imeis) and self.imeis[at] == key else None

    def truth_flags(self, at: int) -> tuple[bool, bool]:
        """(fotaEligible, licenseAssigned) of the device at position `at`."""
        flags = self.flags[at]
        return bool(flags & FLAG_ELIGIBLE), bool(flags & FLAG_LICENSE)

    def truth(self, at: int) -> InventoryTruth:
        """The device at position `at`."""
        model, make = MODELS[self.models[at]]
        upgraded = self.upgraded_ms[at]
        return InventoryTruth(
            model=model,
            make=make,
            firmware=firmware_name(self.firmware[at]),
            upgrade_time=None
            if upgraded == NEVER
            else _EPOCH + dt.timedelta(milliseconds=upgraded),
            fota_eligible=bool(self.flags[at] & FLAG_ELIGIBLE),
            license_assigned=bool(self.flags[at] & FLAG_LICENSE),
        )


def firmware_name(version: int) -> str:
    """`VerizonFirmwareVersion-02` for 2: how the campaigns name firmware."""
    return f"{FIRMWARE_PREFIX}{version:02d}"


def upgrade_time_text(upgraded_ms: int | None) -> str:
    """`2021-06-03 00:03:56.079 +0000 UTC`, or the 1900 value for None or NEVER."""
    if upgraded_ms is None or upgraded_ms == NEVER:
        return NEVER_TEXT
    moment = _EPOCH + dt.timedelta(milliseconds=upgraded_ms)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{upgraded_ms % 1000:03d} +0000 UTC"
