"""`check`'s `discovery` step: what the night asks the status report, and its first pages.

Offline, before any request: the statuses and the accounts discovery would query
(`discover.statuses` or `--status`, `discover.accounts`, else `api.account` or `--account`),
or exit 2 when it has no account, as the night is refused. Online, once the session is open:
the first page of each account and status, one request each and no further page (a
preflight samples, it does not page through an account), so an account these credentials
cannot see, or a status the API refuses, fails now rather than at night (exit 1, the night's
code for a failed discovery).
"""

from __future__ import annotations

from fota_poller.api.auth import TokenSource
from fota_poller.commands.check.client import check_client
from fota_poller.commands.check.report import StepReport
from fota_poller.config import Config
from fota_poller.errors import ConfigError, DiscoveryError
from fota_poller.ids.discover import FIRST_INDEX, discovery_accounts, fetch_report_page
from fota_poller.model.refs import canonical_upgrade_id
from fota_poller.model.tally import RunTally


def discovery_settings(config: Config) -> StepReport:
    """One line: what discovery will query, or why it cannot (exit 2); none when it is off."""
    report = StepReport("discovery")
    try:
        accounts = discovery_accounts(config)
    except ConfigError as exc:
        report.fail(str(exc), exc.exit_code)
        return report
    if accounts:
        statuses = ", ".join(config.discover.statuses)
        report.ok(
            f"statuses {statuses} in account{'s' if len(accounts) > 1 else ''} "
            f"{', '.join(accounts)}, up to {config.discover.max_pages} pages each "
            "(discover.max_pages)"
        )
    return report


async def first_pages(config: Config, tokens: TokenSource, tally: RunTally) -> StepReport:
    """The first report page of each account and status discovery will query: one GET each.

    At the run's rate (`poll.rate`), so many accounts are asked no faster than at night.
    """
    report = StepReport("discovery")
    base_url = config.api.base_url
    async with check_client(config, tokens, tally, rate=config.poll.rate) as client:
        for account in discovery_accounts(config):
            for status in config.discover.statuses:
                try:
                    page = await fetch_report_page(client, base_url, account, status, FIRST_INDEX)
                except DiscoveryError as exc:
                    report.fail(str(exc), exc.exit_code)
                    continue
                entries = page.report_list or []
                usable = sum(canonical_upgrade_id(entry.id or "") is not None for entry in entries)
                unusable = len(entries) - usable
                odd = f" and {unusable} entries without a usable id" if unusable else ""
                more = "more pages follow" if page.has_more_flag else "no more pages"
                upgrades = f"{usable} upgrade{'' if usable == 1 else 's'}"
                report.ok(f"{account} {status}: {upgrades}{odd} on the first page, {more}")
    return report
