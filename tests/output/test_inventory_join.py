"""A campaign's devices joined to its account's device list: the records' inventory fields."""

import datetime as dt
import io
import json

import msgspec
import pytest
from msgspec.structs import replace

from fota_poller.api.decode import decode_upgrade
from fota_poller.api.redact import REDACTED, Redactor
from fota_poller.model.inventory import MISSING, CampaignInventory, InventoryEntry
from fota_poller.model.phases import PhaseTable
from fota_poller.model.records import CampaignRecord, DeviceRecord
from fota_poller.model.refs import CampaignRef
from fota_poller.output import device_lines, inventory_join
from fota_poller.output.campaign import CampaignResult, RecordOptions, from_response
from fota_poller.output.device_lines import device_template
from fota_poller.output.inventory_join import (
    MISSING_MODEL,
    MODELS_BY_NAME,
    OTHER_MODELS,
    DeviceJoin,
    joined_lines,
)
from fota_poller.output.sink import RunOutput, StdoutSink
from fota_poller.state.store import Prior
from fota_poller.state.times import to_ms
from fota_poller.testing import read_records

RUN_ID = "5f0c6a3e-2d8e-4a43-9d51-1c1f6f7c2b10"
REF = CampaignRef("0000123456-00001", "e3a8d88a-04c6-4ef3-b039-89b62f91e962")
TARGET = "VerizonFirmwareVersion-02"
OLD = "VerizonFirmwareVersion-01"
RECEIVED = dt.datetime(2026, 11, 26, 4, 14, 18, 432000, tzinfo=dt.UTC)
INVENTORY_KEYS = (
    "model",
    "make",
    "reported_firmware",
    "firmware_upgraded_at",
    "fota_eligible",
    "on_target",
)
CAMPAIGN_KEYS = (
    "inventory",
    "devices_on_target",
    "devices_late",
    "devices_not_in_inventory",
    "device_models",
)


class FakeInventory:
    """An account's device list from a dict, keeping the ids asked for."""

    def __init__(self, entries):
        self.entries = entries
        self.asked = []
        # Each distinct entry without its upgrade time is a kind, as the store's are.
        self.kinds = list(dict.fromkeys(replace(e, upgraded_at=None) for e in entries.values()))

    def find(self, imeis):
        self.asked += imeis
        found = [self.entries.get(imei) for imei in imeis]
        return (
            [
                MISSING if e is None else self.kinds.index(replace(e, upgraded_at=None))
                for e in found
            ],
            [None if e is None else e.upgraded_at for e in found],
        )

    def kind(self, kind):
        return self.kinds[kind]


def entry(model="Model-A", firmware=TARGET, *, make="Acme", at=None, eligible=True):
    return InventoryEntry(model, make, firmware, at, eligible)


def body(devices, firmware_to=TARGET):
    return msgspec.json.encode(
        {
            "id": REF.upgrade_id,
            "accountName": REF.account_name,
            "firmwareName": "FOTA_Verizon_Model-A_01To02_HF",
            "firmwareTo": firmware_to,
            "startDate": "2026-10-01",
            "endDate": "2026-11-20",
            "status": "Finished",
            "deviceList": [
                {"status": status}
                if device_id is None
                else {"deviceId": device_id, "status": status}
                for device_id, status in devices
            ],
        }
    )


def poll(devices, inventory, *, firmware_to=TARGET, options=None, status=200):
    return from_response(
        RUN_ID,
        REF,
        status=status,
        body=body(devices, firmware_to)
        if status == 200
        else b'{"errorCode":"E","errorMessage":"m"}',
        received_at=RECEIVED,
        elapsed_ms=1.0,
        attempts=1,
        options=options or RecordOptions(PhaseTable()),
        inventory=inventory,
    )


def lines_of(result: CampaignResult) -> dict[str | None, DeviceRecord]:
    records = read_records(result.device_lines)
    assert all(isinstance(record, DeviceRecord) for record in records)
    return {record.device_id: record for record in records}


def inventory_of(record: DeviceRecord) -> tuple:
    return tuple(getattr(record, key) for key in INVENTORY_KEYS)


def counts_of(record: CampaignRecord) -> tuple:
    return tuple(getattr(record, key) for key in CAMPAIGN_KEYS)


NIGHT = [
    ("100000000000001", "UpgradeSuccess"),  # on target, succeeded
    ("100000000000002", "RequestPending"),  # on target, pending: a late success
    ("100000000000003", "UpgradeFailed"),  # on target, failed: a late success too
    ("100000000000004", "UpgradeFailed"),  # off target
    ("100000000000005", "UpgradeSuccess"),  # off target though the endpoint says success
    ("100000000000006", "RequestPending"),  # not in the inventory
    (None, "RequestPending"),  # no id: cannot be looked up
    ("100000000000008", "Strange"),  # unknown phase, listed without a model
    ("100000000000009", "Queued"),  # listed with an empty model, no firmware
]
LIST = {
    "100000000000001": entry(at="2026-10-02T01:00:00.000Z"),
    "100000000000002": entry(at="2026-11-23T02:41:07.315Z"),
    "100000000000003": entry("Model-B", at="2026-11-24T00:00:00.001Z", eligible=False),
    "100000000000004": entry("Model-B", OLD),
    "100000000000005": entry("Model-A", OLD, eligible=None),
    "100000000000008": entry(None, OLD, make=None),
    "100000000000009": entry("", None),
}


def test_each_device_carries_what_the_list_says_and_whether_it_runs_the_target():
    result = poll(NIGHT, CampaignInventory("ok", FakeInventory(LIST)))

    lines = lines_of(result)
    assert {device_id: inventory_of(record) for device_id, record in lines.items()} == {
        "100000000000001": ("Model-A", "Acme", TARGET, "2026-10-02T01:00:00.000Z", True, True),
        "100000000000002": ("Model-A", "Acme", TARGET, "2026-11-23T02:41:07.315Z", True, True),
        "100000000000003": ("Model-B", "Acme", TARGET, "2026-11-24T00:00:00.001Z", False, True),
        "100000000000004": ("Model-B", "Acme", OLD, None, True, False),
        "100000000000005": ("Model-A", "Acme", OLD, None, None, False),
        "100000000000006": (None,) * 6,
        None: (None,) * 6,
        "100000000000008": (None, None, OLD, None, True, False),
        # No firmware reported: whether it is on target cannot be told.
        "100000000000009": ("", "Acme", None, None, True, None),
    }
    # The phase stays what the upgrade endpoint says.
    assert lines["100000000000002"].phase == "pending"


def test_the_campaign_counts_late_successes_and_devices_by_model_and_phase():
    record = poll(NIGHT, CampaignInventory("ok", FakeInventory(LIST))).record

    assert record.inventory == "ok"
    assert record.devices_on_target == 3
    assert record.devices_late == 2  # on target, phase not succeeded
    assert record.devices_not_in_inventory == 2  # one not listed, one without an id
    assert record.device_models == {
        "Model-A": {"succeeded": 2, "failed": 0, "pending": 1, "unknown": 0, "on_target": 2,
                    "late": 1},
        "Model-B": {"succeeded": 0, "failed": 2, "pending": 0, "unknown": 0, "on_target": 1,
                    "late": 1},
        MISSING_MODEL: {"succeeded": 0, "failed": 0, "pending": 1, "unknown": 1, "on_target": 0,
                        "late": 0},
    }  # fmt: skip
    # The models' late successes are the campaign's.
    assert sum(row["late"] for row in record.device_models.values()) == record.devices_late
    joined = sum(
        count
        for row in record.device_models.values()
        for key, count in row.items()
        if key not in {"on_target", "late"}
    )
    assert joined == record.device_count - record.devices_not_in_inventory


def test_each_device_is_looked_up_once_in_one_call_for_the_campaign():
    inventory = FakeInventory(LIST)

    poll(NIGHT, CampaignInventory("ok", inventory))

    # A device without an id is asked for too: the list names no such device (test_store).
    assert sorted(inventory.asked, key=str) == sorted((d for d, _ in NIGHT), key=str)


def test_a_campaign_without_a_target_firmware_has_no_device_on_target():
    record = poll(NIGHT, CampaignInventory("ok", FakeInventory(LIST)), firmware_to=None)
    assert {r.on_target for r in read_records(record.device_lines)} == {None}
    assert (record.record.devices_on_target, record.record.devices_late) == (0, 0)
    assert record.record.device_models["Model-A"]["on_target"] == 0


@pytest.mark.parametrize(
    ("inventory", "status"),
    [(None, None), (CampaignInventory("failed"), "failed"), (CampaignInventory("ok"), "failed")],
    ids=["inventory off", "list failed", "ok but no list"],
)
def test_without_a_list_every_inventory_field_is_null(inventory, status):
    result = poll(NIGHT, inventory)

    assert {inventory_of(r) for r in lines_of(result).values()} == {(None,) * 6}
    assert counts_of(result.record) == (status, None, None, None, None)
    # The keys are there all the same: every key of a record is always present.
    first = json.loads(result.device_lines.splitlines()[0])
    assert all(key in first and first[key] is None for key in INVENTORY_KEYS)


def test_inventory_off_writes_the_lines_it_wrote_before_with_null_inventory_fields():
    # The fast path splices the six nulls in: the lines must be what DeviceRecord encodes.
    result = poll(NIGHT, None)
    plain = b"".join(msgspec.json.encode(r) + b"\n" for r in read_records(result.device_lines))
    assert result.device_lines == plain


def test_a_failed_campaign_says_nothing_of_the_inventory():
    result = poll(NIGHT, CampaignInventory("ok", FakeInventory(LIST)), status=400)
    assert result.record.outcome == "failed"
    assert counts_of(result.record) == (None,) * 5


HOSTILE = [
    "Model\x1b[2J\x07",  # a terminal escape and a bell
    "Model\u2028A\u2029",  # line separators
    'Model "A", {"device_id":',  # the very key the splice looks for
    '}\n{"device_id":"x"',
    "Model\\u0000",
    "\x00",
]


def test_hostile_model_names_are_written_escaped_and_read_back_as_sent():
    night = [(str(200000000000000 + n), "UpgradeSuccess") for n in range(len(HOSTILE))]
    listed = {
        device_id: entry(model, make=model)
        for (device_id, _), model in zip(night, HOSTILE, strict=True)
    }
    result = poll(night, CampaignInventory("ok", FakeInventory(listed)))
    writer_bytes = escape_as_written(result.device_lines + msgspec.json.encode(result.record))

    raw_controls = [byte for byte in writer_bytes if byte < 0x20 and byte != ord("\n")]
    assert raw_controls == []
    assert "\u2028".encode() not in writer_bytes
    assert writer_bytes.count(b"\n") == len(night)  # one line a device, the campaign line last
    records = read_records(writer_bytes + b"\n")
    assert [r.model for r in records[:-1]] == HOSTILE
    assert list(records[-1].device_models) == HOSTILE


def escape_as_written(data: bytes) -> bytes:
    """What a run writes of `data` (its line separators escaped), through its output."""
    stream = io.BytesIO()
    RunOutput(StdoutSink(stream), on_failure=print).write(data)
    return stream.getvalue()


def test_a_secret_in_the_list_is_redacted_and_on_target_compares_what_is_written():
    secret = "s3cr3t-token-value-0123456789"
    redactor = Redactor([secret])
    listed = {
        "1": entry(f"Model-{secret}", TARGET),
        "2": entry("Model-A", f"{TARGET}-{secret}", make=secret),
    }
    options = RecordOptions(PhaseTable(), redactor=redactor)
    result = poll(
        [("1", "UpgradeSuccess"), ("2", "UpgradeSuccess")],
        CampaignInventory("ok", FakeInventory(listed)),
        options=options,
    )

    written = result.device_lines + msgspec.json.encode(result.record)
    assert secret.encode() not in written
    lines = lines_of(result)
    assert lines["1"].model == f"Model-{REDACTED}"
    assert (lines["2"].make, lines["2"].reported_firmware, lines["2"].on_target) == (
        REDACTED,
        f"{TARGET}-{REDACTED}",
        False,
    )


def test_a_campaign_of_ten_thousand_models_names_the_most_common_fifty():
    night = [(str(300000000000000 + n), "UpgradeSuccess") for n in range(10_100)]
    # Model-0..Model-99 have two devices each, the 9,900 others one.
    listed = {
        device_id: entry(f"Model-{n % 10_000}", OLD if n % 2 else TARGET)
        for n, (device_id, _) in enumerate(night)
    }
    result = poll(night, CampaignInventory("ok", FakeInventory(listed)))

    models = result.record.device_models
    assert len(models) == MODELS_BY_NAME + 1
    assert list(models)[:-1] == [f"Model-{n}" for n in range(MODELS_BY_NAME)]
    assert list(models)[-1] == OTHER_MODELS
    assert models[OTHER_MODELS]["succeeded"] == 10_100 - 2 * MODELS_BY_NAME
    assert sum(row["on_target"] for row in models.values()) == result.record.devices_on_target
    assert len(msgspec.json.encode(result.record)) < 10_000


def test_a_model_the_server_calls_other_is_summed_with_ours():
    night = [(str(n), "UpgradeSuccess") for n in range(MODELS_BY_NAME + 5)]
    listed = {device_id: entry(f"M{n}") for n, (device_id, _) in enumerate(night)}
    listed["0"] = entry(OTHER_MODELS)
    listed["1"] = entry(OTHER_MODELS)
    models = poll(night, CampaignInventory("ok", FakeInventory(listed))).record.device_models
    assert len(models) <= MODELS_BY_NAME + 1
    assert sum(row["succeeded"] for row in models.values()) == len(night)


def test_a_campaign_over_one_chunk_is_counted_once_and_written_alike(monkeypatch):
    monkeypatch.setattr(device_lines, "CHUNK_DEVICES", 4)
    monkeypatch.setattr(inventory_join, "CHUNK_DEVICES", 4)
    inventory = FakeInventory(LIST)
    big = poll(NIGHT, CampaignInventory("ok", inventory))
    chunks = list(big.lines.chunks())
    monkeypatch.setattr(inventory_join, "CHUNK_DEVICES", 100)
    small = poll(NIGHT, CampaignInventory("ok", FakeInventory(LIST)))

    assert len(chunks) == 3
    assert b"".join(chunks) == small.device_lines
    assert counts_of(big.record) == counts_of(small.record)
    # Counted in one pass, looked up again as written: two lookups a device, never three.
    assert len(inventory.asked) == 2 * len(NIGHT)


def test_writing_a_big_campaign_after_it_was_counted_counts_nothing_more(monkeypatch):
    monkeypatch.setattr(device_lines, "CHUNK_DEVICES", 4)
    monkeypatch.setattr(inventory_join, "CHUNK_DEVICES", 4)
    upgrade = decode_upgrade(body(NIGHT))
    template = device_template(RUN_ID, "2026-11-26T04:14:18.432Z", REF, upgrade, ended=True)
    join = DeviceJoin(FakeInventory(LIST), TARGET, Redactor())
    lines = joined_lines(template, upgrade.device_list, PhaseTable(), join)
    counted = join.counts()

    written = read_records(lines.encode())

    assert join.counts() == counted
    assert sum(record.on_target is True for record in written) == counted.on_target == 3


STATE_NIGHT = [
    ("100000000000001", "UpgradeSuccess"),  # same, on target
    ("100000000000002", "RequestPending"),  # same, on target: late
    ("100000000000004", "UpgradeSuccess"),  # changed, off target
    ("100000000000005", "UpgradeSuccess"),  # new, off target
    (None, "RequestPending"),  # no id
]


def with_state(*, emit_same):
    last = to_ms(RECEIVED) - 86_400_000
    prior = Prior(
        3,
        {
            "100000000000001": ("100000000000001", "UpgradeSuccess", None, last, 1),
            "100000000000002": ("100000000000002", "RequestPending", None, last, 1),
            "100000000000004": ("100000000000004", "RequestPending", None, last, None),
            "100000000000099": ("100000000000099", "RequestPending", None, last, 0),  # gone
        },
    )
    return RecordOptions(
        PhaseTable(), previous=lambda _account, _upgrade: prior, emit_same=emit_same
    )


@pytest.mark.parametrize("emit_same", [True, False], ids=["emit all", "emit changes"])
def test_with_state_the_inventory_fields_ride_along_with_the_change_fields(emit_same):
    listed = dict(LIST) | {"100000000000099": entry()}
    result = poll(
        STATE_NIGHT,
        CampaignInventory("ok", FakeInventory(listed)),
        options=with_state(emit_same=emit_same),
    )

    lines = lines_of(result)
    got = {d: (r.change, r.model, r.reported_firmware, r.on_target) for d, r in lines.items()}
    expected = {
        "100000000000001": ("same", "Model-A", TARGET, True),
        "100000000000002": ("same", "Model-A", TARGET, True),
        "100000000000004": ("changed", "Model-B", OLD, False),
        "100000000000005": ("new", "Model-A", OLD, False),
        None: (None, None, None, None),
        # A gone device is no longer the campaign's: not joined, not counted.
        "100000000000099": ("gone", None, None, None),
    }
    if not emit_same:
        expected = {d: v for d, v in expected.items() if v[0] != "same"}
    assert got == expected
    # The campaign line counts every device of tonight, its line emitted or not.
    record = result.record
    assert (record.devices_new, record.devices_changed, record.devices_gone) == (1, 1, 1)
    assert counts_of(record)[:4] == ("ok", 2, 1, 1)
    assert record.device_models == {
        "Model-A": {"succeeded": 2, "failed": 0, "pending": 1, "unknown": 0, "on_target": 2,
                    "late": 1},
        "Model-B": {"succeeded": 1, "failed": 0, "pending": 0, "unknown": 0, "on_target": 0,
                    "late": 0},
    }  # fmt: skip
    # The state learns what it learned before: the inventory is not stored (yet).
    assert sorted(row[0] for row in result.update.upserts) == ["100000000000004", "100000000000005"]


def test_with_state_and_inventory_off_the_lines_are_the_plain_encoding():
    result = poll(STATE_NIGHT, None, options=with_state(emit_same=True))
    plain = b"".join(msgspec.json.encode(r) + b"\n" for r in read_records(result.device_lines))
    assert result.device_lines == plain
    assert {inventory_of(r) for r in lines_of(result).values()} == {(None,) * 6}
    assert counts_of(result.record) == (None,) * 5
