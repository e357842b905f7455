"""The orders `summary --sort` offers, each a sort key over one campaign row.

A key is a plain tuple of the row's own numbers (and, for `stalled`, of one small entry per
campaign read from the state's history): the night is still read as a stream, the rows kept
worst first by `heapq` under a limit or by `SortedRows`' external sort without one. Every
order puts the campaigns whose poll failed first (nothing is known of them) and breaks its
ties the same way: more failed, more pending, then account and upgrade id, so that two runs
over one file print one order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fota_poller.summary.row import CampaignRow, worst_first
from fota_poller.summary.stalls import NOT_STALLED, Stalls

SortKey = Callable[[CampaignRow], tuple[object, ...]]

# The orders, the default first (the `--sort` choices, in this order).
SORTS: Final = ("failed-share", "failed", "pending", "stalled")
DEFAULT_SORT: Final = "failed-share"
# Below this many devices a failed share says little (1 of 2 is 50%): such a campaign is
# ranked by its failed count among the campaigns whose share is 0.
SHARE_MIN_DEVICES: Final = 20
# How each order is named in the table's title.
TITLES: Final = {
    "failed-share": "worst failed share first",
    "failed": "most failed first",
    "pending": "most pending first",
    "stalled": "stalled first",
}


def failed_share(row: CampaignRow) -> float:
    """The share of the campaign's devices that failed, 0 to 1; 0 under `SHARE_MIN_DEVICES`."""
    if row.devices < SHARE_MIN_DEVICES:
        return 0.0
    # At most 1: a count from a file nobody validated may be past what a float holds.
    return min(row.failed, row.devices) / row.devices


def _ties(row: CampaignRow) -> tuple[int, int, str, str]:
    return (-row.failed, -row.pending, row.account, row.upgrade)


def by_failed_share(row: CampaignRow) -> tuple[object, ...]:
    """Failed polls, then the highest failed share (campaigns of 20 devices or more), then count."""
    return (row.outcome != "failed", -failed_share(row), *_ties(row))


def sort_key(name: str, stalls: Stalls) -> SortKey:
    """The key of the order `name` (one of `SORTS`); `stalls` is read by `stalled` and `pending`."""
    if name == "failed":
        return worst_first  # the order `summary` had before --sort
    if name == "failed-share":
        return by_failed_share

    def stall(row: CampaignRow) -> tuple[bool, int]:
        found = stalls.get((row.account, row.upgrade), NOT_STALLED)
        return (not found.stalled, -found.nights_without_progress)

    if name == "pending":

        def by_pending(row: CampaignRow) -> tuple[object, ...]:
            # Among the campaigns with pending devices the stalled come first (issue 22).
            return (
                row.outcome != "failed",
                row.pending == 0,
                *stall(row),
                -row.pending,
                *_ties(row),
            )

        return by_pending
    if name == "stalled":

        def by_stalled(row: CampaignRow) -> tuple[object, ...]:
            return (row.outcome != "failed", *stall(row), *by_failed_share(row)[1:])

        return by_stalled
    raise ValueError(name)
