"""What the report draws of the nights before: the state's history, read in one go.

The state database keeps one row per committed run per campaign (`state/history.py`);
`read_history` reads back, for the page, every campaign's trend over its last nights, the
fleet's nights and last night's transitions, and says whether any night is known at all:
a database that keeps none (made before the history, or with no committed run yet) gives
`NO_HISTORY`, and the page says so rather than draw a number it does not have.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

import msgspec

from fota_poller.state.history import (
    CampaignTrend,
    FleetNight,
    Transition,
    read_fleet_nights,
    read_transitions,
    read_trends,
)
from fota_poller.state.schema import sqlite_error

__all__ = ["NO_HISTORY", "Campaign", "CampaignTrend", "History", "Transition", "read_history"]

Campaign = tuple[str, str]  # (account name, upgrade id)


class History(msgspec.Struct, frozen=True):
    """What the state database knows of the nights before: empty when it keeps none."""

    known: bool = False
    trends: list[CampaignTrend] = msgspec.field(default_factory=list)
    fleet: list[FleetNight] = msgspec.field(default_factory=list)
    transitions: dict[Campaign, list[Transition]] = msgspec.field(default_factory=dict)


NO_HISTORY: Final = History()


def read_history(
    connection: sqlite3.Connection, path: Path, *, nights: int, stalled_after: int
) -> History:
    """The last `nights` committed runs of every campaign; `NO_HISTORY` when none are kept."""
    try:
        fleet = read_fleet_nights(connection, nights=nights)
        if not fleet:
            return NO_HISTORY
        trends = read_trends(connection, nights=nights, stalled_after=stalled_after)
        transitions = read_transitions(connection)
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    return History(known=True, trends=trends, fleet=fleet, transitions=transitions)
