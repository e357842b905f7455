r"""A campaign's device lines, encoded without building a Python object per device.

Every device line of one campaign shares its first fields (run, campaign, firmware, dates);
only `device_id`, `status` and `result_reason` differ. So the shared part is encoded once,
from a `DeviceRecord` (records.py stays the one definition of a line), the devices' own
three fields are encoded by msgspec in one C call from the decoded `Device` structs, and
two `bytes.replace` calls put the shared part in front and rename the API's keys to ours.

Why the replacements are safe: msgspec escapes every `"` inside a string value as `\"`, so
an unescaped `"` is always the start or end of a key or value. `{"deviceId":` and
`,"resultReason":` can therefore only match the keys themselves, never text inside a value.
When the layouts this relies on change (a field added to `Device` or after `result_reason`
in `DeviceRecord`), the plain path runs instead, so the output stays right.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter

import msgspec

from fota_poller.decode import Device
from fota_poller.records import DeviceRecord

_encoder = msgspec.json.Encoder()

# What the plain encoding of the template's last three fields looks like...
_TEMPLATE_TAIL = b'"device_id":null,"status":null,"result_reason":null}'
# ... and how msgspec encodes one decoded device: the keys to rename.
_API_DEVICE_START = b'{"deviceId":'
_API_RESULT_REASON = b',"resultReason":'
_OUR_RESULT_REASON = b',"result_reason":'
_DEVICE_LAYOUT_HOLDS = _encoder.encode(Device(device_id="i", status="s", result_reason="r")) == (
    _API_DEVICE_START + b'"i","status":"s"' + _API_RESULT_REASON + b'"r"}'
)

_status_of = attrgetter("status")


def encode_device_lines(template: DeviceRecord, devices: list[Device]) -> bytes:
    """One JSON line per device: `template` with that device's id, status and reason."""
    if not devices:
        return b""
    shared = _encoder.encode(template)
    if not _DEVICE_LAYOUT_HOLDS or not shared.endswith(_TEMPLATE_TAIL):
        return encode_device_lines_plainly(template, devices)
    prefix = shared[: -len(_TEMPLATE_TAIL)] + b'"device_id":'
    lines = _encoder.encode_lines(devices)
    return lines.replace(_API_DEVICE_START, prefix).replace(_API_RESULT_REASON, _OUR_RESULT_REASON)


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
