"""A campaign's device list as its records count it: each device once, devices per status.

Its ids and statuses are read once (`survey`) for the redaction, the duplicate check and
the counts, which each read them in a pass of their own before: 2.4 us per attribute and
100 devices.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter
from typing import cast

import msgspec

from fota_poller.api.decode import Device

# A device with no status still counts, under this key, so the counts add up to device_count.
MISSING_STATUS = "(missing)"

_status_of = attrgetter("status")
_device_id_of = attrgetter("device_id")


class Survey(msgspec.Struct):
    """A device list's distinct ids, and its devices per raw status (None: no status)."""

    ids: set[str | None]
    statuses: Counter[str | None]


def survey(devices: list[Device]) -> Survey:
    """The ids and statuses of `devices`, each read in one pass."""
    return Survey(set(map(_device_id_of, devices)), Counter(map(_status_of, devices)))


def without_duplicates(
    devices: list[Device], ids: set[str | None] | None = None
) -> tuple[list[Device], int]:
    """Each device id once, as its last entry says, where that entry stands; and how many went.

    A list that names a device twice would give it two lines and count it twice. Devices
    without an id cannot be told apart and are all kept. `ids`: the distinct ids of
    `devices`, when already read (`survey`).
    """
    ids = set(map(_device_id_of, devices)) if ids is None else ids
    unnamed = 0 if None not in ids else sum(1 for device in devices if device.device_id is None)
    if len(ids) - (None in ids) + unnamed == len(devices):
        return devices, 0  # the usual case: one pass, no copy
    seen: set[str] = set()
    kept: list[Device] = []
    for device in reversed(devices):
        device_id = device.device_id
        if device_id is not None:
            if device_id in seen:
                continue
            seen.add(device_id)
        kept.append(device)
    kept.reverse()
    return kept, len(devices) - len(kept)


def count_statuses(devices: list[Device], raw: Counter[str | None] | None = None) -> dict[str, int]:
    """Devices per status, in order of first appearance; no status counts as `MISSING_STATUS`.

    `raw`: the devices per raw status of `devices`, when already read (`survey`).
    """
    raw = Counter(map(_status_of, devices)) if raw is None else raw
    if None not in raw and "" not in raw:
        return cast("dict[str, int]", dict(raw))  # no None key, as just checked
    # Rare: the plain loop puts the missing ones where the first status-less device was.
    return dict(Counter(device.status or MISSING_STATUS for device in devices))
