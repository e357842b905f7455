"""What the feeder, the workers and the writer of one run share: the items and the context."""

from __future__ import annotations

import anyio
import msgspec

from fota_poller.api.client import UpgradeClient
from fota_poller.errors import ExitCode
from fota_poller.model.refs import CampaignRef, InvalidLine
from fota_poller.model.stop import RunControl
from fota_poller.model.tally import RunTally
from fota_poller.output.campaign import CampaignResult, RecordOptions
from fota_poller.output.not_polled import RecordBatch
from fota_poller.pacing.backoff import SharedBackoff
from fota_poller.pacing.retry import RetryPolicy

# What the feeder hands the workers, and what the workers and the feeder hand the writer.
WorkItem = CampaignRef | InvalidLine
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
