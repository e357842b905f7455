"""What one page of an account's device list holds, and how its body is decoded.

`GET {base}/fota/v1/devices/{account}/index/{startIndex}` answers with at most 1,000 devices
(docs/thingspace.md). Every field is optional, as in Verizon's SDK. The body goes through
`fota_poller.decoding.decode`, so a hostile one (invalid UTF-8, nesting a thousand deep,
the wrong shape) is one `InputDecodeError`, never anything else.

Each device's `mdn` (its phone number: personal data) is not in the shape: msgspec skips it
unread, so it never becomes a string in this process, let alone a log line or a record.
"""

from __future__ import annotations

import msgspec

from fota_poller.decoding import decode
from fota_poller.text import excerpt


class ListedDevice(msgspec.Struct, rename="camel"):
    """One entry of `deviceList`: the firmware it runs now, its model, when it last upgraded."""

    # The IMEI; a string in the API, an integer read too (a JSON number loses nothing here).
    device_id: str | int | None = None
    model: str | None = None
    make: str | None = None
    # Named like an upgrade's `firmwareTo` (`VerizonFirmwareVersion-02`).
    firmware: str | None = None
    fota_eligible: bool | None = None
    license_assigned: bool | None = None
    # Go's time format (`2021-06-03 00:03:56.079 +0000 UTC`): read by upgrade_time.py.
    upgrade_time: str | None = None


class DeviceListPage(msgspec.Struct, rename="camel"):
    """One page of the device list."""

    account_name: str | None = None
    has_more_data: bool = False
    # The next startIndex while hasMoreData is true. Verizon's SDK types it as an integer,
    # "0 if hasMoreData=false"; a string (an IMEI) or null is read the same way.
    last_seen_device_id: int | str | None = None
    device_list: list[ListedDevice] | None = None


_page_decoder = msgspec.json.Decoder(DeviceListPage)


def decode_device_list(body: bytes) -> DeviceListPage:
    """The page in `body`; `InputDecodeError` (one line) when it is not one."""
    return decode(_page_decoder.decode, body)


def foreign_page(page: DeviceListPage, account: str) -> str | None:
    """Why a page is another account's, naming both; None when it is `account`'s or does not say.

    A proxy or cache that mixes up answers must not get another account's firmware joined to
    this account's devices (as `output.campaign.foreign_body` refuses an upgrade's).
    """
    if page.account_name is None or page.account_name == account:
        return None
    return f"page is for account {excerpt(page.account_name)}, not account {account} as asked"


def index_text(last_seen: int | str | None) -> str | None:
    """`lastSeenDeviceId` as the next startIndex's text; None when it names no device."""
    if last_seen is None or last_seen == "":
        return None
    return str(last_seen)


def advances(index: str, previous: str) -> bool:
    """True when `index` is past `previous`: as numbers when both are digits, else as text.

    The API returns "devices with IMEIs larger than this value", so an index that is not
    larger would ask for devices already listed (or the same page again, forever).
    """
    if index.isascii() and index.isdigit() and previous.isascii() and previous.isdigit():
        return int(index) > int(previous)
    return index > previous
