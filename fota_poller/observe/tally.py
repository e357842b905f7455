"""What a run has seen so far, for monitoring and the progress bar.

The pipeline tells the tally each time a campaign is passed to the workers and each
time a campaign record is written; the metrics file and the progress bar read it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from fota_poller.api.client import RequestCounters
from fota_poller.output.records import CampaignRecord, ErrorKind


class RunTally:
    """Campaigns queued and written, by outcome and error kind; devices by status; requests."""

    def __init__(self, on_change: Callable[[RunTally], None] | None = None) -> None:
        self.requests = RequestCounters()
        self.campaigns_queued = 0
        self.input_finished = False
        self.campaigns_by_outcome: Counter[str] = Counter()
        self.failed_by_error_kind: Counter[str] = Counter()
        self.devices_by_status: Counter[str] = Counter()
        self._on_change = on_change

    @property
    def campaigns_written(self) -> int:
        """Campaign records written so far."""
        return self.campaigns_by_outcome.total()

    @property
    def campaigns_total(self) -> int | None:
        """How many campaign records the run will write, once every source has ended."""
        return self.campaigns_queued if self.input_finished else None

    @property
    def devices_written(self) -> int:
        """Device records written so far."""
        return self.devices_by_status.total()

    def campaign_queued(self) -> None:
        """One more distinct campaign (or invalid line) is on its way to a record."""
        self.campaigns_queued += 1

    def campaigns_queued_in_bulk(self, count: int) -> None:
        """`count` more distinct campaigns (or invalid lines) at once."""
        self.campaigns_queued += count

    def sources_ended(self) -> None:
        """Every id source has ended: the total is now known."""
        self.input_finished = True
        self._changed()

    def campaign_written(self, record: CampaignRecord) -> None:
        """Count one campaign record and its devices."""
        self.campaigns_by_outcome[record.outcome] += 1
        if record.error_kind is not None:
            self.failed_by_error_kind[record.error_kind] += 1
        if record.device_status_counts:
            self.devices_by_status.update(record.device_status_counts)
        self._changed()

    def campaigns_failed_in_bulk(self, error_kind: ErrorKind, count: int) -> None:
        """Count `count` failed campaign records of one kind, written at once, without devices."""
        self.campaigns_by_outcome["failed"] += count
        self.failed_by_error_kind[error_kind] += count
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self)
