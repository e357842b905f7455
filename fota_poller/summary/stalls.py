"""Which campaigns are stalled, as `summary` sorts and marks them.

The state's history says it of each campaign (`state/night_report.py`'s `CampaignNews`,
from `state/history.py`'s trends); `stalls_of` keeps, of those, the campaigns standing
still, which is all the order `stalled` and the table's mark read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, NamedTuple, Protocol


class Stall(NamedTuple):
    """One campaign's standing: stalled or not, and its consecutive runs without progress."""

    stalled: bool
    nights_without_progress: int


class Trend(Protocol):
    """What `stalls_of` reads of a campaign's trend (state/night_report.py's `CampaignNews`)."""

    @property
    def account_name(self) -> str:
        """The campaign's account."""

    @property
    def upgrade_id(self) -> str:
        """The campaign's upgrade id."""

    @property
    def stalled(self) -> bool:
        """Pending devices, and no progress for `phases.stalled_after` runs."""

    @property
    def nights_without_progress(self) -> int:
        """Consecutive committed runs in which no device of the campaign changed phase."""


Stalls = Mapping[tuple[str, str], Stall]
NOT_STALLED: Final = Stall(stalled=False, nights_without_progress=0)


def stalls_of(trends: Iterable[Trend]) -> dict[tuple[str, str], Stall]:
    """(account, upgrade id) -> its `Stall`, for the campaigns that moved not last night."""
    # A campaign that moved is `NOT_STALLED`, the default: it takes no entry, so the map
    # holds at most one small tuple per campaign that is standing still.
    return {
        (trend.account_name, trend.upgrade_id): Stall(trend.stalled, trend.nights_without_progress)
        for trend in trends
        if trend.stalled or trend.nights_without_progress > 0
    }
