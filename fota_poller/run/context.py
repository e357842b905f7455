"""What the feeder, the workers and the writer of one run share: the items and the context."""

from __future__ import annotations

import anyio
import anyio.abc
import msgspec

from fota_poller.api.client import UpgradeClient
from fota_poller.errors import ExitCode
from fota_poller.inventory.fetch import InventoryFetcher
from fota_poller.inventory.upgrade_time import UpgradeTimes
from fota_poller.model.refs import CampaignRef, InvalidLine
from fota_poller.model.stop import RunControl
from fota_poller.model.tally import RunTally
from fota_poller.output.campaign import CampaignResult, RecordOptions
from fota_poller.output.not_polled import RecordBatch
from fota_poller.pacing.backoff import SharedBackoff
from fota_poller.pacing.retry import RetryPolicy
from fota_poller.run.inventories import Inventories, Parked

# What the feeder reads; what it hands the workers (a `Parked` answer: to be joined to its
# account's list, run/inventories.py); what the workers and the feeder hand the writer.
InputItem = CampaignRef | InvalidLine
WorkItem = InputItem | Parked
WriterItem = CampaignResult | RecordBatch


class InputState(msgspec.Struct):
    """How reading the input went; what was written is counted by the run's `RunTally`."""

    input_exhausted: bool = False
    input_error: str | None = None
    input_error_code: ExitCode = ExitCode.USAGE


class RunContext(msgspec.Struct):
    """What the feeder and the workers share."""

    run_id: str
    client: UpgradeClient
    control: RunControl
    input: InputState
    tally: RunTally
    base_url: str
    policy: RetryPolicy
    backoff: SharedBackoff
    records: RecordOptions
    # Cancel scopes of the campaigns being polled, cancelled when a stop's grace runs out.
    in_flight: set[anyio.CancelScope]
    # The accounts' device lists with `--inventory` (run/inventories.py); None without it.
    inventories: Inventories | None = None

    def open_inventories(self, group: anyio.abc.TaskGroup, concurrency: int) -> None:
        """Fetch each account's device list (`--inventory`) in `group`, through this run's path."""
        fetcher = InventoryFetcher(
            client=self.client,
            base_url=self.base_url,
            policy=self.policy,
            backoff=self.backoff,
            control=self.control,
            tally=self.tally,
            times=UpgradeTimes(),
        )
        self.inventories = Inventories(fetcher, group, self.in_flight, concurrency)
