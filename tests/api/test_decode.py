"""Decoding bodies: the documented example, missing and extra fields, wrong types, error shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from fota_poller.api.decode import decode_error, decode_upgrade
from fota_poller.errors import UpgradeDecodeError
from fota_poller.model.phases import PhaseTable
from fota_poller.model.records import DeviceRecord
from fota_poller.model.refs import CampaignRef
from fota_poller.output import campaign
from fota_poller.testing import read_records

# The page's example response, with the comma it is missing after deviceList restored.
PAGE_EXAMPLE = b"""{
  "id":"e3a8d88a-04c6-4ef3-b039-89b62f91e962",
  "accountName":"0402196254-00001",
  "firmwareName":"FOTA_Verizon_Model-A_01To02_HF",
  "firmwareTo": "VerizonFirmwareVersion-02",
  "startDate":"2018-04-01",
  "status":"Queued",
  "deviceList": [
    {
      "deviceId": "15-digit IMEI",
      "status": "Device Accepted",
      "resultReason": "success"
    },
    {
      "deviceId": "15-digit IMEI",
      "status": "Device Accepted",
      "resultReason": "success"
    }
  ],
  "endDate": "2018-04-05"
}"""

REF = CampaignRef("0402196254-00001", "e3a8d88a-04c6-4ef3-b039-89b62f91e962")
POLLED = datetime(2026, 11, 25, 2, 0, 0, 123456, tzinfo=UTC)


def result_of(status: int, body: bytes) -> campaign.CampaignResult:
    return campaign.from_response(
        "run", REF, status=status, body=body, received_at=POLLED, elapsed_ms=1.0, attempts=1,
        options=campaign.RecordOptions(PhaseTable()),
    )  # fmt: skip


def device_lines(result: campaign.CampaignResult) -> list[DeviceRecord]:
    return read_records(result.device_lines)


def test_the_page_example_decodes_with_end_date_kept() -> None:
    upgrade = decode_upgrade(PAGE_EXAMPLE)
    assert upgrade.end_date == "2018-04-05"
    assert upgrade.status == "Queued"
    assert upgrade.device_list is not None
    assert [d.status for d in upgrade.device_list] == ["Device Accepted"] * 2


def test_the_page_example_as_sent_is_a_decode_failure_not_a_guess() -> None:
    as_printed = PAGE_EXAMPLE.replace(b"],\n", b"]\n")
    result = result_of(200, as_printed)
    assert result.record.outcome == "failed"
    assert result.record.error_kind == "decode"
    assert result.device_lines == b""


def test_the_page_example_becomes_device_and_campaign_records() -> None:
    result = result_of(200, PAGE_EXAMPLE)
    record = result.record
    assert record.outcome == "ok"
    # The example names its placeholder device id twice: one device, listed twice.
    assert record.device_count == 1
    assert record.devices_duplicate == 1
    assert record.device_status_counts == {"Device Accepted": 1}
    assert record.campaign_ended is True
    assert record.polled_at == "2026-11-25T02:00:00.123Z"
    devices = device_lines(result)
    assert len(devices) == 1
    assert devices[0].end_date == "2018-04-05"
    assert devices[0].campaign_ended is True
    assert devices[0].result_reason == "success"


def test_missing_end_date_leaves_campaign_ended_unknown() -> None:
    body = msgspec.json.encode({"id": REF.upgrade_id, "deviceList": [{"deviceId": "1"}]})
    result = result_of(200, body)
    assert result.record.outcome == "ok"
    assert result.record.end_date is None
    assert result.record.campaign_ended is None
    assert device_lines(result)[0].campaign_ended is None


def test_missing_device_list_is_a_campaign_with_no_devices() -> None:
    result = result_of(200, msgspec.json.encode({"id": REF.upgrade_id, "status": "RequestFailed"}))
    assert result.record.outcome == "ok"
    assert result.record.device_count == 0
    assert result.record.device_status_counts == {}
    assert result.device_lines == b""


def test_unknown_fields_are_ignored_and_statuses_pass_through() -> None:
    body = msgspec.json.encode(
        {
            "status": "SomethingNew",
            "newField": {"nested": [1, 2]},
            "deviceList": [
                {"deviceId": "1", "status": "Request Pending", "extra": True},
                {"deviceId": "2"},
            ],
        }
    )
    result = result_of(200, body)
    assert result.record.campaign_status == "SomethingNew"
    assert result.record.device_status_counts == {"Request Pending": 1, "(missing)": 1}
    devices = device_lines(result)
    assert devices[0].result_reason is None
    assert devices[1].status is None


def test_a_wrong_type_is_a_decode_failure_naming_the_path() -> None:
    body = b'{"deviceList": [{"deviceId": 359750461470475}]}'
    with pytest.raises(UpgradeDecodeError, match=r"\$\.deviceList\[0\]\.deviceId"):
        decode_upgrade(body)
    record = result_of(200, body).record
    assert record.outcome == "failed"
    assert record.error_kind == "decode"
    assert "deviceList[0].deviceId" in (record.error_message or "")
    assert record.http_status == 200


def test_an_html_error_page_is_an_http_failure_with_its_status() -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>"
    record = result_of(502, html).record
    assert record.outcome == "failed"
    assert record.error_kind == "http"
    assert record.http_status == 502
    assert record.error_code is None
    assert "502 Bad Gateway" in (record.error_message or "")
    assert "\n" not in (record.error_message or "")


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            b'{"fault": {"code": "900901", "message": "Invalid Credentials", "description": "x"}}',
            "900901",
            "Invalid Credentials",
        ),
        (b'{"fault": {"code": 900902, "message": "Missing Credentials"}}', "900902", None),
        (
            (
                b'{"errorCode": "UnifiedWebService.REQUEST_FAILED.AccountNotFound", '
                b'"errorMessage": "Account not found."}'
            ),
            "UnifiedWebService.REQUEST_FAILED.AccountNotFound",
            "Account not found.",
        ),
        (
            b'{"error": "invalid_client", "error_description": "Client authentication failed"}',
            "invalid_client",
            "Client authentication failed",
        ),
    ],
)
def test_each_error_shape_gives_its_code_and_message(
    body: bytes, code: str, message: str | None
) -> None:
    record = result_of(400, body).record
    assert record.error_kind == "api"
    assert record.error_code == code
    if message is not None:
        assert record.error_message == message
    error = decode_error(body)
    assert error is not None
    assert error.code == code


def test_json_that_is_no_error_shape_is_an_http_failure() -> None:
    record = result_of(503, b'{"unexpected": true}').record
    assert record.error_kind == "http"
    assert record.http_status == 503


def test_an_empty_error_body_still_names_the_status() -> None:
    record = result_of(504, b"").record
    assert record.error_kind == "http"
    assert record.error_message == "HTTP 504"


OTHER_REF = CampaignRef("0000123456-00001", "44e11f09-6b75-4d97-9307-8beeb9d97d46")


def test_the_page_example_for_another_pair_is_a_decode_failure_naming_both() -> None:
    # The example body (account 0402196254-00001, id e3a8...) answering a different request.
    result = campaign.from_response(
        "run", OTHER_REF, status=200, body=PAGE_EXAMPLE, received_at=POLLED, elapsed_ms=1.0,
        attempts=1, options=campaign.RecordOptions(PhaseTable()),
    )  # fmt: skip
    record = result.record
    message = record.error_message or ""
    assert record.outcome == "failed"
    assert record.error_kind == "decode"
    assert (record.account_name, record.upgrade_id) == (
        OTHER_REF.account_name,
        OTHER_REF.upgrade_id,
    )
    assert record.device_count is None
    assert result.device_lines == b""
    assert "e3a8d88a-04c6-4ef3-b039-89b62f91e962" in message
    assert "0402196254-00001" in message
    assert OTHER_REF.upgrade_id in message
    assert OTHER_REF.account_name in message


@pytest.mark.parametrize(
    ("fields", "ok"),
    [
        ({"id": REF.upgrade_id.upper(), "accountName": REF.account_name}, True),
        ({"id": "{" + REF.upgrade_id + "}"}, True),
        ({"accountName": REF.account_name}, True),
        ({}, True),
        ({"id": OTHER_REF.upgrade_id}, False),
        ({"id": REF.upgrade_id, "accountName": OTHER_REF.account_name}, False),
        # Account names compare exactly: another case is another account.
        ({"id": REF.upgrade_id, "accountName": REF.account_name.lower() + "x"}, False),
        ({"id": "not a uuid"}, False),
        ({"id": ""}, False),
    ],
)
def test_a_body_is_this_campaigns_unless_its_id_or_account_differs(
    fields: dict[str, str], ok: bool
) -> None:
    body = msgspec.json.encode({**fields, "deviceList": [{"deviceId": "1"}]})
    record = result_of(200, body).record
    assert (record.outcome == "ok") is ok
    assert (record.error_kind == "decode") is not ok


def test_a_foreign_id_is_quoted_short_and_escaped() -> None:
    body = msgspec.json.encode({"id": "\x1b[2J\u2028" + "x" * 100_000})
    message = result_of(200, body).record.error_message or ""
    assert len(message) < 250
    assert message.isprintable()
    assert "\\x1b[2J\\u2028" in message
