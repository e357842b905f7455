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
    }
    missing_key = {k: v for k, v in device.items() if k != "status"}
    wrong_type = {**device, "campaign_ended": "no"}
    unknown_kind = {**device, "record": "devices"}
    unknown_phase = {**device, "phase": "done"}
    unknown_change = {**device, "change": "moved"}

    assert validator.is_valid(device)
    assert not validator.is_valid(missing_key)
    assert not validator.is_valid(wrong_type)
    assert not validator.is_valid(unknown_kind)
    assert not validator.is_valid(unknown_phase)
    assert not validator.is_valid(unknown_change)
