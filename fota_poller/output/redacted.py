"""A record's server text redacted and bounded before it leaves the process.

Two places see text a server chose: a 200 body's strings (statuses, firmware names, reasons,
device ids), which go to the device lines, the campaign line, the metrics labels and the
state; and a failed record's `error_code` and `error_message` (an error body, a redirect's
`Location`, a stop's reason). The first are redacted where the body is decoded, each
distinct value once (a campaign's devices share a few statuses and reasons). A device id
is looked up whole among the secrets and their forms; it is searched in full only when the
body held a secret elsewhere or the id is longer than any device's (`_ID_CHARS`): a million
ids must not each pay for a search of every form. The second are redacted where the writer
writes them, then cut to `ERROR_TEXT_CHARS`.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Final, cast

import msgspec

from fota_poller.api.decode import Device, UpgradeInfo
from fota_poller.api.redact import Redactor
from fota_poller.model.records import CampaignRecord
from fota_poller.output.device_list import Survey, survey
from fota_poller.text import ERROR_TEXT_CHARS

_reason_of = attrgetter("result_reason")
# Longer than any device id in use (an IMEI is 15 characters, an ICCID 20, a MAC 17): such
# an id is searched for secrets in full, as every id of a body that held one elsewhere.
_ID_CHARS: Final = 64


def redacted_upgrade(
    upgrade: UpgradeInfo, redactor: Redactor, devices_read: Survey | None = None
) -> UpgradeInfo:
    """`upgrade` with every secret in its text replaced; itself when it holds none.

    `devices_read`: the survey of its device list, when already made.
    """
    devices = upgrade.device_list or []
    read = survey(devices) if devices_read is None else devices_read
    texts = {
        upgrade.id,
        upgrade.account_name,
        upgrade.firmware_name,
        upgrade.firmware_to,
        upgrade.start_date,
        upgrade.end_date,
        upgrade.status,
    }
    texts.update(read.statuses)
    texts.update(map(_reason_of, devices))
    texts.discard(None)
    changed = redactor.changed_among(cast("set[str]", texts))  # None just discarded
    ids = read.ids
    secret_ids = redactor.secrets_among(ids)
    long_id = max(map(len, filter(None, ids)), default=0) > _ID_CHARS
    if not changed and not secret_ids and not long_id:
        return upgrade
    # This body holds a secret, or an id no device has: search every id in full.
    id_shown = {value: redactor.redact(value) for value in ids if value is not None}

    def text(value: str | None) -> str | None:
        return None if value is None else changed.get(value, value)

    def device_id(value: str | None) -> str | None:
        return None if value is None else id_shown[value]

    return msgspec.structs.replace(
        upgrade,
        id=text(upgrade.id),
        account_name=text(upgrade.account_name),
        firmware_name=text(upgrade.firmware_name),
        firmware_to=text(upgrade.firmware_to),
        start_date=text(upgrade.start_date),
        end_date=text(upgrade.end_date),
        status=text(upgrade.status),
        device_list=None
        if upgrade.device_list is None
        else [
            Device(device_id(device.device_id), text(device.status), text(device.result_reason))
            for device in devices
        ],
    )


def redacted_and_surveyed(upgrade: UpgradeInfo, redactor: Redactor) -> tuple[UpgradeInfo, Survey]:
    """`redacted_upgrade`, and the survey of the device list it gives (surveyed once if clean)."""
    read = survey(upgrade.device_list or [])
    redacted = redacted_upgrade(upgrade, redactor, read)
    if redacted is upgrade:
        return upgrade, read
    return redacted, survey(redacted.device_list or [])


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
