"""Every counter of a run, in one object: what the run record, metrics and progress bar read.

The run's wiring creates one `RunTally` and hands it down: the HTTP client counts requests,
429s and token rejections into it, the retry loop retries (through an `AttemptCounter` per
fetch), the token provider its auth requests, and the pipeline campaigns queued and records
written. Nothing below reports back up: whoever wants a figure reads the tally it was given.

Counting stays off the per-device path: devices are added from each campaign record's
status counts, once per campaign.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from fota_poller.model.records import SCHEMA_VERSION, CampaignRecord, ErrorKind, RunRecord

# Raw statuses are the server's to invent: one campaign can send 200,000 distinct ones. The
# first this many of a run are counted by name (a metrics series each), the rest together
# under `OTHER_STATUSES`, so neither the tally nor the metrics file grows without bound.
STATUSES_BY_NAME: Final = 50
OTHER_STATUSES: Final = "(other)"


class RunTally:
    """Requests, retries, 429s, auth requests, campaigns by outcome, devices by status."""

    def __init__(self) -> None:
        # Upgrade, report and device-list requests (the run record's `requests_total`; not
        # auth requests).
        self.requests_total = 0
        # Of those, the device-list pages of `--inventory`, retries included (inventory/fetch.py).
        self.inventory_requests = 0
        # Requests repeated after a failure, and every 429 seen whether or not it was retried.
        self.retries = 0
        self.rate_limited = 0
        # Auth: token requests, logins and logouts sent, and API answers rejecting a token.
        self.token_requests = 0
        self.login_requests = 0
        self.logout_requests = 0
        self.tokens_rejected = 0
        # Campaigns: distinct ones (and invalid lines) on their way to a record, and written.
        self.campaigns_queued = 0
        self.input_finished = False
        self.campaigns_by_outcome: Counter[str] = Counter()
        self.failed_by_error_kind: Counter[str] = Counter()
        self.devices_by_status: Counter[str] = Counter()
        self.devices_by_phase: Counter[str] = Counter()
        # With a state database: devices new, changed and gone since the last run.
        self.devices_by_change: Counter[str] = Counter()
        # With a state database: campaigns stalled (state/history.py); None without one.
        self.campaigns_stalled: int | None = None
        # Log lines stderr could not take (closed, full, a reader that quit): observe/stderr.py.
        self.log_lines_dropped = 0
        self._on_change: Callable[[RunTally], None] | None = None

    def on_change(self, listener: Callable[[RunTally], None] | None) -> None:
        """Call `listener` (the progress bar) after each campaign count changes; None stops."""
        self._on_change = listener

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

    def log_lines_lost(self, count: int) -> None:
        """`count` log lines could not be written to stderr and were dropped."""
        self.log_lines_dropped += count

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

    def inventory_requests_sent(self, count: int) -> None:
        """`count` more device-list requests (`--inventory`), shown by the progress bar too."""
        self.inventory_requests += count
        self._changed()

    def campaign_written(self, record: CampaignRecord) -> None:
        """Count one campaign record and its devices."""
        self.campaigns_by_outcome[record.outcome] += 1
        if record.error_kind is not None:
            self.failed_by_error_kind[record.error_kind] += 1
        if record.device_status_counts:
            self._count_statuses(record.device_status_counts)
        if record.device_phase_counts:
            _add(self.devices_by_phase, record.device_phase_counts.items())
        if record.devices_new is not None:
            changes = self.devices_by_change
            changes["new"] += record.devices_new
            changes["changed"] += record.devices_changed or 0
            changes["gone"] += record.devices_gone or 0
        if record.stalled is not None:
            self.campaigns_stalled = (self.campaigns_stalled or 0) + record.stalled
        self._changed()

    def campaigns_failed_in_bulk(self, error_kind: ErrorKind, count: int) -> None:
        """Count `count` failed campaign records of one kind, written at once, without devices."""
        self.campaigns_by_outcome["failed"] += count
        self.failed_by_error_kind[error_kind] += count
        self._changed()

    def run_record(
        self,
        *,
        run_id: str,
        started_at: str,
        finished_at: str,
        duration_s: float,
        complete: bool,
        exit_code: int,
    ) -> RunRecord:
        """The run record: the run's identity, times and verdict, with the counts from here."""
        return RunRecord(
            run_id=run_id,
            schema_version=SCHEMA_VERSION,
            started_at=started_at,
            finished_at=finished_at,
            duration_s=duration_s,
            campaigns_total=self.campaigns_written,
            campaigns_ok=self.campaigns_by_outcome["ok"],
            campaigns_failed=self.campaigns_by_outcome["failed"],
            devices_total=self.devices_written,
            requests_total=self.requests_total,
            inventory_requests=self.inventory_requests,
            complete=complete,
            exit_code=exit_code,
        )

    def _count_statuses(self, counts: Mapping[str, int]) -> None:
        by_status = self.devices_by_status
        if len(by_status) + len(counts) <= STATUSES_BY_NAME:
            _add(by_status, counts.items())  # the usual night: a few dozen statuses in all
            return
        for status, count in counts.items():
            if status in by_status or len(by_status) < STATUSES_BY_NAME:
                by_status[status] += count
            else:
                by_status[OTHER_STATUSES] += count

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self)


def _add(counter: Counter[str], counts: Iterable[tuple[str, int]]) -> None:
    """`counter.update(dict(counts))`, without its Mapping check (a campaign each)."""
    for key, count in counts:
        counter[key] += count


class AttemptCounter:
    """The requests made for one fetch (a campaign record's `attempts`), kept outside the fetch.

    Readable after the fetch is cancelled. Every request after the first is also a retry in
    the run's tally, when one is given.
    """

    __slots__ = ("_tally", "count")

    def __init__(self, tally: RunTally | None = None) -> None:
        self.count = 0
        self._tally = tally

    def add(self) -> None:
        """One more request for this fetch."""
        self.count += 1
        if self.count > 1 and self._tally is not None:
            self._tally.retries += 1
