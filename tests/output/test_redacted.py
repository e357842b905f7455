"""A record's server text: a 200 body's strings and a failed record's error fields."""

from __future__ import annotations

import base64

import msgspec

from fota_poller.api.decode import Device, UpgradeInfo
from fota_poller.api.redact import REDACTED, Redactor
from fota_poller.model.refs import CampaignRef
from fota_poller.output.campaign import from_request_error
from fota_poller.output.redacted import redacted_record, redacted_upgrade

TOKEN = "session-token-0123456789"


def upgrade(*devices: Device, status: str = "UpgradeInProgress") -> UpgradeInfo:
    return UpgradeInfo(id="u", account_name="a", status=status, device_list=list(devices))


def test_a_body_without_a_secret_is_returned_as_it_is():
    redactor = Redactor([TOKEN])
    clean = upgrade(Device("350000000000001", "UpgradeSuccess", "ok"))

    assert redacted_upgrade(clean, redactor) is clean


def test_every_string_of_a_body_that_echoes_a_secret_is_redacted():
    redactor = Redactor([TOKEN])
    echoed = upgrade(
        Device("350000000000001", f"echo {TOKEN}", None),
        Device("350000000000002", "UpgradeSuccess", f"Bearer {TOKEN}"),
        Device(f"id-{TOKEN}", "UpgradeSuccess", None),
        status=TOKEN,
    )

    shown = redacted_upgrade(echoed, redactor)

    assert TOKEN not in msgspec.json.encode(shown).decode()
    assert shown.status == REDACTED
    assert shown.device_list == [
        Device("350000000000001", f"echo {REDACTED}", None),
        Device("350000000000002", "UpgradeSuccess", f"Bearer {REDACTED}"),
        Device(f"id-{REDACTED}", "UpgradeSuccess", None),
    ]


def test_a_device_id_that_is_a_secret_whole_or_too_long_for_a_device_is_redacted():
    redactor = Redactor([TOKEN])
    encoded = base64.b64encode(TOKEN.encode()).decode()
    long_id = f"Bearer {'x' * 60}"

    shown = redacted_upgrade(upgrade(Device(encoded), Device(long_id), Device("35")), redactor)

    assert [device.device_id for device in shown.device_list or []] == [
        REDACTED,
        f"Bearer {REDACTED}",
        "35",
    ]


def test_a_failed_record_has_its_error_text_redacted_then_cut():
    redactor = Redactor([TOKEN])
    record = from_request_error(
        "run",
        CampaignRef("a", "u"),
        kind="api",
        message="M" * 2_000_000,
        attempts=1,
        code=f"{'C' * 195}{TOKEN}",
    ).record

    shown = redacted_record(record, redactor)

    assert shown.error_code == f"{'C' * 195}{REDACTED}"[:200] + "…[cut, 219 chars]"
    assert shown.error_message == "M" * 200 + "…[cut, 2000000 chars]"
