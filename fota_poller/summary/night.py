"""A night's records file read for `summary`: campaign and run lines only, one line at a time.

Device lines are nine in ten of a night's bytes: a cheap look at a line's first bytes skips
them undecoded, so the read is I/O bound. Per campaign one small tuple (`CampaignRow`) is
kept, its repeated strings interned: with a limit (the table, markdown) only about the worst
`limit`; without one (json, csv), every row, in `SortedRows`, which spills sorted runs to a
temporary file past 10,000: memory stays flat however many campaigns the night has.
"""

from __future__ import annotations

import heapq
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Final

import msgspec

from fota_poller.decoding import decode
from fota_poller.errors import InputDecodeError
from fota_poller.lines import LongLine
from fota_poller.model.phases import PHASES, PhaseTable
from fota_poller.model.records import Phase, is_device_line
from fota_poller.output.device_list import MISSING_STATUS
from fota_poller.summary.models import ModelCounts, ModelTally
from fota_poller.summary.order import by_failed_share
from fota_poller.summary.row import CampaignRow
from fota_poller.summary.spill import SortedRows

# With a limit, rows are pruned to the worst `limit` once they pass this many (or twice the
# limit): memory stays flat however many campaigns, at O(n log limit) time.
_PRUNE_AT: Final = 4096


class _Campaign(msgspec.Struct, tag_field="record", tag="campaign"):
    """The campaign line's keys `summary` reads; defaults for the keys schema 1 lacks."""

    outcome: str
    account_name: str | None = None
    upgrade_id: str | None = None
    campaign_status: str | None = None
    firmware_name: str | None = None
    firmware_to: str | None = None
    campaign_ended: bool | None = None
    device_count: int | None = None
    device_status_counts: dict[str, int] | None = None
    # Schema 2 only; for a schema-1 file the phases come from the statuses (PhaseTable).
    device_phase_counts: dict[str, int] | None = None
    devices_new: int | None = None
    devices_changed: int | None = None
    devices_gone: int | None = None
    # Schema 3 with `--inventory` only: null (absent) otherwise.
    inventory: str | None = None
    devices_on_target: int | None = None
    devices_late: int | None = None
    devices_not_in_inventory: int | None = None
    device_models: dict[str, ModelCounts] | None = None
    error_kind: str | None = None


class _Device(msgspec.Struct, tag_field="record", tag="device"):
    """A device line not written as the pipeline writes it (keys reordered): read, not used."""


class Run(msgspec.Struct, tag_field="record", tag="run"):
    """The run line's keys `summary` reports."""

    run_id: str
    complete: bool
    exit_code: int
    schema_version: int = 1
    finished_at: str | None = None
    campaigns_total: int | None = None
    campaigns_ok: int | None = None
    campaigns_failed: int | None = None
    devices_total: int | None = None


_decoder = msgspec.json.Decoder(_Campaign | _Device | Run)


class Night:
    """What a records file says: its campaigns, totals by phase and status, its run line."""

    def __init__(
        self,
        phases: PhaseTable,
        *,
        failed_only: bool = False,
        limit: int | None = None,
        by_model: bool = False,
        key: Callable[[CampaignRow], tuple[object, ...]] = by_failed_share,
    ) -> None:
        self.phases = phases
        self.failed_only = failed_only
        self.limit = limit
        # The order of the view (`summary --sort`): worst first by this key, by default
        # summary's default order (`order.DEFAULT_SORT`).
        self.key = key
        # The campaigns kept for the view: with a limit only about the worst `limit`, in
        # `rows`; without one all (or all --failed-only keeps), in `every_row`, which spills
        # sorted runs to a temporary file. `chosen` gives exactly the view's rows.
        self.rows: list[CampaignRow] = []
        self.every_row = SortedRows(key) if limit is None else None
        self.campaigns = 0
        self.eligible = 0
        self.phase_totals: Counter[str] = Counter(dict.fromkeys(PHASES, 0))
        self.status_totals: Counter[str] = Counter()
        self.failed_by_kind: Counter[str] = Counter()
        self.run: Run | None = None
        self.bad_lines = 0
        # Of the bad lines, those over `lines.MAX_LINE_BYTES`, skipped unread.
        self.long_lines = 0
        self.first_bad_line: int | None = None
        self.lines = 0
        # The inventory's news (schema 3): whether any campaign line had one, the late
        # successes, devices on target and not in the device list, campaigns it failed for.
        self.inventory_seen = False
        self.on_target = 0
        self.late = 0
        self.not_in_inventory = 0
        self.inventory_failed = 0
        # Per model, for `--by model` only: the campaign rows are then not kept.
        self.models = ModelTally() if by_model else None

    @property
    def campaigns_failed(self) -> int:
        """Campaigns whose poll failed."""
        return sum(self.failed_by_kind.values())

    def read(self, lines: Iterable[bytes | LongLine]) -> None:
        """Take in every line of a records file; a line that is no record is counted.

        `lines` as `lines.read_lines` gives them: a `LongLine` is a bad line.
        """
        number = self.lines
        for line in lines:
            number += 1
            if isinstance(line, LongLine):  # never read whole, never decoded
                self.long_lines += 1
                self._bad(number)
                continue
            if is_device_line(line) or not line.strip():
                continue
            try:
                record = decode(_decoder.decode, line)
            except InputDecodeError:
                self._bad(number)
                continue
            if isinstance(record, _Campaign):
                self._campaign(record)
            elif isinstance(record, Run):
                self.run = record
        self.lines = number

    def _bad(self, number: int) -> None:
        self.bad_lines += 1
        if self.first_bad_line is None:
            self.first_bad_line = number

    def _campaign(self, record: _Campaign) -> None:
        statuses = record.device_status_counts or {}
        phases: dict[str, int] | None = record.device_phase_counts
        if phases is None:  # schema 1: the phases are computed from the statuses
            computed = self.phases.counts(statuses, MISSING_STATUS)
            phases = {str(phase): count for phase, count in computed.items()}
        # Plain loops, not Counter.update: a tenth of the read's time on 100,000 campaigns.
        status_totals, phase_totals = self.status_totals, self.phase_totals
        for status, count in statuses.items():
            status_totals[status] = status_totals.get(status, 0) + count
        for phase, count in phases.items():
            if phase in phase_totals:
                phase_totals[phase] += count
        if record.outcome == "failed":
            self.failed_by_kind[record.error_kind or "(none)"] += 1
        self.campaigns += 1
        if record.inventory is not None or record.devices_late is not None:
            self._inventory(record)
        if self.models is not None:
            self.models.add(phases, record.device_models, record.inventory)
        else:
            self._keep(record, phases)

    def _keep(self, record: _Campaign, phases: dict[str, int]) -> None:
        """Keep the campaign's row for the view (or not: --failed-only, past the limit)."""
        row = CampaignRow(
            account=_interned(record.account_name),
            upgrade=record.upgrade_id or "",
            firmware=_interned(record.firmware_to or record.firmware_name),
            status=_interned(record.campaign_status),
            outcome=_interned(record.outcome),
            error_kind=record.error_kind,
            devices=record.device_count or 0,
            succeeded=phases.get("succeeded", 0),
            failed=phases.get("failed", 0),
            pending=phases.get("pending", 0),
            unknown=phases.get("unknown", 0),
            ended=record.campaign_ended,
            new=record.devices_new,
            changed=record.devices_changed,
            gone=record.devices_gone,
            on_target=record.devices_on_target,
            late=record.devices_late,
        )
        if self.failed_only and not row.needs_a_look:
            return
        self.eligible += 1
        if self.every_row is not None:
            self.every_row.append(row)
            return
        self.rows.append(row)
        if self.limit is not None and len(self.rows) >= max(_PRUNE_AT, 2 * self.limit):
            self.rows = heapq.nsmallest(self.limit, self.rows, key=self.key)

    def _inventory(self, record: _Campaign) -> None:
        self.inventory_seen = True
        self.on_target += record.devices_on_target or 0
        self.late += record.devices_late or 0
        self.not_in_inventory += record.devices_not_in_inventory or 0
        if record.inventory == "failed":
            self.inventory_failed += 1

    def chosen(self) -> Iterator[CampaignRow]:
        """The campaigns the view shows, worst first, at most `limit`: to be read once."""
        if self.every_row is not None:
            return self.every_row.sorted()
        return iter(heapq.nsmallest(self.limit or 0, self.rows, key=self.key))

    def close(self) -> None:
        """Free the temporary file the rows spilled to, if any."""
        if self.every_row is not None:
            self.every_row.close()

    def statuses_by_phase(self) -> dict[Phase, list[tuple[str, int]]]:
        """The raw statuses under each phase, most devices first."""
        grouped: dict[Phase, list[tuple[str, int]]] = {phase: [] for phase in PHASES}
        for status, count in self.status_totals.most_common():
            phase = self.phases.phase(None if status == MISSING_STATUS else status)
            grouped[phase].append((status, count))
        return grouped


def _interned(text: str | None) -> str:
    # Accounts, firmware and statuses repeat across thousands of campaigns: kept once each.
    return "" if text is None else sys.intern(text)
