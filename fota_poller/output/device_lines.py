r"""A campaign's device lines, encoded with the part they share encoded once.

Every device line of one campaign shares its first fields (run, campaign, firmware, dates);
only the device's own fields differ (`DeviceFields`: id, status, phase, reason, and the
three change fields). So the shared part is encoded once, from a `DeviceRecord` (records.py
stays the one definition of a line), msgspec encodes the devices' own fields in one C call,
and one `bytes.replace` puts the shared part in front of each.

Without a state database the devices' fields are read in C too (`msgspec.convert`), with no
Python loop over the devices: the phase is put in after the status by one `bytes.replace`
per distinct status (a campaign has a handful), and the three change fields, all null, by
one more. With a state database every device is compared with its last poll in Python
anyway (output/changes.py), and its fields come from there.

Why the replacements are safe: msgspec escapes every `"` inside a string value as `\"` and
every newline as `\n`, so an unescaped `"` is always the start or end of a key or value, a
raw newline always ends a line, and `{"device_id":` or `"status":"X","result_reason":` can
only match the keys themselves, never text inside a value. When `DeviceRecord` no longer
ends with the device's fields, the plain path runs instead, so the output stays right.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

import msgspec

from fota_poller.api.decode import Device
from fota_poller.output.phases import PhaseTable
from fota_poller.output.records import Change, DeviceRecord, Phase

_encoder = msgspec.json.Encoder()


class DeviceFields(msgspec.Struct, array_like=False):
    """The fields of a device line that differ from device to device, in the line's order."""

    device_id: str | None
    status: str | None
    phase: Phase | None
    result_reason: str | None
    previous_status: str | None = None
    status_since: str | None = None
    change: Change | None = None


class _SentFields(msgspec.Struct):
    """The device's fields as ThingSpace sent them, in the line's order."""

    device_id: str | None
    status: str | None
    result_reason: str | None


_sent_fields = list[_SentFields]
# The plain encoding of a template's device fields, and how each device's part starts.
_TEMPLATE_TAIL: Final = (
    b'"device_id":null,"status":null,"phase":null,"result_reason":null,'
    b'"previous_status":null,"status_since":null,"change":null}'
)
_DEVICE_START: Final = b'{"device_id":'
_LINE_END: Final = b"}\n"
_NO_CHANGE_FIELDS: Final = b',"previous_status":null,"status_since":null,"change":null}\n'
# More distinct statuses than this in one campaign: one replace each would cost more than
# the Python loop of the plain path.
_MAX_REPLACED_STATUSES: Final = 16


def _prefix(template: DeviceRecord) -> bytes | None:
    """The encoded template up to the device's fields, or None if it no longer ends with them."""
    shared = _encoder.encode(template)
    if not shared.endswith(_TEMPLATE_TAIL):
        return None
    return shared[: -len(_TEMPLATE_TAIL)] + b'"device_id":'


def encode_device_lines(
    template: DeviceRecord,
    devices: list[Device],
    phases: PhaseTable,
    statuses: Collection[str | None],
) -> bytes:
    """One line per device as sent, with its phase; `statuses` holds every distinct status."""
    if not devices:
        return b""
    prefix = _prefix(template)
    if prefix is None or len(statuses) > _MAX_REPLACED_STATUSES:
        return encode_device_lines_plainly(template, sent_fields(devices, phases))
    # convert reads the three attributes in C: no Python-level loop over the devices.
    lines = _encoder.encode_lines(msgspec.convert(devices, _sent_fields, from_attributes=True))
    for status in statuses:
        sent = b'"status":' + _encoder.encode(status) + b","
        phase = phases.phase(status).encode()
        lines = lines.replace(
            sent + b'"result_reason":', sent + b'"phase":"' + phase + b'","result_reason":'
        )
    return lines.replace(_LINE_END, _NO_CHANGE_FIELDS).replace(_DEVICE_START, prefix)


def sent_fields(devices: list[Device], phases: PhaseTable) -> list[DeviceFields]:
    """Each device's fields as sent, with its phase and no change fields."""
    phase = phases.phase
    return [
        DeviceFields(device.device_id, device.status, phase(device.status), device.result_reason)
        for device in devices
    ]


def encode_fields(template: DeviceRecord, fields: list[DeviceFields]) -> bytes:
    """One line per entry of `fields`, each `template` with that device's fields."""
    if not fields:
        return b""
    prefix = _prefix(template)
    if prefix is None:
        return encode_device_lines_plainly(template, fields)
    return _encoder.encode_lines(fields).replace(_DEVICE_START, prefix)


def encode_device_lines_plainly(template: DeviceRecord, fields: list[DeviceFields]) -> bytes:
    """The same lines through one `DeviceRecord` per device: the reference the fast paths match."""
    return _encoder.encode_lines(
        [msgspec.structs.replace(template, **msgspec.structs.asdict(field)) for field in fields]
    )
