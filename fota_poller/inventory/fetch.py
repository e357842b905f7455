"""One account's device list, fetched page by page through the run's one request path.

`GET {base}/fota/v1/devices/{account}/index/{startIndex}`: `startIndex` 0 first, then each
page's `lastSeenDeviceId` while `hasMoreData` is true (docs/thingspace.md). Every page is
fetched as an upgrade is: `pacing.retry.fetch_with_retries` over the run's `UpgradeClient`
(rate limit, tokens, retries with back-off, the circuit, the body cap, no redirects, the
stop switch), its requests counted in the tally's `inventory_requests`.

The worst nights end in one `InventoryError` reason, logged once, never a loop: a page whose
`lastSeenDeviceId` does not advance (the same index again, a smaller one, none at all) ends
the account's inventory at that page; so does a 4xx, retries run out, an unreadable page or
another account's, or a list past `InventoryLimits`. A page with `hasMoreData` true and no
devices is the end of the list. Written in `inventory/` rather than `api/` because the
retries and the circuit are `pacing/`'s, which sits above `api/`.

A run builds one `InventoryFetcher` from its context (one `UpgradeTimes` with it) and awaits
`fetch_inventory` once per account; `AccountInventory.failed` marks that account's campaign
records `inventory: "failed"` and the run's exit 1 (the line is logged here already), else
`inventory.lookup(imei)` and `model.inventory.on_target` join each device. A token no one can renew
stops the run (as a worker does) and comes back failed and `stopped`.
"""

from __future__ import annotations

import time
from typing import Final, NamedTuple
from urllib.parse import quote

import msgspec
import structlog
from yarl import URL

from fota_poller.api.decode import decode_error
from fota_poller.errors import AuthenticationError, InputDecodeError, InventoryError
from fota_poller.inventory.builder import InventoryBuilder
from fota_poller.inventory.device_list import (
    DeviceListPage,
    advances,
    decode_device_list,
    foreign_page,
    index_text,
)
from fota_poller.inventory.store import Inventory
from fota_poller.inventory.upgrade_time import UpgradeTimes
from fota_poller.model.stop import RunControl, StopReason
from fota_poller.model.tally import AttemptCounter, RunTally
from fota_poller.pacing.backoff import SharedBackoff
from fota_poller.pacing.retry import Getter, RetryPolicy, fetch_with_retries
from fota_poller.text import escape_controls, excerpt

log = structlog.get_logger("fota_poller")

FIRST_INDEX: Final = "0"


class InventoryLimits(msgspec.Struct, frozen=True):
    """Bounds on one account's list, so a server that never ends it cannot end the run.

    5,000,000 devices take 95 MB of arrays (store.py); a real account's list is far shorter.
    """

    max_pages: int = 10_000
    max_devices: int = 5_000_000


class InventoryFetcher(NamedTuple):
    """What every account's inventory shares in one run: the run context's parts."""

    client: Getter
    base_url: str
    policy: RetryPolicy
    backoff: SharedBackoff
    control: RunControl
    tally: RunTally
    times: UpgradeTimes  # one per run: the first unreadable upgradeTime is logged once
    limits: InventoryLimits = InventoryLimits()


class AccountInventory(msgspec.Struct, kw_only=True):
    """How one account's inventory ended: the store, or why there is none."""

    account: str
    inventory: Inventory | None = None
    # Why the inventory failed (already logged); None when `inventory` is whole.
    failure: str | None = None
    # The run stopped before the list was whole: not the API's fault.
    stopped: bool = False
    requests: int = 0  # every request, retries included
    pages: int = 0
    devices: int = 0  # distinct IMEIs held
    duplicates: int = 0  # IMEIs listed more than once (the last was kept)
    without_id: int = 0  # entries with no deviceId: nothing to join them to

    @property
    def failed(self) -> bool:
        """True when the account's campaign records say `inventory: "failed"`."""
        return self.inventory is None


def device_list_url(base_url: str, account: str, start_index: str) -> URL:
    """`{base}/fota/v1/devices/{account}/index/{startIndex}`, both segments quoted."""
    segments = f"{quote(account, safe='')}/index/{quote(start_index, safe='')}"
    return URL(f"{base_url.rstrip('/')}/fota/v1/devices/{segments}", encoded=True)


class _Paging:
    """One account's paging so far: where it is and what it cost."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.start_index = FIRST_INDEX
        self.requests = 0
        self.pages = 0
        self.without_id = 0


async def fetch_inventory(fetcher: InventoryFetcher, account: str) -> AccountInventory:
    """`account`'s whole device list, or why not (logged in one line); never raises for it."""
    paging = _Paging(account)
    builder = InventoryBuilder()
    started = time.monotonic()
    try:
        await _fetch_pages(fetcher, paging, builder)
        inventory = builder.finish()
    except InventoryError as exc:
        log.error(
            "inventory.failed",
            account_name=escape_controls(account),
            start_index=escape_controls(paging.start_index),
            pages=paging.pages,
            requests=paging.requests,
            error=exc.reason,
        )
        return AccountInventory(
            account=account,
            failure=exc.reason,
            stopped=exc.stopped,
            requests=paging.requests,
            pages=paging.pages,
            without_id=paging.without_id,
        )
    log.info(
        "inventory.done",
        account_name=escape_controls(account),
        devices=len(inventory),
        pages=paging.pages,
        requests=paging.requests,
        duplicates=inventory.duplicates,
        without_id=paging.without_id,
        # From the first request to the store built: what the list cost this run's clock.
        elapsed_s=round(time.monotonic() - started, 3),
    )
    return AccountInventory(
        account=account,
        inventory=inventory,
        requests=paging.requests,
        pages=paging.pages,
        devices=len(inventory),
        duplicates=inventory.duplicates,
        without_id=paging.without_id,
    )


async def _fetch_pages(
    fetcher: InventoryFetcher, paging: _Paging, builder: InventoryBuilder
) -> None:
    limits = fetcher.limits
    while True:
        if paging.pages == limits.max_pages:
            raise InventoryError(f"more than {limits.max_pages} pages: stopped there")
        page = await _fetch_page(fetcher, paging)
        paging.pages += 1
        foreign = foreign_page(page, paging.account)
        if foreign is not None:
            raise InventoryError(foreign)
        devices = page.device_list or ()
        _add_devices(fetcher.times, paging, builder, page)
        if len(builder) > limits.max_devices:
            raise InventoryError(f"more than {limits.max_devices} devices: stopped there")
        # An empty page ends the list even if it says more follow: nothing to go on from.
        if not page.has_more_data or not devices:
            return
        index = index_text(page.last_seen_device_id)
        if index is None or not advances(index, paging.start_index):
            # Following it would ask for the same page again, or for devices already listed.
            shown = "null" if index is None else excerpt(index)
            raise InventoryError(
                f"hasMoreData with lastSeenDeviceId {shown}, not past startIndex "
                f"{excerpt(paging.start_index)}: the list does not advance"
            )
        paging.start_index = index


def _add_devices(
    times: UpgradeTimes, paging: _Paging, builder: InventoryBuilder, page: DeviceListPage
) -> None:
    account = paging.account
    for device in page.device_list or ():
        imei = device.device_id
        if imei is None or imei == "":
            paging.without_id += 1
            continue
        builder.add(
            imei if isinstance(imei, str) else str(imei),
            model=device.model,
            make=device.make,
            firmware=device.firmware,
            upgraded_ms=times.read(device.upgrade_time, account),
            fota_eligible=device.fota_eligible,
        )


async def _fetch_page(fetcher: InventoryFetcher, paging: _Paging) -> DeviceListPage:
    url = device_list_url(fetcher.base_url, paging.account, paging.start_index)
    counter = AttemptCounter(fetcher.tally)
    sent_nothing = False
    try:
        fetched = await fetch_with_retries(
            fetcher.client, url, fetcher.policy, fetcher.backoff, fetcher.control, counter=counter
        )
    except AuthenticationError as exc:
        # The last attempt counted may have sent nothing: the auth failed before it could.
        sent_nothing = exc.requests_sent == 0
        # No token the API takes: the run stops as a worker stops it (run/workers.py), and
        # every campaign not polled yet is recorded with "auth".
        fetcher.control.stop(
            StopReason(
                error_kind="auth",
                message=str(exc),
                exit_code=exc.exit_code,
                error_code=exc.error_code,
            )
        )
        raise InventoryError(f"auth: {exc}", stopped=True) from None
    finally:
        # Counted however the fetch ends: a request a stop's grace cancelled was still sent.
        _count(fetcher, paging, max(counter.count - sent_nothing, 0))
    if fetched.error is not None:
        error = fetched.error
        raise InventoryError(f"{error.kind}: {error}{_after(fetched.attempts)}")
    response = fetched.response
    if response is None:
        raise InventoryError("the run stopped before the list was whole", stopped=True)
    if response.status != 200:  # noqa: PLR2004 - the one success status of this endpoint
        error_body = decode_error(response.body)
        detail = ""
        if error_body is not None:
            detail = f": {excerpt(error_body.code or '')} {excerpt(error_body.message or '')}"
        raise InventoryError(f"HTTP {response.status}{detail}{_after(fetched.attempts)}")
    try:
        return decode_device_list(response.take_body())
    except InputDecodeError as exc:
        raise InventoryError(f"unreadable page: {exc}") from None


def _count(fetcher: InventoryFetcher, paging: _Paging, requests: int) -> None:
    paging.requests += requests
    fetcher.tally.inventory_requests_sent(requests)


def _after(attempts: int) -> str:
    return f" (after {attempts} attempts)" if attempts > 1 else ""
