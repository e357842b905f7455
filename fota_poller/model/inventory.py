"""What an account's device list says of a device, as the records carry it.

Shared by the inventory (which fills it), the output (which writes it) and the run (which
joins the two).
`inventory/` and `output/` sit in one layer and never import each other; both import these.
"""

from __future__ import annotations

from typing import Final, Literal, Protocol

import msgspec

# A campaign record's `inventory`: its account's device list was read whole, or it failed
# (the inventory fields of its devices are then null); null when `--inventory` is off.
InventoryStatus = Literal["ok", "failed"]
# The kind `InventoryLookup.find` gives a device the account's list does not name.
MISSING: Final = -1


class InventoryEntry(msgspec.Struct, frozen=True):
    """What the account's device list says of one device, as the records write it."""

    model: str | None
    make: str | None
    firmware: str | None
    # RFC 3339 UTC with milliseconds; None when never upgraded, absent or unreadable.
    upgraded_at: str | None
    fota_eligible: bool | None


class InventoryLookup(Protocol):
    """An account's device list by IMEI (`inventory.store.Inventory`).

    The devices of an account fall into a few kinds (model, make, firmware, eligibility):
    `find` gives each device's kind and its own upgrade time, `kind` what a kind's share.
    """

    def find(self, imeis: list[str | None]) -> tuple[list[int], list[str | None]]:
        """Per id, in order: its kind (`MISSING` when not listed) and its upgrade time."""
        ...

    def kind(self, kind: int) -> InventoryEntry:
        """What the devices of `kind` share (`upgraded_at` None: each device has its own)."""
        ...


class CampaignInventory(msgspec.Struct, frozen=True):
    """The device list a campaign's records are joined to: its status, and the list when ok."""

    status: InventoryStatus
    lookup: InventoryLookup | None = None


def on_target(entry: InventoryEntry | None, firmware_to: str | None) -> bool | None:
    """True when the device runs the campaign's target firmware, False when it runs another.

    None when it cannot be told: the device is not in the inventory (or there is none), it
    reported no firmware, or the campaign names no target.
    """
    if entry is None or entry.firmware is None or firmware_to is None:
        return None
    return entry.firmware == firmware_to
