"""A campaign's night for the history, and its trend with tonight in it (state/history.py).

Computed by the worker, beside the campaign's records: the campaign line carries the trend
(`succeeded_delta`, `nights_without_progress`, `projected_finish`, `stalled`), and the
state learns the night in the same transaction as the devices, once the line is durable.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from fota_poller.model.records import CampaignRecord, Phase
from fota_poller.model.refs import CampaignRef
from fota_poller.output.inventory_join import InventoryCounts
from fota_poller.state.history import (
    CampaignTrend,
    HistoryRow,
    campaign_trend,
    quiet_nights,
    recent_with,
)
from fota_poller.state.store import Prior


class Tonight(msgspec.Struct, frozen=True):
    """Where and when a campaign was polled tonight, and how many of its devices moved."""

    run_id: str
    ref: CampaignRef
    polled_at: str
    polled_ms: int
    moved: int


class TonightState(msgspec.Struct, frozen=True):
    """What the state learns of a campaign tonight, and the trend its record carries."""

    night: HistoryRow
    trend: CampaignTrend | None  # None without `stalled_after`


def campaign_night(
    prior: Prior,
    phase_counts: Mapping[Phase, int],
    inventory: InventoryCounts,
    now: Tonight,
    *,
    stalled_after: int | None,
) -> TonightState:
    """Tonight's history row, and the trend of the campaign's last nights with it."""
    night = HistoryRow(
        polled_ms=now.polled_ms,
        devices=sum(phase_counts.values()),
        succeeded=phase_counts.get("succeeded", 0),
        failed=phase_counts.get("failed", 0),
        pending=phase_counts.get("pending", 0),
        unknown=phase_counts.get("unknown", 0),
        on_target=inventory.on_target,
        late=inventory.late,
        moved=now.moved,
        quiet=quiet_nights(now.moved, None if prior.recent is None else prior.recent.quiet),
        prior_run=prior.last_run,
    )
    if stalled_after is None:
        return TonightState(night, None)
    recent = recent_with(prior.recent, night)
    ref = now.ref
    trend = campaign_trend(ref.account_name, ref.upgrade_id, recent, stalled_after=stalled_after)
    return TonightState(night, trend)


def with_trend(record: CampaignRecord, trend: CampaignTrend | None) -> CampaignRecord:
    """`record` with the trend's four fields (left null without one)."""
    if trend is None:
        return record
    return msgspec.structs.replace(
        record,
        succeeded_delta=trend.succeeded_delta,
        nights_without_progress=trend.nights_without_progress,
        projected_finish=trend.projected_finish,
        stalled=trend.stalled,
    )
