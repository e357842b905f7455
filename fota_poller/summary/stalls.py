"""Which campaigns are stalled, as `summary` sorts and marks them: the one adapter to the history.

The history (`state/history.py`: `read_trends`, `CampaignTrend`) is kept by the state
database once issue 22's history lands. Until then that module does not exist and every
campaign reads as not stalled; `read_stalls` is the only place that asks for it, and
`stalls_of` the only place that reads a trend, so wiring it is one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final, NamedTuple, Protocol

if TYPE_CHECKING:  # `summary` without --state never loads SQLite
    import sqlite3


class Stall(NamedTuple):
    """One campaign's standing: stalled or not, and its consecutive runs without progress."""

    stalled: bool
    nights_without_progress: int


class Trend(Protocol):
    """What `stalls_of` reads of a `CampaignTrend` (state/history.py)."""

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
_HISTORY: Final = "fota_poller.state.history"


def stalls_of(trends: Iterable[Trend]) -> dict[tuple[str, str], Stall]:
    """(account, upgrade id) -> its `Stall`, for the campaigns that moved not last night."""
    # A campaign that moved is `NOT_STALLED`, the default: it takes no entry, so the map
    # holds at most one small tuple per campaign that is standing still.
    return {
        (trend.account_name, trend.upgrade_id): Stall(trend.stalled, trend.nights_without_progress)
        for trend in trends
        if trend.stalled or trend.nights_without_progress > 0
    }


def read_stalls(
    connection: sqlite3.Connection, *, stalled_after: int | None
) -> dict[tuple[str, str], Stall]:
    """The stalled campaigns the state's history knows; none before the history exists."""
    if stalled_after is None:  # no `phases.stalled_after` setting: no history either
        return {}
    try:
        history = importlib.import_module(_HISTORY)
    except ModuleNotFoundError:
        return {}
    # The fewest nights that decide `stalled`: the trends' nights are not shown here.
    trends: Iterable[Trend] = history.read_trends(
        connection, nights=stalled_after, stalled_after=stalled_after
    )
    return stalls_of(trends)
