import datetime as dt

import msgspec
import pytest

from fota_poller.api.decode import Device
from fota_poller.model.phases import PhasesConfig, PhaseTable
from fota_poller.model.records import DeviceRecord
from fota_poller.model.refs import CampaignRef
from fota_poller.output import device_lines
from fota_poller.output.campaign import RecordOptions, from_response
from fota_poller.output.device_lines import (
    DeviceFields,
    DeviceLines,
    JoinedFields,
    encode_device_lines_plainly,
    encode_fields,
    sent_fields,
)
from fota_poller.output.device_list import MISSING_STATUS, count_statuses
from fota_poller.output.not_polled import not_polled_batch, not_polled_lines_plainly
from fota_poller.testing import read_records

RUN_ID = "5f0c6a3e-2d8e-4a43-9d51-1c1f6f7c2b10"
REF = CampaignRef("0000123456-00001", "e3a8d88a-04c6-4ef3-b039-89b62f91e962")

# Values that would fool a careless byte splice: the very keys it replaces, quotes,
# backslashes, braces, newlines, commas, non-ASCII, empty strings and nulls.
AWKWARD = [
    '{"deviceId":',
    ',"resultReason":',
    '"device_id":null,"status":null,"result_reason":null}',
    '"status":"Queued","result_reason":',
    ',"previous_status":null,"status_since":null,"change":null}\n',
    # The line boundary the inventory's null fields are spliced into, and their own text.
    '}\n{"device_id":',
    '"change":null}\n{"device_id":"1"',
    ',"model":null,"make":null,"reported_firmware":null,"on_target":null}',
    'quote " backslash \\ brace { } comma , colon :',
    "line\nbreak\r\ttab",
    "\\n\\u0000",
    "ünïcödé ✓ 数字",
    "",
    None,
]


def template(**overrides):
    fields = {
        "run_id": RUN_ID,
        "polled_at": "2026-01-15T10:00:00.123Z",
        "account_name": REF.account_name,
        "upgrade_id": REF.upgrade_id,
        "firmware_name": "FOTA_Verizon_Model-A_01To02_HF",
        "firmware_to": "VerizonFirmwareVersion-02",
        "start_date": "2026-01-01",
        "end_date": None,
        "campaign_status": "InProgress",
        "campaign_ended": None,
        "device_id": None,
        "status": None,
        "phase": None,
        "result_reason": None,
        "previous_status": None,
        "status_since": None,
        "change": None,
        "model": None,
        "make": None,
        "reported_firmware": None,
        "firmware_upgraded_at": None,
        "fota_eligible": None,
        "on_target": None,
    }
    fields.update(overrides)
    return DeviceRecord(**fields)


def awkward_devices():
    return [
        Device(device_id=a, status=b, result_reason=c)
        for a in AWKWARD
        for b in AWKWARD[::3]
        for c in AWKWARD[::2]
    ]


@pytest.mark.parametrize(
    "shared",
    [
        template(),
        template(firmware_name=AWKWARD[0], firmware_to=AWKWARD[1], end_date=AWKWARD[2]),
        template(campaign_status="line\nbreak", campaign_ended=True, start_date=None),
    ],
)
def test_fast_lines_are_the_plain_struct_encoding_byte_for_byte(shared):
    devices = awkward_devices()
    # Some awkward statuses in each phase, so the phase splice is tested with every kind.
    phases = PhaseTable(PhasesConfig(succeeded=(AWKWARD[0],), failed=(AWKWARD[6],)))
    fast = encode_fields(shared, sent_fields(devices, phases))
    assert fast == encode_device_lines_plainly(shared, sent_fields(devices, phases))
    lines = fast.split(b"\n")[:-1]
    assert len(lines) == len(devices)
    for record, device in zip(read_records(fast), devices, strict=True):
        assert record == msgspec.structs.replace(
            shared,
            device_id=device.device_id,
            status=device.status,
            phase=phases.phase(device.status),
            result_reason=device.result_reason,
        )
    assert {record.phase for record in read_records(fast)} == {"succeeded", "failed", "unknown"}


@pytest.mark.parametrize(
    "shared",
    [
        template(),
        template(firmware_name=AWKWARD[0], firmware_to=AWKWARD[1], end_date=AWKWARD[2]),
        template(campaign_status="line\nbreak", campaign_ended=True, start_date=None),
    ],
)
def test_sent_lines_written_whole_are_the_plain_struct_encoding_byte_for_byte(shared, monkeypatch):
    def no_splice(*args):
        raise AssertionError("the spliced or the plain path ran")

    # The lines as sent are `_SentLine`s, encoded whole: neither other path may run.
    monkeypatch.setattr(device_lines, "_encode_with", no_splice)
    monkeypatch.setattr(device_lines, "encode_device_lines_plainly", no_splice)
    devices = awkward_devices()
    phases = PhaseTable(PhasesConfig(succeeded=(AWKWARD[0],), failed=(AWKWARD[6],)))
    whole = DeviceLines.sent(shared, devices, phases).encode()
    monkeypatch.undo()
    assert whole == encode_device_lines_plainly(shared, sent_fields(devices, phases))


@pytest.mark.parametrize("shared", [template(), template(firmware_name=AWKWARD[2])])
def test_compared_lines_are_the_plain_struct_encoding_byte_for_byte(shared):
    fields = [
        DeviceFields(a, b, "pending", c, b, c, change)
        for a in AWKWARD[::2]
        for b in AWKWARD[::3]
        for c in AWKWARD[1::3]
        for change in ("new", "changed", "same", "gone")
    ]
    fast = encode_fields(shared, fields)
    assert fast == encode_device_lines_plainly(shared, fields)
    assert len(read_records(fast)) == len(fields)


@pytest.mark.parametrize("shared", [template(), template(firmware_name=AWKWARD[2])])
def test_joined_lines_are_the_plain_struct_encoding_byte_for_byte(shared):
    fields = [
        JoinedFields(a, "UpgradeSuccess", "succeeded", None, None, None, None, b, c, b, c, e, t)
        for a in AWKWARD[::2]
        for b in AWKWARD[::3]
        for c in AWKWARD[1::3]
        for e, t in ((True, None), (None, False), (False, True))
    ]
    fast = encode_fields(shared, fields)
    assert fast == encode_device_lines_plainly(shared, fields)
    records = read_records(fast)
    assert [(r.model, r.make, r.fota_eligible, r.on_target) for r in records] == [
        (f.model, f.make, f.fota_eligible, f.on_target) for f in fields
    ]


def test_chunked_lines_carry_the_null_inventory_fields_on_every_line(monkeypatch):
    # Several chunks, one of them a single line: its start and end come from the splice too.
    monkeypatch.setattr(device_lines, "CHUNK_DEVICES", 3)
    devices = [Device(str(n), "Queued") for n in range(7)]
    lines = DeviceLines.sent(template(), devices, PhaseTable())
    encoded = lines.encode()
    assert encoded == encode_device_lines_plainly(template(), sent_fields(devices, PhaseTable()))
    assert [record.device_id for record in read_records(encoded)] == [d.device_id for d in devices]
    assert encoded.count(b'"on_target":null}\n') == len(devices)


def test_fast_path_is_the_one_taken_for_the_current_layouts(monkeypatch):
    # If the layout guard failed, the test above would only compare the plain path to itself.
    assert msgspec.json.encode(template()).endswith(device_lines._TEMPLATE_TAIL)

    def no_plain_path(*args):
        raise AssertionError("the plain path ran")

    monkeypatch.setattr(device_lines, "encode_device_lines_plainly", no_plain_path)
    line = encode_fields(template(), sent_fields([Device("1", "Queued")], PhaseTable()))
    assert read_records(line)[0].phase == "pending"
    fields = [DeviceFields("1", "Queued", "pending", None, None, None, "new")]
    assert read_records(encode_fields(template(), fields))[0].change == "new"


def test_no_devices_gives_no_lines():
    assert encode_fields(template(), []) == b""


def test_status_counts_keep_first_appearance_order_and_count_missing_ones():
    devices = [Device("1", "B"), Device("2", None), Device("3", "A"), Device("4", "")]
    devices.append(Device("5", "B"))
    assert list(count_statuses(devices).items()) == [
        ("B", 2),
        (MISSING_STATUS, 2),
        ("A", 1),
    ]
    assert list(count_statuses(devices[:1] + devices[2:3])) == ["B", "A"]


def test_a_polled_campaign_gives_one_decodable_line_per_device():
    body = msgspec.json.encode(
        {
            "id": REF.upgrade_id,
            "accountName": REF.account_name,
            "firmwareName": "FW",
            "firmwareTo": "FW-2",
            "startDate": "2026-01-01",
            "endDate": "2026-01-10",
            "status": "Finished",
            "deviceList": [
                {"deviceId": "990000862471854", "status": "UpgradeSuccess", "resultReason": "ok"},
                {"deviceId": "990000862471855", "status": "Request Pending"},
                {"status": "Device Rejected", "resultReason": "Invalid IMEI", "extra": 1},
            ],
        }
    )
    received = dt.datetime(2026, 1, 15, 10, 0, 0, 123456, tzinfo=dt.UTC)
    result = from_response(
        RUN_ID,
        REF,
        status=200,
        body=body,
        received_at=received,
        elapsed_ms=1.0,
        attempts=1,
        options=RecordOptions(PhaseTable()),
    )
    records = [
        msgspec.json.decode(line, type=DeviceRecord) for line in result.device_lines.splitlines()
    ]
    shared = template(
        firmware_name="FW",
        firmware_to="FW-2",
        end_date="2026-01-10",
        campaign_status="Finished",
        campaign_ended=True,
    )
    assert records == [
        msgspec.structs.replace(
            shared,
            device_id="990000862471854",
            status="UpgradeSuccess",
            phase="succeeded",
            result_reason="ok",
        ),
        msgspec.structs.replace(
            shared, device_id="990000862471855", status="Request Pending", phase="pending"
        ),
        msgspec.structs.replace(
            shared, status="Device Rejected", phase="failed", result_reason="Invalid IMEI"
        ),
    ]
    assert result.record.device_phase_counts == {"succeeded": 1, "pending": 1, "failed": 1}
    assert result.record.devices_new is None
    assert result.update is None
    assert result.record.device_status_counts == {
        "UpgradeSuccess": 1,
        "Request Pending": 1,
        "Device Rejected": 1,
    }


@pytest.mark.parametrize("message", AWKWARD)
def test_fast_not_polled_lines_are_the_plain_struct_encoding_byte_for_byte(message):
    refs = [
        REF,
        CampaignRef("acct_B-2", "00000000-0000-0000-0000-000000000000"),
        CampaignRef("0000123456-00001", "44e11f09-6b75-4d97-9307-8beeb9d97d46"),
    ]
    batch = not_polled_batch(RUN_ID, refs, kind="not_polled", message=message, code="E1")
    assert batch.lines == not_polled_lines_plainly(batch.first, refs)
    assert batch.count == len(refs)


def test_not_polled_refs_that_need_escaping_take_the_plain_path():
    # Not made by the id reader or discovery, but a library caller may: still valid JSON.
    refs = [REF, CampaignRef('acc"ount\\', "not,a uuid"), CampaignRef("ünï", "x")]
    batch = not_polled_batch(RUN_ID, refs, kind="not_polled", message="stopped")
    assert batch.lines == not_polled_lines_plainly(batch.first, refs)
    decoded = [msgspec.json.decode(line) for line in batch.lines.splitlines()]
    assert [(d["account_name"], d["upgrade_id"]) for d in decoded] == [
        (ref.account_name, ref.upgrade_id) for ref in refs
    ]
