"""`poll --inventory`: each account's device list, fetched once per run, beside its campaigns.

The feeder hands each campaign out through `Inventories.hand_out`: an account's first
campaign starts its one fetch, a task of the run's task group. A list is read one page
after another (each page names where the next starts), a thousand devices a request, so a
big account's list takes minutes where its campaigns, polled side by side, take seconds.
So a worker polls the upgrade while the list is fetched, and if the list is not there yet
it parks the answer (`park`: the body as received, `PARKED_BYTES` at most for the run) and
goes on to the next campaign; once the list is there, the parked answers go back to the
workers (`Parked`) to be joined and written. An answer that does not fit waits in its
worker. So that campaigns waiting for a list never hold every worker, at most
`concurrency - 1` of them are out while their lists are being fetched; the rest wait in the
feeder, as refs (`deferred`), handed out as workers park or once their list is there.
Other accounts' campaigns wait for nothing. A list that failed joins its campaigns as
`inventory: "failed"` (fetch.py logs its one line) and makes the run exit 1; a list cut
short by a stop leaves its campaigns to the stop (not_polled), parked ones too.

Only the compact store (inventory/store.py) of each account is kept, for the run's length:
a campaign of an account may come at any point of the input.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

import anyio
import anyio.abc
import msgspec

from fota_poller.api.client import HttpResponse
from fota_poller.inventory.fetch import AccountInventory, InventoryFetcher, fetch_inventory
from fota_poller.model.inventory import CampaignInventory
from fota_poller.model.refs import CampaignRef

# The bodies parked at once, all accounts together: a hundred thousand devices' answers.
PARKED_BYTES: Final = 16 * 2**20


class Parked(msgspec.Struct):
    """A campaign polled before its account's list was there: its answer, until the list is."""

    ref: CampaignRef
    attempts: int
    response: HttpResponse


class AccountFetch:
    """One account's fetch: started once, awaited by each of its campaigns."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.done = anyio.Event()
        self.result: AccountInventory | None = None
        self.waiting = 0  # campaigns handed out to the workers before the list was there
        self.deferred: list[CampaignRef] = []  # campaigns held back until it is
        self.parked: list[Parked] = []  # campaigns polled before it was

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
        concurrency: int,
    ) -> None:
        self._fetcher = fetcher
        self._group = group
        # The run's scopes a stop's grace cancels: a fetch in flight is cut with the rest.
        self._in_flight = in_flight
        self._accounts: dict[str, AccountFetch] = {}
        # Campaigns handed out whose list is still being fetched: one worker stays free.
        self._waiting = 0
        self._max_waiting = concurrency - 1
        self._parked_bytes = 0
        self._changed = anyio.Event()  # set each time a list is there, or an answer parked

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

    def hand_out(self, ref: CampaignRef) -> bool:
        """True: send `ref` to the workers now; False: it is deferred until its list is there."""
        fetch = self.start(ref.account_name)
        if fetch.done.is_set():
            return True
        if self._waiting < self._max_waiting:
            self._waiting += 1
            fetch.waiting += 1
            return True
        fetch.deferred.append(ref)
        return False

    def park(self, fetch: AccountFetch, parked: Parked) -> bool:
        """Hold a polled campaign's answer until its list is there; False: wait for it instead.

        False when the list is there already, or the answer does not fit `PARKED_BYTES`.
        The worker is then free: one more of the account's campaigns can be handed out.
        """
        size = len(parked.response.body)
        if fetch.done.is_set() or self._parked_bytes + size > PARKED_BYTES:
            return False
        self._parked_bytes += size
        fetch.parked.append(parked)
        fetch.waiting -= 1
        self._waiting -= 1
        self._changed.set()
        return True

    def ready(self) -> list[CampaignRef | Parked]:
        """What can go to the workers now, taken: parked answers and deferred campaigns.

        Of an account whose list is there, all of them; of one whose list is still being
        fetched, deferred campaigns while a worker is free for them.
        """
        items: list[CampaignRef | Parked] = []
        for fetch in self._accounts.values():
            if fetch.done.is_set():
                items += fetch.parked
                items += fetch.deferred
                self._parked_bytes -= sum(len(p.response.body) for p in fetch.parked)
                fetch.parked, fetch.deferred = [], []
                continue
            room = min(self._max_waiting - self._waiting, len(fetch.deferred))
            if room > 0:
                items += fetch.deferred[:room]
                del fetch.deferred[:room]
                self._waiting += room
                fetch.waiting += room
        return items

    async def when_ready(self) -> AsyncIterator[list[CampaignRef | Parked]]:
        """Every deferred and parked campaign, taken as it can go to the workers.

        Ends when none is left, and no campaign is out while its list is fetched (it may
        yet be parked).
        """
        while True:
            items = self.ready()
            if items:
                yield items
                continue
            if not any(
                fetch.deferred or fetch.parked or fetch.waiting for fetch in self._accounts.values()
            ):
                return
            # No await since ready(): nothing can have changed unseen before this event.
            self._changed = anyio.Event()
            await self._changed.wait()

    def take_deferred(self) -> list[CampaignRef]:
        """Every deferred campaign, taken now: a stopped run gives them their records."""
        refs: list[CampaignRef] = []
        for fetch in self._accounts.values():
            refs += fetch.deferred
            fetch.deferred = []
        return refs

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
                self._waiting -= fetch.waiting
                fetch.waiting = 0
                fetch.done.set()
                self._changed.set()


def campaign_inventory(account: AccountInventory) -> CampaignInventory:
    """What a campaign of `account` is joined to: its list, or "failed"."""
    if account.inventory is None:
        return CampaignInventory(status="failed")
    return CampaignInventory(status="ok", lookup=account.inventory)


def inventories_failed(inventories: Inventories | None) -> bool:
    """Whether an account's list failed (not for a stop): the run's exit is then at least 1."""
    return inventories is not None and inventories.failed_accounts > 0
