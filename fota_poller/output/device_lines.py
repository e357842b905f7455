r"""A campaign's device lines, encoded with the part they share encoded once.

Every device line of one campaign shares its first fields (run, campaign, firmware, dates);
only `device_id`, `status` and `result_reason` differ. So the shared part is encoded once,
from a `DeviceRecord` (records.py stays the one definition of a line); msgspec encodes the
devices' own three fields in one C call, and one `bytes.replace` puts the shared part in
front of each. In the benchmark this halves the cost of the earlier two-step version and
is a little faster than building a `DeviceRecord` per device.

Why the replacement is safe: msgspec escapes every `"` inside a string value as `\"`, so
an unescaped `"` is always the start or end of a key or value, and `{"device_id":` can only
match the key itself, never text inside a value. When `DeviceRecord` no longer ends with
those three fields, the plain path runs instead, so the output stays right.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter

import msgspec

from fota_poller.api.decode import Device
from fota_poller.output.records import DeviceRecord

_encoder = msgspec.json.Encoder()


class _DeviceFields(msgspec.Struct):
    """The fields of a device line that differ from device to device, in the line's order."""

    device_id: str | None
    status: str | None
    result_reason: str | None


_device_fields = list[_DeviceFields]
# The plain encoding of a template's last three fields, and how each device's part starts.
_TEMPLATE_TAIL = b'"device_id":null,"status":null,"result_reason":null}'
_DEVICE_START = b'{"device_id":'

_status_of = attrgetter("status")


def encode_device_lines(template: DeviceRecord, devices: list[Device]) -> bytes:
    """One JSON line per device: `template` with that device's id, status and reason."""
    if not devices:
        return b""
    shared = _encoder.encode(template)
    if not shared.endswith(_TEMPLATE_TAIL):
        return encode_device_lines_plainly(template, devices)
    prefix = shared[: -len(_TEMPLATE_TAIL)] + b'"device_id":'
    # convert reads the three attributes in C: no Python-level loop over the devices.
    fields = msgspec.convert(devices, _device_fields, from_attributes=True)
    return _encoder.encode_lines(fields).replace(_DEVICE_START, prefix)


def encode_device_lines_plainly(template: DeviceRecord, devices: list[Device]) -> bytes:
    """The same lines through one `DeviceRecord` per device: the reference the fast path matches."""
    return _encoder.encode_lines(
        [
            msgspec.structs.replace(
                template,
                device_id=device.device_id,
                status=device.status,
                result_reason=device.result_reason,
            )
            for device in devices
        ]
    )


def count_statuses(devices: list[Device], missing: str) -> dict[str, int]:
    """Devices per status, in order of first appearance; a missing status counts as `missing`."""
    counts = Counter(map(_status_of, devices))
    if None not in counts and "" not in counts:
        return dict(counts)
    # Rare: the plain loop puts `missing` where the first status-less device was.
    return dict(Counter(device.status or missing for device in devices))
