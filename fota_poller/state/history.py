"""A campaign's nights: the history table, read back as trends, fleet totals and transitions.

The state keeps one row per committed run per campaign (`history`: its devices by phase, on
target and late, and `moved`, the devices whose phase changed in that run) and, per
campaign, the status transitions of its last committed run (`campaigns.transitions`). Both are
written (history_batch.py) in the transaction of the run's device changes, so they are
exactly as durable as the change feed; campaigns x nights, never devices x nights.

From them, per campaign (`campaign_trend`, the one definition the records, `summary
--state`, `state info` and `report` share):

- `succeeded_delta`: succeeded now minus at the campaign's previous committed run;
- `nights_without_progress`: consecutive committed runs, latest backwards, in which no
  device changed phase (0 when something moved in the latest; the campaign's first night,
  which has nothing to compare with, counts as no such night). Kept as a running count in
  each row (`quiet`), so that neither retention nor how many nights are read changes it;
- `projected_finish`: the date a least-squares line of the resolved share over the last
  `FIT_NIGHTS` nights reaches 1 (state/finish.py says how, and when it is null); null for
  a stalled campaign, whose pace is zero now whatever the nights before it say;
- `stalled`: `nights_without_progress >= stalled_after` while devices are pending.

Readers take an open connection, read-only or not; a database of schema version 2 or older
has no history: they answer empty.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec

from fota_poller.model.timestamps import format_timestamp
from fota_poller.state.finish import projected_finish

# The history's table (schema version 3, created by schema.py), times in ms since the epoch,
# as the devices'. `quiet` is the night's nights without progress. Clustered by run, then
# campaign: a night's rows are appended at the end, a few new pages, where a key starting
# with the campaign would rewrite a page of every campaign each night (bench/history_commit
# .py). A campaign's last nights are read through `history_by_campaign`, retention deletes
# through `history_by_time`; both are appended to or small.
HISTORY_TABLES: Final = (
    """CREATE TABLE history (
    campaign INTEGER NOT NULL,
    run INTEGER NOT NULL,
    polled_ms INTEGER NOT NULL,
    devices INTEGER NOT NULL,
    succeeded INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    pending INTEGER NOT NULL,
    unknown INTEGER NOT NULL,
    on_target INTEGER,
    late INTEGER,
    moved INTEGER NOT NULL,
    quiet INTEGER NOT NULL,
    PRIMARY KEY (run, campaign)
) WITHOUT ROWID""",
    "CREATE INDEX history_by_campaign ON history (campaign, run)",
    "CREATE INDEX history_by_time ON history (polled_ms)",
)
# A campaign's last committed run's transitions live in its own row (the row a run updates
# anyway: no page more is written), `campaigns.transitions`: a JSON list of [from, to,
# devices], null from for new devices, null to for gone ones; a few dozen at most.
TRANSITIONS_COLUMN: Final = "ALTER TABLE campaigns ADD COLUMN transitions TEXT"

# The nights the projected finish is fitted over.
FIT_NIGHTS: Final = 7
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class CampaignNight(msgspec.Struct, frozen=True):
    """One committed run of one campaign: its devices by phase, and how many changed phase."""

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
    """A campaign's course over its nights (oldest first), and what is computed from it."""

    account_name: str
    upgrade_id: str
    succeeded_delta: int | None
    nights_without_progress: int
    projected_finish: str | None
    stalled: bool
    nights: list[CampaignNight]


class FleetNight(msgspec.Struct, frozen=True):
    """One committed run, summed over its campaigns."""

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
    """Devices that went from one raw status to another (None: new, or gone) in a run."""

    from_status: str | None
    to_status: str | None
    count: int


class HistoryRow(msgspec.Struct, frozen=True):
    """Tonight's night of one campaign as the history keeps it: `quiet` is `quiet_nights`."""

    polled_ms: int
    devices: int
    succeeded: int
    failed: int
    pending: int
    unknown: int
    on_target: int | None
    late: int | None
    moved: int
    quiet: int


# (from status, to status, devices): None for a new device's from, a gone one's to.
TransitionRow = tuple[str | None, str | None, int]

_moves_decoder: Final = msgspec.json.Decoder(list[tuple[str | None, str | None, int]])


def moves_text(transitions: Sequence[TransitionRow]) -> str:
    """A campaign's transitions as its row keeps them (`campaigns.transitions`)."""
    return msgspec.json.encode(list(transitions)).decode()


def quiet_nights(moved: int, previous_quiet: int | None) -> int:
    """Tonight's nights without progress, from the last night's (None: tonight is the first)."""
    if moved or previous_quiet is None:
        return 0
    return previous_quiet + 1


def campaign_trend(
    account_name: str,
    upgrade_id: str,
    nights: Sequence[CampaignNight],
    *,
    quiet: int,
    stalled_after: int,
) -> CampaignTrend:
    """The trend of a campaign whose last nights are `nights` (oldest first, at least one).

    `quiet` is the latest night's nights without progress (`quiet_nights`).
    """
    latest = nights[-1]
    delta = latest.succeeded - nights[-2].succeeded if len(nights) > 1 else None
    stalled = quiet >= stalled_after and latest.pending > 0
    # A stalled campaign's pace is zero now, whatever the nights before it say.
    finish = (
        None
        if stalled
        else projected_finish(
            [(n.polled_at, n.devices, n.succeeded + n.failed) for n in nights[-FIT_NIGHTS:]]
        )
    )
    return CampaignTrend(
        account_name=account_name,
        upgrade_id=upgrade_id,
        succeeded_delta=delta,
        nights_without_progress=quiet,
        projected_finish=finish,
        stalled=stalled,
        nights=list(nights),
    )


def has_history(connection: sqlite3.Connection) -> bool:
    """Whether the database keeps a history (schema version 3 on)."""
    return int(connection.execute("PRAGMA user_version").fetchone()[0]) >= 3  # noqa: PLR2004


def polled_text(ms: int) -> str:
    """A stored time (ms since the epoch) as record text."""
    return format_timestamp(_EPOCH + timedelta(milliseconds=ms))


# A campaign's last nights, newest first (the key (campaign, run) is read backwards).
NIGHTS_OF: Final = """SELECT r.run_id, h.polled_ms, h.devices, h.succeeded, h.failed, h.pending,
    h.unknown, h.on_target, h.late, h.moved, h.quiet
FROM history AS h JOIN runs AS r ON r.run = h.run
WHERE h.campaign = ? ORDER BY h.run DESC LIMIT ?"""


def campaign_nights(
    connection: sqlite3.Connection, key: int, nights: int
) -> tuple[list[CampaignNight], int | None]:
    """The campaign's last `nights` (oldest first) and the latest one's quiet count (None: none)."""
    rows = connection.execute(NIGHTS_OF, (key, nights)).fetchall()
    found = [
        CampaignNight(run_id, polled_text(polled), *counts)
        for run_id, polled, *counts, _ in reversed(rows)
    ]
    return found, (rows[0][-1] if rows else None)


def read_trends(
    connection: sqlite3.Connection, *, nights: int, stalled_after: int
) -> list[CampaignTrend]:
    """Every campaign with a history: its last `nights` nights and its trend, by account and id."""
    if not has_history(connection):
        return []
    campaigns = connection.execute(
        """SELECT campaign, account_name, upgrade_id FROM campaigns
        WHERE EXISTS (SELECT 1 FROM history AS h WHERE h.campaign = campaigns.campaign)
        ORDER BY account_name, upgrade_id"""
    ).fetchall()
    trends = []
    for key, account, upgrade in campaigns:
        found, quiet = campaign_nights(connection, key, max(nights, FIT_NIGHTS, 2))
        trend = campaign_trend(
            account, upgrade, found, quiet=quiet or 0, stalled_after=stalled_after
        )
        trends.append(msgspec.structs.replace(trend, nights=found[-nights:] if nights else []))
    return trends


_FLEET: Final = """SELECT r.run_id, min(h.polled_ms), sum(h.devices), sum(h.succeeded),
    sum(h.failed), sum(h.pending), sum(h.unknown), sum(h.on_target), sum(h.late)
FROM history AS h JOIN runs AS r ON r.run = h.run
GROUP BY h.run ORDER BY h.run DESC LIMIT ?"""


def read_fleet_nights(connection: sqlite3.Connection, *, nights: int) -> list[FleetNight]:
    """The last `nights` committed runs, each summed over its campaigns; oldest first.

    A run's time is its first campaign's; `on_target` and `late` are null when no campaign
    of the run knew them (`--inventory` off).
    """
    if not has_history(connection):
        return []
    rows = connection.execute(_FLEET, (nights,)).fetchall()
    return [FleetNight(run_id, polled_text(ms), *sums) for run_id, ms, *sums in reversed(rows)]


_TRANSITIONS: Final = """SELECT account_name, upgrade_id, transitions FROM campaigns
WHERE last_run = (SELECT max(run) FROM runs) ORDER BY account_name, upgrade_id"""


def read_transitions(connection: sqlite3.Connection) -> dict[tuple[str, str], list[Transition]]:
    """Each campaign of the last committed run: its status transitions, most devices first.

    A campaign that run polled with nothing moving has an empty list; one it did not poll is
    not there.
    """
    if not has_history(connection):
        return {}
    found: dict[tuple[str, str], list[Transition]] = {}
    for account, upgrade, moves in connection.execute(_TRANSITIONS):
        listed = [] if moves is None else [Transition(*m) for m in _moves_decoder.decode(moves)]
        listed.sort(key=lambda t: (-t.count, str(t.from_status), str(t.to_status)))
        found[account, upgrade] = listed
    return found
