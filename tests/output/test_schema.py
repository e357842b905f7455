"""The records' JSON schema (docs/records.schema.json) holds records to their contract."""

import pytest
from helpers import records_validator


@pytest.fixture(scope="module")
def validator():
    return records_validator()


def test_schema_rejects_a_record_that_breaks_the_contract(validator):
    device = {
        "record": "device",
        "run_id": "r",
        "polled_at": "2026-11-25T02:00:00.123Z",
        "account_name": "0000123456-00001",
        "upgrade_id": "e3a8d88a-04c6-4ef3-b039-89b62f91e962",
        "firmware_name": None,
        "firmware_to": None,
        "start_date": None,
        "end_date": None,
        "campaign_status": "Queued",
        "campaign_ended": None,
        "device_id": "990000862471854",
        "status": "Device Accepted",
        "phase": "pending",
        "result_reason": "success",
        "previous_status": "RequestPending",
        "status_since": "2026-11-25T02:00:00.123Z",
        "change": "changed",
        "model": "Model-A",
        "make": "Acme",
        "reported_firmware": "VerizonFirmwareVersion-02",
        "firmware_upgraded_at": None,
        "fota_eligible": True,
        "on_target": False,
    }
    missing_key = {k: v for k, v in device.items() if k != "status"}
    wrong_type = {**device, "campaign_ended": "no"}
    unknown_kind = {**device, "record": "devices"}
    unknown_phase = {**device, "phase": "done"}
    unknown_change = {**device, "change": "moved"}
    missing_inventory_key = {k: v for k, v in device.items() if k != "on_target"}
    on_target_as_text = {**device, "on_target": "yes"}

    assert validator.is_valid(device)
    assert not validator.is_valid(missing_key)
    assert not validator.is_valid(wrong_type)
    assert not validator.is_valid(unknown_kind)
    assert not validator.is_valid(unknown_phase)
    assert not validator.is_valid(unknown_change)
    assert not validator.is_valid(missing_inventory_key)
    assert not validator.is_valid(on_target_as_text)


def test_schema_holds_a_campaign_to_the_inventory_fields(validator):
    campaign = {
        "record": "campaign",
        "run_id": "r",
        "polled_at": "2026-11-25T02:00:00.123Z",
        "account_name": "0000123456-00001",
        "upgrade_id": "e3a8d88a-04c6-4ef3-b039-89b62f91e962",
        "outcome": "ok",
        "campaign_status": "Queued",
        "firmware_name": None,
        "firmware_to": "VerizonFirmwareVersion-02",
        "start_date": None,
        "end_date": None,
        "campaign_ended": None,
        "device_count": 2,
        "device_status_counts": {"UpgradeSuccess": 1, "RequestPending": 1},
        "device_phase_counts": {"succeeded": 1, "pending": 1},
        "devices_duplicate": 0,
        "devices_new": None,
        "devices_changed": None,
        "devices_gone": None,
        "inventory": "ok",
        "devices_on_target": 2,
        "devices_late": 1,
        "devices_not_in_inventory": 0,
        "device_models": {
            "Model-A": {"succeeded": 1, "failed": 0, "pending": 1, "unknown": 0, "on_target": 2}
        },
        "attempts": 1,
        "http_status": 200,
        "elapsed_ms": 1.0,
        "error_kind": None,
        "error_code": None,
        "error_message": None,
    }
    assert validator.is_valid(campaign)
    assert validator.is_valid({**campaign, "inventory": "failed", "device_models": None})
    assert not validator.is_valid({**campaign, "inventory": "partial"})
    assert not validator.is_valid({**campaign, "device_models": {"Model-A": {"succeeded": "1"}}})
    assert not validator.is_valid({k: v for k, v in campaign.items() if k != "devices_late"})
