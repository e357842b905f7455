"""`poll --inventory`: each account's device list, fetched once per run, beside its campaigns.

A worker asks for its campaign's account (`Inventories.start`) before it polls the upgrade:
the first ask starts the account's one fetch, a task of the run's task group; the upgrade is
then polled while the list is fetched, and the campaign's records are built once both are
there (`wait`). Other accounts' campaigns wait for nothing. A list that failed joins its
campaigns as `inventory: "failed"` (fetch.py logs its one line) and makes the run exit 1; a
list cut short by a stop leaves its campaigns to the stop (not_polled).

Only the compact store (inventory/store.py) of each account is kept, for the run's length:
a campaign of an account may come at any point of the input.
"""

from __future__ import annotations

import anyio
import anyio.abc

from fota_poller.inventory.fetch import AccountInventory, InventoryFetcher, fetch_inventory
from fota_poller.model.inventory import CampaignInventory


class AccountFetch:
    """One account's fetch: started once, awaited by each of its campaigns."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.done = anyio.Event()
        self.result: AccountInventory | None = None

    async def wait(self) -> AccountInventory:
        """The account's inventory, once fetched (or failed, or stopped)."""
        await self.done.wait()
        assert self.result is not None  # noqa: S101 - set before `done`, always (see _fetch)
        return self.result


class Inventories:
    """The run's device lists by account: each fetched once, on its first campaign."""

    def __init__(
        self,
        fetcher: InventoryFetcher,
        group: anyio.abc.TaskGroup,
        in_flight: set[anyio.CancelScope],
    ) -> None:
        self._fetcher = fetcher
        self._group = group
        # The run's scopes a stop's grace cancels: a fetch in flight is cut with the rest.
        self._in_flight = in_flight
        self._accounts: dict[str, AccountFetch] = {}

    @property
    def failed_accounts(self) -> int:
        """Accounts whose list failed, not because the run stopped: the run then exits 1."""
        return sum(
            1
            for fetch in self._accounts.values()
            if fetch.result is not None and fetch.result.failed and not fetch.result.stopped
        )

    def start(self, account: str) -> AccountFetch:
        """`account`'s fetch, started now if this is its first campaign."""
        fetch = self._accounts.get(account)
        if fetch is None:
            fetch = self._accounts[account] = AccountFetch(account)
            self._group.start_soon(self._fetch, fetch, name=f"inventory {account}")
        return fetch

    async def _fetch(self, fetch: AccountFetch) -> None:
        with anyio.CancelScope() as scope:
            self._in_flight.add(scope)
            try:
                fetch.result = await fetch_inventory(self._fetcher, fetch.account)
            finally:
                self._in_flight.discard(scope)
                if fetch.result is None:
                    # Cancelled by a stop's grace running out: its campaigns follow the stop.
                    fetch.result = AccountInventory(
                        account=fetch.account, failure="the run stopped", stopped=True
                    )
                fetch.done.set()


def campaign_inventory(account: AccountInventory) -> CampaignInventory:
    """What a campaign of `account` is joined to: its list, or "failed"."""
    if account.inventory is None:
        return CampaignInventory(status="failed")
    return CampaignInventory(status="ok", lookup=account.inventory)


def inventories_failed(inventories: Inventories | None) -> bool:
    """Whether an account's list failed (not for a stop): the run's exit is then at least 1."""
    return inventories is not None and inventories.failed_accounts > 0
