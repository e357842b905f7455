r"""A campaign's device lines, encoded with the part they share encoded once.

Every device line of one campaign shares its first fields (run, campaign, firmware, dates);
only the device's own fields differ (`DeviceFields`: id, status, phase, reason and the three
change fields; `JoinedFields` adds the six inventory fields of `--inventory`). So the shared
part is encoded once, from a `DeviceRecord` (records.py stays the one definition of a line),
msgspec encodes the devices' own fields in one C call, and one `bytes.replace` puts the
shared part in front of each.

Without `--inventory` the six inventory fields are null on every line: the same
`bytes.replace` puts them at the end of one line as it puts the shared part at the start of
the next (`}\n{"device_id":`), which costs 0.04 us a device where encoding six null fields
per device cost 0.15 us (100-device campaigns).

A device's fields are built in one Python loop: `sent_fields` (the status's phase looked up
in a dict) or, with a state database, the comparison of output/changes.py. Measured on
100-device campaigns, that loop and one encode cost 0.6 us a device, where reading the
fields in C and splicing each phase in with one `bytes.replace` per distinct status cost
1.8 us: the splices copy the whole block each time.

Why the replacement is safe: msgspec escapes every `"` inside a string value as `\"`, so an
unescaped `"` is always the start or end of a key or value, and `{"device_id":` can only
match the key itself, never text inside a value. When `DeviceRecord` no longer ends with
the device's fields, the plain path runs instead, so the output stays right. A raw newline
is only ever the end of a line (msgspec writes one inside a string as `\n`), so `}\n` with
the next line's start can only be the boundary between two lines.

Without a state database or `--inventory` (`DeviceLines.sent`), a line needs no splice at
all: `_SentLine` is the whole line, its first field (`record`) the shared part and its
fifth (`previous_status`) the nulls that end every such line, both `msgspec.Raw` (JSON
written as it is), so one `encode_lines` writes the lines as they go out. Measured on
100-device campaigns: 20 us a campaign where the encode, the splice and its copies cost 34
(the splice alone, a 15-byte pattern searched through 66 KB, 11 us).

Why lines are encoded a chunk at a time (`DeviceLines`), as the writer writes them: a
campaign of a million devices makes about 500 MB of lines, several times its body and its
decoded devices; a chunk of `CHUNK_DEVICES` lines is 2 MB (bench/big_campaign.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

import msgspec

from fota_poller.api.decode import Device, UpgradeInfo
from fota_poller.model.phases import PhaseTable
from fota_poller.model.records import Change, DeviceRecord, Phase
from fota_poller.model.refs import CampaignRef

_encoder = msgspec.json.Encoder()


class DeviceFields(msgspec.Struct, gc=False):
    """The fields of a device line that differ from device to device, in the line's order.

    Strings, booleans and None only, so in no cycle: untracked by the cyclic garbage
    collector (`gc=False`), as the other per-device Structs.
    """

    device_id: str | None
    status: str | None
    phase: Phase | None
    result_reason: str | None
    previous_status: str | None = None
    status_since: str | None = None
    change: Change | None = None


class JoinedFields(DeviceFields):
    """A device's fields with its account's device list joined (output/inventory_join.py).

    A chunk's fields are all of one kind: a campaign's devices are all joined, or none.
    """

    model: str | None = None
    make: str | None = None
    reported_firmware: str | None = None
    firmware_upgraded_at: str | None = None
    fota_eligible: bool | None = None
    on_target: bool | None = None


# The plain encoding of a template's device fields, and how each device's part starts.
_TEMPLATE_TAIL: Final = (
    b'"device_id":null,"status":null,"phase":null,"result_reason":null,'
    b'"previous_status":null,"status_since":null,"change":null,'
    b'"model":null,"make":null,"reported_firmware":null,"firmware_upgraded_at":null,'
    b'"fota_eligible":null,"on_target":null}'
)
_DEVICE_START: Final = b'{"device_id":'
# The inventory fields, all null: what a `DeviceFields` line lacks of a `JoinedFields` one.
_NULL_INVENTORY: Final = _encoder.encode(JoinedFields(None, None, None, None))[
    len(_encoder.encode(DeviceFields(None, None, None, None))) - 1 : -1
]
_LINE_END: Final = _NULL_INVENTORY + b"}\n"
_BOUNDARY: Final = b"}\n" + _DEVICE_START
# What the shared part of an encoded template starts with: its tag field, first.
_RECORD_KEY: Final = b'{"record":'
# The JSON of a sent line after `"previous_status":`: the nulls every such line ends with.
_SENT_TAIL: Final = msgspec.Raw(
    _TEMPLATE_TAIL[_TEMPLATE_TAIL.index(b'"previous_status":') + len(b'"previous_status":') : -1]
)
# Device lines encoded at once: large enough that a chunk's fixed cost is nothing next to its
# lines (a 100-device campaign is one chunk, one write), small enough to cost no memory.
CHUNK_DEVICES: Final = 4096


def device_template(
    run_id: str, polled_at: str, ref: CampaignRef, upgrade: UpgradeInfo, ended: bool | None
) -> DeviceRecord:
    """The fields a campaign's device lines share, its devices' own fields null."""
    return DeviceRecord(
        run_id=run_id,
        polled_at=polled_at,
        account_name=ref.account_name,
        upgrade_id=ref.upgrade_id,
        firmware_name=upgrade.firmware_name,
        firmware_to=upgrade.firmware_to,
        start_date=upgrade.start_date,
        end_date=upgrade.end_date,
        campaign_status=upgrade.status,
        campaign_ended=ended,
        device_id=None,
        status=None,
        phase=None,
        result_reason=None,
        previous_status=None,
        status_since=None,
        change=None,
        model=None,
        make=None,
        reported_firmware=None,
        firmware_upgraded_at=None,
        fota_eligible=None,
        on_target=None,
    )


def _prefix(template: DeviceRecord) -> bytes | None:
    """The encoded template up to the device's fields, or None if it no longer ends with them."""
    shared = _encoder.encode(template)
    if not shared.endswith(_TEMPLATE_TAIL):
        return None
    return shared[: -len(_TEMPLATE_TAIL)] + b'"device_id":'


class _SentLine(msgspec.Struct, gc=False):
    """A whole device line as sent: the shared part and the null fields written as they are.

    `record` is the template's encoding from its tag's value to the device's fields
    (`"device","run_id":...,"campaign_ended":false`), `previous_status` is `_SENT_TAIL`.
    """

    record: msgspec.Raw
    device_id: str | None
    status: str | None
    phase: Phase | None
    result_reason: str | None
    previous_status: msgspec.Raw


def _line_head(template: DeviceRecord) -> msgspec.Raw | None:
    """`_SentLine.record` for `template`, or None if its encoding no longer has that shape."""
    shared = _encoder.encode(template)
    if not shared.startswith(_RECORD_KEY) or not shared.endswith(b"," + _TEMPLATE_TAIL):
        return None
    return msgspec.Raw(shared[len(_RECORD_KEY) : -len(_TEMPLATE_TAIL) - 1])


def _encode_sent(head: msgspec.Raw, devices: list[Device], phases: PhaseTable) -> bytes:
    """The lines of `devices` as sent, `head` the template's shared part (`_line_head`)."""
    known, phase, tail = phases.known, phases.phase, _SENT_TAIL
    return _encoder.encode_lines(
        [
            _SentLine(
                head,
                device.device_id,
                device.status,
                known.get(device.status) or phase(device.status),
                device.result_reason,
                tail,
            )
            for device in devices
        ]
    )


def sent_fields(devices: list[Device], phases: PhaseTable) -> list[DeviceFields]:
    """Each device's fields as sent, with its phase and no change fields."""
    known, phase = phases.known, phases.phase
    return [
        DeviceFields(
            device.device_id,
            device.status,
            known.get(device.status) or phase(device.status),
            device.result_reason,
        )
        for device in devices
    ]


def encode_fields(template: DeviceRecord, fields: list[DeviceFields]) -> bytes:
    """One line per entry of `fields`, each `template` with that device's fields."""
    if not fields:
        return b""
    prefix = _prefix(template)
    if prefix is None:
        return encode_device_lines_plainly(template, fields)
    return _encode_with(prefix, fields)


def _encode_with(prefix: bytes, fields: list[DeviceFields]) -> bytes:
    """The lines of `fields` (not empty), `prefix` the template's encoding up to them."""
    lines = _encoder.encode_lines(fields)
    if type(fields[0]) is JoinedFields:
        return lines.replace(_DEVICE_START, prefix)
    # Each line's start and the previous line's end in one pass (see the module's docstring).
    inner = lines[len(_DEVICE_START) : -len(b"}\n")].replace(_BOUNDARY, _LINE_END + prefix)
    return b"".join((prefix, inner, _LINE_END))


class DeviceLines:
    """A campaign's device lines, not yet encoded: `chunks()` encodes them as they are written.

    `fields_of(start, stop)` gives the fields of the lines from `start` to `stop` (a slice).
    """

    __slots__ = ("_count", "_fields_of", "_sent", "_template")

    def __init__(
        self,
        template: DeviceRecord,
        count: int,
        fields_of: Callable[[int, int], list[DeviceFields]],
        sent: tuple[list[Device], PhaseTable] | None = None,
    ) -> None:
        self._template = template
        self._count = count
        self._fields_of = fields_of
        # The devices as sent and the phase table: the lines are then `_SentLine`s.
        self._sent = sent

    @classmethod
    def sent(cls, template: DeviceRecord, devices: list[Device], phases: PhaseTable) -> DeviceLines:
        """The lines of `devices` as sent (no state), each chunk encoded whole as it is written."""
        return cls(
            template,
            len(devices),
            lambda start, stop: sent_fields(devices[start:stop], phases),
            (devices, phases),
        )

    @classmethod
    def of_fields(cls, template: DeviceRecord, fields: list[DeviceFields]) -> DeviceLines:
        """The lines of fields already made (the comparison with the state's last poll)."""
        return cls(template, len(fields), lambda start, stop: fields[start:stop])

    def chunks(self) -> Iterator[bytes]:
        """The lines, `CHUNK_DEVICES` at a time; nothing for a campaign with no device."""
        if not self._count:
            return
        head = None if self._sent is None else _line_head(self._template)
        if head is not None and self._sent is not None:
            devices, phases = self._sent
            for start in range(0, self._count, CHUNK_DEVICES):
                yield _encode_sent(head, devices[start : start + CHUNK_DEVICES], phases)
            return
        prefix = _prefix(self._template)
        for start in range(0, self._count, CHUNK_DEVICES):
            fields = self._fields_of(start, start + CHUNK_DEVICES)
            if prefix is None:
                yield encode_device_lines_plainly(self._template, fields)
            elif fields:
                yield _encode_with(prefix, fields)

    def encode(self) -> bytes:
        """All the lines in one buffer (tests, and callers that want them whole)."""
        return b"".join(self.chunks())


def encode_device_lines_plainly(template: DeviceRecord, fields: list[DeviceFields]) -> bytes:
    """The same lines through one `DeviceRecord` per device: the reference the fast paths match."""
    return _encoder.encode_lines(
        [msgspec.structs.replace(template, **msgspec.structs.asdict(field)) for field in fields]
    )
