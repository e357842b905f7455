"""The simulator's upgrades-by-status report, paged like ThingSpace's.

`GET /fota/v1/reports/{accountName}/status/{upgradeStatus}/index/{startIndex}`: `startIndex`
is `0` for the first page, then the previous page's `lastSeenUpgradeId`. The last page's
`lastSeenUpgradeId` is an id, null or the integer 0, each on some (account, status).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import msgspec
from aiohttp import web

from fota_poller.simulator.answers import ACCOUNT_NOT_FOUND, ServiceError, json_response
from fota_poller.simulator.catalog import CAMPAIGN_STATUSES

if TYPE_CHECKING:
    from fota_poller.simulator.catalog import Catalog
    from fota_poller.simulator.counting import SimulatorStats

REPORT_ROUTE: Final = "/fota/v1/reports/{accountName}/status/{upgradeStatus}/index/{startIndex}"
DEFAULT_PAGE_SIZE: Final = 50

Authorize = Callable[[web.Request], "web.Response | None"]


class ReportEntry(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """A campaign as a report lists it: the campaign without its device list."""

    id: str
    account_name: str
    firmware_name: str
    firmware_to: str
    start_date: str
    status: str
    end_date: str | None = None


class ReportPage(msgspec.Struct, frozen=True, rename="camel"):
    """One page of the report."""

    has_more_flag: bool
    last_seen_upgrade_id: str | int | None
    report_list: list[ReportEntry]


# What the last page of an (account, status) carries as lastSeenUpgradeId: ThingSpace's
# upgrade id, null, or the SDK's documented integer 0 ("0 if hasMoreData=false").
LAST_PAGE_FORMS: Final = ("id", "null", "0")


_BAD_START_INDEX: Final = ServiceError("INVALID_PARAMETER", "Invalid startIndex")


class StatusReports:
    """Every account's campaigns grouped by status, oldest first, built on the first request.

    Building needs every campaign generated once, so it waits until a report is asked for.
    """

    def __init__(self, catalog: Catalog, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        if page_size < 1:
            raise ValueError(f"page size must be at least 1, got {page_size}")
        self.catalog = catalog
        self.page_size = page_size
        self._by_status: dict[tuple[str, str], list[ReportEntry]] | None = None
        self._position: dict[tuple[str, str, str], int] = {}

    def entries(self, account: str, status: str) -> list[ReportEntry]:
        """Every campaign of `account` in `status`, in catalog (oldest first) order."""
        return self._index().get((account, status), [])

    def page(self, account: str, status: str, start_index: str) -> ReportPage | None:
        """The page after `start_index` (`0` for the first); None for an unknown index."""
        entries = self.entries(account, status)
        if start_index == "0":
            start = 0
        else:
            after = self._position.get((account, status, start_index))
            if after is None:
                return None
            start = after + 1
        listed = entries[start : start + self.page_size]
        more = start + self.page_size < len(entries)
        last_seen: str | int | None = listed[-1].id if listed else None
        if not more:
            last_seen = {"id": last_seen, "null": None, "0": 0}[
                self.last_page_form(account, status)
            ]
        return ReportPage(has_more_flag=more, last_seen_upgrade_id=last_seen, report_list=listed)

    def last_page_form(self, account: str, status: str) -> str:
        """Which of `LAST_PAGE_FORMS` the last page of (account, status) carries.

        Fixed per pair, and any three consecutive statuses of one account (or one status of
        three consecutive accounts) carry all three, so a discovery run sees every form.
        """
        accounts = self.catalog.options.accounts
        position = (
            _position_in(CAMPAIGN_STATUSES, status) + _position_in(accounts, account)
        ) % len(LAST_PAGE_FORMS)
        return LAST_PAGE_FORMS[position]

    def _index(self) -> dict[tuple[str, str], list[ReportEntry]]:
        if self._by_status is None:
            by_status: dict[tuple[str, str], list[ReportEntry]] = {}
            for account, upgrade_id in self.catalog.ids():
                campaign = self.catalog.campaign(account, upgrade_id)
                if campaign is None:  # pragma: no cover - ids() lists only served campaigns
                    continue
                group = by_status.setdefault((account, campaign.status), [])
                self._position[account, campaign.status, upgrade_id] = len(group)
                group.append(
                    ReportEntry(
                        id=campaign.id,
                        account_name=campaign.account_name,
                        firmware_name=campaign.firmware_name,
                        firmware_to=campaign.firmware_to,
                        start_date=campaign.start_date,
                        end_date=campaign.end_date,
                        status=campaign.status,
                    )
                )
            self._by_status = by_status
        return self._by_status


def _form_of(last_seen: str | int | None) -> str:
    """Which of `LAST_PAGE_FORMS` a page's lastSeenUpgradeId was sent as."""
    if last_seen is None:
        return "null"
    return "0" if isinstance(last_seen, int) else "id"


def _position_in(values: tuple[str, ...], value: str) -> int:
    # An unknown status has no upgrades, so its one page may take any form: use its length.
    return values.index(value) if value in values else len(value)


def add_report_routes(
    app: web.Application, reports: StatusReports, stats: SimulatorStats, authorize: Authorize
) -> None:
    """Serve `reports` on the report route, checking credentials with `authorize`."""
    catalog = reports.catalog

    async def get_report(request: web.Request) -> web.Response:
        # Counted like the upgrade route: discovery shares the poller's rate limit.
        stats.request_started()
        status = web.HTTPInternalServerError.status_code
        try:
            if catalog.options.latency_ms > 0:
                await asyncio.sleep(catalog.options.latency_ms / 1000)
            response, page = _answer(request, reports, authorize)
            status = response.status
            if page is not None:
                # How many upgrade requests came before this page: shows polling overlapping.
                stats.report_pages.append(stats.requests_total - len(stats.report_pages) - 1)
                if not page.has_more_flag:
                    form = _form_of(page.last_seen_upgrade_id)
                    stats.last_page_forms[form] = stats.last_page_forms.get(form, 0) + 1
            return response
        finally:
            # Counts the status too: adding it here as well counted every report page twice.
            stats.request_finished(status)

    app.router.add_get(REPORT_ROUTE, get_report)


def _answer(
    request: web.Request, reports: StatusReports, authorize: Authorize
) -> tuple[web.Response, ReportPage | None]:
    """The answer, and the page it carries when it is a 200."""
    rejection = authorize(request)
    if rejection is not None:
        return rejection, None
    account = request.match_info["accountName"]
    if not reports.catalog.has_account(account):
        return json_response(web.HTTPBadRequest.status_code, ACCOUNT_NOT_FOUND), None
    page = reports.page(
        account, request.match_info["upgradeStatus"], request.match_info["startIndex"]
    )
    if page is None:
        return json_response(web.HTTPBadRequest.status_code, _BAD_START_INDEX), None
    return json_response(web.HTTPOk.status_code, page), page
