"""The account device list route, paged like ThingSpace's, with misbehaviours for worst nights.

`GET /fota/v1/devices/{account}/index/{startIndex}`: up to `page_size` devices whose IMEIs are
greater than `startIndex` (0 for the first page), in IMEI order. While `hasMoreData` is true,
`lastSeenDeviceId` is the page's last IMEI as an integer; on the last page it is 0.
`InventoryOptions.quirk` changes that (QUIRKS in inventory.py):

- `stuck`: a page after the first repeats the `startIndex` it was asked for (never advances);
- `backwards`: a page after the first says `startIndex - 1` (goes back);
- `null_last`: the last page's `lastSeenDeviceId` is null;
- `string_last`: every `lastSeenDeviceId` is a string, the last page's its last IMEI;
- `empty_last`: every page says `hasMoreData: true`; past the last device an empty page does
  too, its `lastSeenDeviceId` the `startIndex` asked for;
- `duplicate`: each page lists its first device twice, first a stale copy (firmware
  `VerizonFirmwareVersion-00`, never upgraded), then the true entry;
- `foreign`: every page names another account (`FOREIGN_ACCOUNT`).
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final

import msgspec
from aiohttp import web

from fota_poller.simulator.answers import ACCOUNT_NOT_FOUND, ServiceError, json_response
from fota_poller.simulator.inventory import (
    MODELS,
    CampaignDeviceTruth,
    InventoryTable,
    InventoryTruth,
    firmware_name,
    upgrade_time_text,
)
from fota_poller.simulator.inventory_build import build_table, campaign_truth

if TYPE_CHECKING:
    from fota_poller.simulator.catalog import Catalog
    from fota_poller.simulator.counting import SimulatorStats

INVENTORY_ROUTE: Final = "/fota/v1/devices/{accountName}/index/{startIndex}"
FOREIGN_ACCOUNT: Final = "9999999999-99999"
_STALE_FIRMWARE: Final = 0
_TABLES_KEPT: Final = 8
_BAD_START_INDEX: Final = ServiceError("INVALID_PARAMETER", "Invalid startIndex")

Authorize = Callable[[web.Request], "web.Response | None"]


class InventoryDevice(msgspec.Struct, frozen=True, rename="camel"):
    """One entry of the device list, as ThingSpace names its fields."""

    device_id: str
    mdn: str
    model: str
    make: str
    firmware: str
    fota_eligible: bool
    license_assigned: bool
    upgrade_time: str


class InventoryPage(msgspec.Struct, frozen=True, rename="camel"):
    """One page of the device list."""

    account_name: str
    has_more_data: bool
    last_seen_device_id: int | str | None
    device_list: list[InventoryDevice]


class DeviceInventory:
    """Every account's device list on the catalogue's current day, built on first use.

    The truth tests compare a poller's output with: `truth` (the device list itself) and
    `campaign_truth` (each campaign device on target or not, late or not).
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.options = catalog.options.inventory
        # (account, day) -> its list, most recently used last; a few kept (a test compares days).
        self._tables: dict[tuple[str, int], InventoryTable] = {}

    def table(self, account: str, day: int | None = None) -> InventoryTable:
        """The device list of `account` on `day` (the catalogue's day by default)."""
        key = (account, self.catalog.day if day is None else day)
        table = self._tables.pop(key, None)
        if table is None:
            table = build_table(self.catalog, account, self.options, key[1])
        self._tables[key] = table
        while len(self._tables) > _TABLES_KEPT:
            del self._tables[next(iter(self._tables))]
        return table

    def truth(self, account: str, day: int | None = None) -> dict[str, InventoryTruth]:
        """IMEI -> what the device list says of it, for every device of `account`."""
        table = self.table(account, day)
        return {str(imei): table.truth(at) for at, imei in enumerate(table.imeis)}

    def campaign_truth(
        self, account: str, upgrade_id: str, day: int | None = None
    ) -> dict[str, CampaignDeviceTruth]:
        """IMEI -> on target and late for each device of the campaign; KeyError if none."""
        on_day = self.catalog.day if day is None else day
        campaign = self.catalog.campaign_on(account, upgrade_id, on_day)
        if campaign is None:
            raise KeyError(f"no campaign {upgrade_id} under {account}")
        return campaign_truth(self.table(account, day), campaign)

    def page(self, account: str, start_index: int) -> InventoryPage:
        """The page of devices with IMEIs greater than `start_index`, quirks applied."""
        table = self.table(account)
        quirk = self.options.quirk
        low = bisect.bisect_right(table.imeis, start_index)
        high = min(low + self.options.page_size, len(table))
        devices = [_device(table, at) for at in range(low, high)]
        more = high < len(table)
        last: int | str | None = table.imeis[high - 1] if more else 0
        if quirk == "stuck" and more and start_index:
            last = start_index
        elif quirk == "backwards" and more and start_index:
            last = start_index - 1
        elif quirk == "null_last" and not more:
            last = None
        elif quirk == "string_last":
            last = str(table.imeis[high - 1]) if devices else "0"
        elif quirk == "empty_last":
            more, last = True, table.imeis[high - 1] if devices else start_index
        elif quirk == "duplicate" and devices:
            stale = _device(table, low, firmware=_STALE_FIRMWARE, never=True)
            devices.insert(0, stale)
        name = FOREIGN_ACCOUNT if quirk == "foreign" else account
        return InventoryPage(
            account_name=name, has_more_data=more, last_seen_device_id=last, device_list=devices
        )


def _device(
    table: InventoryTable, at: int, *, firmware: int | None = None, never: bool = False
) -> InventoryDevice:
    model, make = MODELS[table.models[at]]
    truth_flags = table.truth_flags(at)
    return InventoryDevice(
        device_id=str(table.imeis[at]),
        mdn=str(table.mdns[at]),
        model=model,
        make=make,
        firmware=firmware_name(table.firmware[at] if firmware is None else firmware),
        fota_eligible=truth_flags[0],
        license_assigned=truth_flags[1],
        upgrade_time=upgrade_time_text(None if never else table.upgraded_ms[at]),
    )


def parse_start_index(text: str) -> int | None:
    """`startIndex` as a number (0 or an IMEI), or None when it is not one."""
    return int(text) if text.isascii() and text.isdecimal() and len(text) <= 20 else None  # noqa: PLR2004


def all_pages(inventory: DeviceInventory, account: str) -> Iterator[tuple[int, bytes]]:
    """(startIndex, encoded page) for every page a client following the pages asks for."""
    encoder = msgspec.json.Encoder()
    start = 0
    while True:
        page = inventory.page(account, start)
        yield start, encoder.encode(page)
        if not page.has_more_data or not page.device_list:
            return
        start = int(page.device_list[-1].device_id)


def add_inventory_routes(
    app: web.Application, inventory: DeviceInventory, stats: SimulatorStats, authorize: Authorize
) -> None:
    """Serve `inventory` on the device-list route, checking credentials with `authorize`."""
    catalog = inventory.catalog
    encoder = msgspec.json.Encoder()

    async def get_devices(request: web.Request) -> web.Response:
        stats.request_started()
        status = web.HTTPInternalServerError.status_code
        try:
            if catalog.options.latency_ms > 0:
                await asyncio.sleep(catalog.options.latency_ms / 1000)
            response = _answer(request, inventory, authorize, encoder)
            status = response.status
            if status == web.HTTPOk.status_code:
                stats.inventory_pages += 1
            return response
        finally:
            stats.request_finished(status)

    app.router.add_get(INVENTORY_ROUTE, get_devices)


def _answer(
    request: web.Request,
    inventory: DeviceInventory,
    authorize: Authorize,
    encoder: msgspec.json.Encoder,
) -> web.Response:
    rejection = authorize(request)
    if rejection is not None:
        return rejection
    account = request.match_info["accountName"]
    if not inventory.catalog.has_account(account):
        return json_response(web.HTTPBadRequest.status_code, ACCOUNT_NOT_FOUND)
    start = parse_start_index(request.match_info["startIndex"])
    if start is None:
        return json_response(web.HTTPBadRequest.status_code, _BAD_START_INDEX)
    body = encoder.encode(inventory.page(account, start))
    return web.Response(body=body, content_type="application/json")
