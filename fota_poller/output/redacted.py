"""A record's server text redacted and bounded before it leaves the process.

Two places see text a server chose: a 200 body's strings (statuses, firmware names, reasons),
which go to the device lines, the campaign line, the metrics labels and the state; and a
failed record's `error_code` and `error_message` (an error body, a redirect's `Location`, a
stop's reason). The first are redacted where the body is decoded, only when
`Redactor.mentions` finds a secret's trace in the raw body (a million devices must not each
pay for a `redact`); the second where the writer writes them, redacted, then cut to
`ERROR_TEXT_CHARS`.
"""

from __future__ import annotations

import msgspec

from fota_poller.api.decode import Device, UpgradeInfo
from fota_poller.api.redact import Redactor
from fota_poller.output.records import CampaignRecord
from fota_poller.text import ERROR_TEXT_CHARS

_UPGRADE_TEXT = ("id", "account_name", "firmware_name", "firmware_to", "start_date", "end_date")


def redacted_upgrade(upgrade: UpgradeInfo, body: bytes, redactor: Redactor) -> UpgradeInfo:
    """`upgrade` as decoded from `body`, every string redacted when the body may hold a secret."""
    if not redactor.mentions(body):
        return upgrade

    def text(value: str | None) -> str | None:
        return None if value is None else redactor.redact(value)

    devices = upgrade.device_list
    if devices is not None:
        devices = [
            Device(text(device.device_id), text(device.status), text(device.result_reason))
            for device in devices
        ]
    changes: dict[str, object] = {name: text(getattr(upgrade, name)) for name in _UPGRADE_TEXT}
    return msgspec.structs.replace(
        upgrade, status=text(upgrade.status), device_list=devices, **changes
    )


def redacted_record(record: CampaignRecord, redactor: Redactor) -> CampaignRecord:
    """`record` with its error code and message redacted and cut to `ERROR_TEXT_CHARS`."""
    code, message = record.error_code, record.error_message
    if code is None and message is None:
        return record  # an ok record: its body's text was redacted when it was decoded
    return msgspec.structs.replace(
        record,
        error_code=None if code is None else redactor.redact(code, limit=ERROR_TEXT_CHARS),
        error_message=None if message is None else redactor.redact(message, limit=ERROR_TEXT_CHARS),
    )
