"""Where upgrade ids come from without an id list: ThingSpace's report of upgrades by status.

`GET {base}/fota/v1/reports/{account}/status/{status}/index/{startIndex}` pages through the
upgrades of one account in one status, oldest first; `hasMoreFlag` says another page
follows, fetched with the page's `lastSeenUpgradeId` as the next `startIndex`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import NamedTuple
from urllib.parse import quote

import msgspec
import structlog
from anyio.abc import TaskGroup
from yarl import URL

from fota_poller.api.decode import decode_error
from fota_poller.config import Config
from fota_poller.decoding import decode
from fota_poller.errors import ConfigError, DiscoveryError, InputDecodeError, RequestFailedError
from fota_poller.ids.sources import Batched, merge_sources
from fota_poller.model.refs import CampaignRef, InvalidLine, canonical_upgrade_id
from fota_poller.model.stop import RunControl
from fota_poller.pacing.retry import Getter
from fota_poller.text import excerpt

log = structlog.get_logger("fota_poller")

# The report's paging (first index 0, then lastSeenUpgradeId) is in docs/thingspace.md.
FIRST_INDEX = "0"


class ReportEntry(msgspec.Struct, rename="camel"):
    """One upgrade of a report page; only its id is needed, the rest is polled afterwards."""

    id: str | None = None
    account_name: str | None = None
    status: str | None = None


class ReportPage(msgspec.Struct, rename="camel"):
    """One page of the upgrades-by-status report."""

    has_more_flag: bool = False
    # An upgrade id while more pages follow; on the last page Verizon's SDK types it as an
    # integer, "0 if hasMoreData=false", so an int is read too (and refused as a next index).
    last_seen_upgrade_id: str | int | None = None
    report_list: list[ReportEntry] | None = None


_page_decoder = msgspec.json.Decoder(ReportPage)

Found = CampaignRef | InvalidLine


def discovery_accounts(config: Config) -> tuple[str, ...]:
    """The accounts to discover in: `discover.accounts`, else `api.account`; () when off."""
    if not config.discover.statuses:
        return ()
    accounts = config.discover.accounts or (
        (config.api.account,) if config.api.account is not None else ()
    )
    if not accounts:
        raise ConfigError(
            "discovery needs an account: set discover.accounts, api.account or --account"
        )
    return accounts


def with_discovered(
    group: TaskGroup,
    config: Config,
    client: Getter,
    control: RunControl,
    refs: AsyncIterable[Found],
) -> AsyncIterable[Found]:
    """`refs` joined by the discovered upgrades, both read at once in `group`.

    `refs` alone when discovery is off.
    """
    accounts = discovery_accounts(config)
    if not accounts:
        return refs
    found = discover(
        client,
        config.api.base_url,
        accounts,
        config.discover.statuses,
        control,
        max_pages=config.discover.max_pages,
    )
    return merge_sources(group, [refs, found], buffer=config.poll.concurrency)


def report_url(base_url: str, account: str, status: str, start_index: str) -> URL:
    """`{base}/fota/v1/reports/{account}/status/{status}/index/{startIndex}`, segments quoted."""
    segments = "/".join(
        quote(segment, safe="") for segment in (account, "status", status, "index", start_index)
    )
    return URL(f"{base_url.rstrip('/')}/fota/v1/reports/{segments}", encoded=True)


async def fetch_report_page(
    client: Getter, base_url: str, account: str, status: str, start_index: str
) -> ReportPage:
    """One report page, retried as `client` retries; `DiscoveryError` on any failure."""
    url = report_url(base_url, account, status, start_index)
    try:
        response = await client.get(url)
    except RequestFailedError as exc:
        raise DiscoveryError(account, status, start_index, f"{exc.kind}: {exc}") from None
    if response.status != 200:  # noqa: PLR2004 - the one success status of this endpoint
        error = decode_error(response.body)
        detail = "" if error is None else f": {error.code}: {error.message}"
        raise DiscoveryError(account, status, start_index, f"HTTP {response.status}{detail}")
    try:
        return decode(_page_decoder.decode, response.body)
    except InputDecodeError as exc:
        raise DiscoveryError(account, status, start_index, f"unreadable page: {exc}") from None


def discover(
    client: Getter,
    base_url: str,
    accounts: Sequence[str],
    statuses: Sequence[str],
    control: RunControl,
    *,
    max_pages: int,
) -> Batched[Found]:
    """Every upgrade in `statuses` of every account in `accounts`, a batch per page, as it arrives.

    A failed page, or more than `max_pages` pages of one account and status, ends that
    account's status (logged, naming both) and the others go on; once all are done,
    `DiscoveryError` for the first failure is raised so the run is marked incomplete. Stops
    fetching once the run is stopped.
    """
    pager = _Pager(client, base_url, control, max_pages)
    return Batched(_discover_pages(pager, accounts, statuses))


class _Pager(NamedTuple):
    """What every account's and status's paging shares."""

    client: Getter
    base_url: str
    control: RunControl
    max_pages: int


async def _discover_pages(
    pager: _Pager, accounts: Sequence[str], statuses: Sequence[str]
) -> AsyncIterator[list[Found]]:
    first_failure: DiscoveryError | None = None
    for account in accounts:
        for status in statuses:
            try:
                async for page in _discover_one(pager, account, status):
                    yield page
            except DiscoveryError as exc:
                log.error(
                    "discovery.failed",
                    account_name=account,
                    status=status,
                    start_index=exc.start_index,
                    error=exc.reason,
                )
                first_failure = first_failure or exc
    if first_failure is not None:
        raise first_failure


async def _discover_one(pager: _Pager, account: str, status: str) -> AsyncIterator[list[Found]]:
    start_index = FIRST_INDEX
    pages = 0
    found = 0
    seen_indexes = {start_index}
    while not pager.control.stopped:
        if pages == pager.max_pages:
            # Each index was new, so no loop was seen: the pages just never end. A real
            # account's are far fewer (docs/configuration.md); the run must end all the same.
            reason = f"more than {pages} pages (discover.max_pages): stopped there"
            raise DiscoveryError(account, status, start_index, reason)
        page = await fetch_report_page(pager.client, pager.base_url, account, status, start_index)
        pages += 1
        entries = page.report_list or []
        found += len(entries)
        if entries:
            yield [
                _ref(entry, account, status, start_index, position)
                for position, entry in enumerate(entries, start=1)
            ]
        if not page.has_more_flag:
            break
        start_index = _next_index(
            page.last_seen_upgrade_id, seen_indexes, account, status, start_index
        )
        seen_indexes.add(start_index)
    log.info("discovery.done", account_name=account, status=status, pages=pages, upgrades=found)


def _next_index(
    last_seen: str | int | None, seen: set[str], account: str, status: str, start_index: str
) -> str:
    """The `startIndex` of the page after one with `hasMoreFlag`; `DiscoveryError` if none."""
    if isinstance(last_seen, int):
        reason = f"hasMoreFlag with integer lastSeenUpgradeId {last_seen}: no upgrade id to go on"
    elif not last_seen or last_seen in seen:
        # Following it would loop forever or restart from the top: refuse loudly.
        shown = "null" if last_seen is None else excerpt(last_seen)
        reason = f"hasMoreFlag with lastSeenUpgradeId {shown}"
    else:
        return last_seen
    raise DiscoveryError(account, status, start_index, reason)


def _ref(
    entry: ReportEntry, account: str, status: str, start_index: str, position: int
) -> CampaignRef | InvalidLine:
    upgrade_id = canonical_upgrade_id(entry.id or "")
    if upgrade_id is None:
        # Still gets a failed campaign record: a report entry is never dropped silently.
        # The index is the server's previous lastSeenUpgradeId, as unvalidated as the entry.
        trusted = start_index == FIRST_INDEX or canonical_upgrade_id(start_index) is not None
        index = start_index if trusted else excerpt(start_index)
        return InvalidLine(
            source=f"report {account}/{status}/index/{index}",
            line_number=position,
            reason=f"report entry id {excerpt(entry.id or '')} is not a UUID",
            account_name=account,
        )
    return CampaignRef(account, upgrade_id)
