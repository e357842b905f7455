"""`check`'s `inventory` step: the first page of one account's device list (`--inventory`).

One request, once the session is open, no further page (a preflight samples, it does not page
through an account): an account whose list these credentials cannot read, or a list that
answers in a shape the night cannot use (another account's, unreadable), fails now rather
than at night. The account is `--account` (`api.account`), else the first usable line's of
the first id list that is a file, else discovery's first. The exit codes are the night's: 1
for a list that fails (the night joins nothing to that account and exits 1), 4 for no
answer at all (a preflight does not wait out an outage); a rejected token is core.py's.
"""

from __future__ import annotations

from fota_poller.api.auth import TokenSource
from fota_poller.api.decode import decode_error
from fota_poller.commands.check.client import check_client
from fota_poller.commands.check.report import StepReport
from fota_poller.config import Config
from fota_poller.errors import (
    ConfigError,
    ExitCode,
    InputDecodeError,
    RequestFailedError,
)
from fota_poller.ids.discover import discovery_accounts
from fota_poller.inventory.device_list import decode_device_list, foreign_page
from fota_poller.inventory.fetch import FIRST_INDEX, device_list_url
from fota_poller.model.tally import RunTally
from fota_poller.text import excerpt

_OK = 200


def sample_account(config: Config, first_listed: str | None) -> str | None:
    """The account whose list `check` samples.

    `--account`, else the id lists' first (as the ids step read it), else discovery's first.
    """
    if config.api.account is not None:
        return config.api.account
    if first_listed is not None:
        return first_listed
    try:
        accounts = discovery_accounts(config)
    except ConfigError:
        return None  # the discovery step has said why already
    return accounts[0] if accounts else None


async def first_inventory_page(
    config: Config, tokens: TokenSource, tally: RunTally, account: str | None
) -> StepReport:
    """One GET of `account`'s first device-list page; its count of devices, or why not."""
    report = StepReport("inventory")
    if account is None:
        report.skip("no account to sample: give --account, or --ids of a file")
        return report
    url = device_list_url(config.api.base_url, account, FIRST_INDEX)
    async with check_client(config, tokens, tally, rate=0) as client:
        try:
            response = await client.get(url)
        except RequestFailedError as exc:
            # As the upgrade step: no answer is exit 4, an answer refused (too large, a
            # redirect) is the list's failure, the night's exit 1.
            code = ExitCode.CAMPAIGNS_FAILED if exc.final else ExitCode.CUT_SHORT
            report.fail(f"{account}: {exc}", code)
            return report
    if response.status != _OK:
        error = decode_error(response.body)
        said = (
            "" if error is None else f": {excerpt(error.code or '')} {excerpt(error.message or '')}"
        )
        report.fail(f"{account}: HTTP {response.status}{said}", ExitCode.CAMPAIGNS_FAILED)
        return report
    try:
        page = decode_device_list(response.take_body())
    except InputDecodeError as exc:
        report.fail(f"{account}: unreadable page: {exc}", ExitCode.CAMPAIGNS_FAILED)
        return report
    foreign = foreign_page(page, account)
    if foreign is not None:
        report.fail(f"{account}: {foreign}", ExitCode.CAMPAIGNS_FAILED)
        return report
    devices = len(page.device_list or ())
    more = "yes" if page.has_more_data and devices else "no"
    report.ok(f"{account}: {devices} devices on the first page, more: {more}")
    return report
