"""One device-list page: its shape, whose it is, and whether its index advances."""

from __future__ import annotations

import pytest

from fota_poller.errors import InputDecodeError
from fota_poller.inventory.device_list import (
    DeviceListPage,
    advances,
    decode_device_list,
    foreign_page,
    index_text,
)


def test_a_page_in_the_sdks_shape_decodes_without_the_phone_number() -> None:
    body = (
        b'{"accountName": "A-1", "hasMoreData": true, "lastSeenDeviceId": 900000000001000,'
        b' "deviceList": [{"deviceId": "900000000001000", "mdn": "15556667777",'
        b' "model": "M", "make": "K", "firmware": "F", "fotaEligible": false,'
        b' "licenseAssigned": true, "upgradeTime": "01/01/1900 0:0:0", "newField": [1]}]}'
    )
    page = decode_device_list(body)
    assert page.has_more_data
    assert page.last_seen_device_id == 900000000001000
    [device] = page.device_list or []
    assert device.fota_eligible is False
    assert "15556667777" not in repr(device)


def test_an_empty_object_is_a_last_page_of_nothing() -> None:
    page = decode_device_list(b"{}")
    assert page == DeviceListPage()
    assert not page.has_more_data


@pytest.mark.parametrize("body", [b"", b"null", b"[]", b'{"deviceList": {}}', b"\xff"])
def test_what_is_not_a_page_is_one_decode_error(body: bytes) -> None:
    with pytest.raises(InputDecodeError):
        decode_device_list(body)


def test_a_page_that_names_no_account_or_this_one_is_this_accounts() -> None:
    assert foreign_page(DeviceListPage(), "A-1") is None
    assert foreign_page(DeviceListPage(account_name="A-1"), "A-1") is None
    reason = foreign_page(DeviceListPage(account_name="B-2\x1b[2J"), "A-1")
    assert reason is not None
    assert "\x1b" not in reason


@pytest.mark.parametrize(
    ("last_seen", "expected"),
    [(0, "0"), (900000000001000, "900000000001000"), ("35-x", "35-x"), (None, None), ("", None)],
)
def test_the_last_seen_id_as_the_next_index(
    last_seen: int | str | None, expected: str | None
) -> None:
    assert index_text(last_seen) == expected


@pytest.mark.parametrize(
    ("index", "previous", "expected"),
    [
        ("200", "100", True),
        ("100", "100", False),
        ("99", "100", False),  # as numbers, not as text ("99" > "100" as text)
        ("0100", "100", False),  # the same number
        ("1000", "0", True),
        ("B", "A", True),
        ("A", "A", False),
        ("35x", "0", True),
    ],
)
def test_an_index_advances_only_past_the_previous_one(
    index: str, previous: str, expected: bool
) -> None:
    assert advances(index, previous) is expected
