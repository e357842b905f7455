"""The report's one door to the campaigns' history (issue 22's shared contract, part A).

Part A keeps one row per committed run per campaign in the state database and reads it
back through `fota_poller.state.history` (`read_trends`, `read_fleet_nights`,
`read_transitions`). Everything the report takes from there passes through this module:
the contract's Structs, mirrored field for field, and `read_history`, which asks part A's
module when the package has it and otherwise says that no history is known, so that the
page shows "no history yet" and never a number it does not have.

Once part A is merged, the mirrors below can give way to imports of the same names.
"""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path
from typing import Final

import msgspec

from fota_poller.errors import StateError
from fota_poller.state.schema import sqlite_error

# Part A's module, found by name: until it is merged the package has none.
HISTORY_MODULE: Final = "fota_poller.state.history"


class CampaignNight(msgspec.Struct, frozen=True):
    """One campaign at one committed run: its devices by phase, and how many moved."""

    run_id: str
    polled_at: str
    devices: int
    succeeded: int
    failed: int
    pending: int
    unknown: int
    on_target: int | None
    late: int | None
    moved: int


class CampaignTrend(msgspec.Struct, frozen=True):
    """One campaign over its nights (oldest first), its pace and whether it stalled."""

    account_name: str
    upgrade_id: str
    succeeded_delta: int | None
    nights_without_progress: int
    projected_finish: str | None
    stalled: bool
    nights: list[CampaignNight]


class FleetNight(msgspec.Struct, frozen=True):
    """Every campaign of one committed run, summed."""

    run_id: str
    polled_at: str
    devices: int
    succeeded: int
    failed: int
    pending: int
    unknown: int
    on_target: int | None
    late: int | None


class Transition(msgspec.Struct, frozen=True):
    """Devices that went from one status to another in the last run (None: new, or gone)."""

    from_status: str | None
    to_status: str | None
    count: int


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
        module = importlib.import_module(HISTORY_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != HISTORY_MODULE:
            raise
        return NO_HISTORY
    try:
        trends = module.read_trends(connection, nights=nights, stalled_after=stalled_after)
        fleet = module.read_fleet_nights(connection, nights=nights)
        transitions = module.read_transitions(connection)
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    try:
        return History(
            known=bool(fleet),
            trends=msgspec.convert(trends, list[CampaignTrend], from_attributes=True),
            fleet=msgspec.convert(fleet, list[FleetNight], from_attributes=True),
            transitions={
                key: msgspec.convert(value, list[Transition], from_attributes=True)
                for key, value in transitions.items()
            },
        )
    except msgspec.ValidationError as exc:  # the contract broken: a bug, named as such
        raise StateError(f"state database {path}: its history does not read: {exc}") from None
