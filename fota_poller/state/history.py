"""A campaign's nights: the history table, read back as trends, fleet totals and transitions.

The state keeps one row per committed run per campaign (`history`: its devices by phase, on
target and late, and `moved`, the devices whose phase changed in that run) and, per
campaign, the status transitions of its last committed run (`campaigns.transitions`). Both are
written (history_batch.py) in the transaction of the run's device changes, so they are
exactly as durable as the change feed; campaigns x nights, never devices x nights.

From each campaign's last nights, walked back from its latest (state/recent.py), per campaign
(`campaign_trend`, the one definition the records, `summary --state`, `state info` and
`report` share):

- `succeeded_delta`: succeeded now minus at the campaign's previous committed run;
- `nights_without_progress`: consecutive committed runs, latest backwards, in which no
  device changed phase (0 when something moved in the latest; the campaign's first night,
  which has nothing to compare with, counts as no such night). Kept as a running count in
  each night (`quiet`), so that neither retention nor how many nights are read changes it;
- `projected_finish`: the date a least-squares line of the resolved share over the last
  `FIT_NIGHTS` nights reaches 1 (state/finish.py says how, and when it is null); null for
  a stalled campaign, whose pace is zero now whatever the nights before it say;
- `stalled`: `nights_without_progress >= stalled_after` while devices are pending.

The report's nights are the last committed runs (`read_fleet_nights`) and, per campaign, its
nights among them (`read_trends`): one range of the table's key, which starts with the run.
Readers take an open connection, read-only or not; a database of schema version 2 or older
has no history: they answer empty.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Annotated, Final, NamedTuple

import msgspec

from fota_poller.model.timestamps import format_timestamp
from fota_poller.state.finish import projected_finish
from fota_poller.state.recent import FIT_NIGHTS, FitPoint, Recent, readable_night, recent_reader
from fota_poller.state.times import from_ms

# The history's table (schema version 3, created by schema.py), times in ms since the epoch,
# as the devices'. `quiet` is the night's nights without progress, `prior_run` the run of the
# campaign's night before (version 4; null: its first). Clustered by run, then campaign, and
# no other index (version 4 dropped two): a night's rows are appended at the end, a few new
# pages. A key or an index starting with the campaign would rewrite a page of every campaign
# each night (bench/history_commit.py); a campaign's nights are walked back along prior_run
# instead (state/recent.py), and retention deletes the oldest runs whole.
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
    prior_run INTEGER,
    PRIMARY KEY (run, campaign)
) WITHOUT ROWID""",
)
# A campaign's last committed run's transitions live in its own row (the row a run updates
# anyway: no page more is written), `campaigns.transitions`: a JSON list of [from, to,
# devices], null from for new devices, null to for gone ones; a few dozen at most.
TRANSITIONS_COLUMN: Final = "ALTER TABLE campaigns ADD COLUMN transitions TEXT"


class Night(msgspec.Struct, frozen=True):
    """One committed run's devices by phase (on target and late: null without --inventory)."""

    run_id: str
    polled_at: str
    devices: int
    succeeded: int
    failed: int
    pending: int
    unknown: int
    on_target: int | None
    late: int | None


class CampaignNight(Night, frozen=True):
    """One committed run of one campaign, and how many of its devices changed phase."""

    moved: int


class FleetNight(Night, frozen=True):
    """One committed run, summed over its campaigns."""


class Trend(msgspec.Struct, frozen=True):
    """What a campaign's last nights say (`campaign_trend`): the one shape every reader shows."""

    account_name: str
    upgrade_id: str
    succeeded_delta: int | None
    nights_without_progress: int
    projected_finish: str | None
    stalled: bool


class CampaignTrend(Trend, frozen=True):
    """A campaign's trend, and its nights (oldest first) when a reader asked for them."""

    nights: list[CampaignNight]


class Transition(msgspec.Struct, frozen=True):
    """Devices that went from one raw status to another (None: new, or gone) in a run."""

    from_status: str | None
    to_status: str | None
    count: int


class HistoryRow(NamedTuple):
    """Tonight's night of one campaign: the history's columns after its key, in their order.

    `quiet` is `quiet_nights`. A tuple, as the store's other rows: bound as it is.
    """

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
    prior_run: int | None  # the run of the campaign's night before (None: its first)


# (from status, to status, devices): None for a new device's from, a gone one's to.
TransitionRow = tuple[str | None, str | None, int]

# A count as a run writes it: 0 or more (and no more than a night's devices could be).
_Count = Annotated[int, msgspec.Meta(ge=0, le=2**40)]
_moves_decoder: Final = msgspec.json.Decoder(list[tuple[str | None, str | None, _Count]])


def moves_text(transitions: Sequence[TransitionRow]) -> str:
    """A campaign's transitions as its row keeps them (`campaigns.transitions`)."""
    return msgspec.json.encode(list(transitions)).decode()


def quiet_nights(moved: int, previous_quiet: int | None) -> int:
    """Tonight's nights without progress, from the last night's (None: tonight is the first)."""
    if moved or previous_quiet is None:
        return 0
    return previous_quiet + 1


def recent_with(prior: Recent | None, night: HistoryRow) -> Recent:
    """A campaign's recent nights once `night` is added to its `prior` ones (None: none)."""
    kept = [] if prior is None else prior.points[-(FIT_NIGHTS - 1) :]
    resolved = night.succeeded + night.failed
    tonight = FitPoint(night.polled_ms, night.devices, night.succeeded, resolved)
    return Recent(quiet=night.quiet, pending=night.pending, points=[*kept, tonight])


def campaign_trend(
    account_name: str,
    upgrade_id: str,
    recent: Recent,
    *,
    stalled_after: int,
) -> CampaignTrend:
    """The trend of a campaign whose last nights are `recent` (state/recent.py).

    Its `nights` are left empty: a reader gives the ones it read (`read_trends`).
    """
    points = recent.points
    latest = points[-1]
    delta = latest.succeeded - points[-2].succeeded if len(points) > 1 else None
    stalled = recent.quiet >= stalled_after and recent.pending > 0
    # A stalled campaign's pace is zero now, whatever the nights before it say.
    finish = (
        None
        if stalled
        else projected_finish([(p.polled_ms, p.devices, p.resolved) for p in points[-FIT_NIGHTS:]])
    )
    return CampaignTrend(
        account_name=account_name,
        upgrade_id=upgrade_id,
        succeeded_delta=delta,
        nights_without_progress=recent.quiet,
        projected_finish=finish,
        stalled=stalled,
        nights=[],
    )


def has_history(connection: sqlite3.Connection) -> bool:
    """Whether the database keeps a history (schema version 3 on)."""
    return int(connection.execute("PRAGMA user_version").fetchone()[0]) >= 3  # noqa: PLR2004


def polled_text(ms: int) -> str:
    """A stored time (ms since the epoch) as record text."""
    return format_timestamp(from_ms(ms))


# A campaign whose names are not text (a file edited by hand) has no trend or moves to show.
_NAMED: Final = "typeof(account_name) = 'text' AND typeof(upgrade_id) = 'text'"
_CAMPAIGNS: Final = f"""SELECT campaign, account_name, upgrade_id, last_run FROM campaigns
WHERE {_NAMED} ORDER BY account_name, upgrade_id"""  # noqa: S608 - our SQL, not input
# The nights of the last ? runs that kept any, oldest first: a range of the key (run, campaign).
_WINDOW: Final = f"""SELECT h.campaign, r.run_id, h.polled_ms, h.devices, h.succeeded, h.failed,
    h.pending, h.unknown, h.on_target, h.late, h.moved
FROM history AS h JOIN runs AS r ON r.run = h.run
WHERE h.run >= (SELECT min(run) FROM (SELECT run FROM runs
    WHERE EXISTS (SELECT 1 FROM history AS k WHERE k.run = runs.run) ORDER BY run DESC LIMIT ?))
    AND {readable_night("h")}
ORDER BY h.run"""  # noqa: S608 - readable_night is this package's SQL, not input


def read_trends(
    connection: sqlite3.Connection, *, nights: int, stalled_after: int
) -> list[CampaignTrend]:
    """Every campaign with a history, by account and id: its trend and its latest nights.

    Its nights are those among the last `nights` committed runs that kept any, oldest first
    (0: none are read); its trend is from its last nights (state/recent.py), whatever
    `nights` is.
    """
    if not has_history(connection):
        return []
    found: dict[int, list[CampaignNight]] = {}
    if nights:
        for key, run_id, polled, *counts in connection.execute(_WINDOW, (nights,)):
            found.setdefault(key, []).append(CampaignNight(run_id, polled_text(polled), *counts))
    read = recent_reader(connection)
    trends = []
    # Campaign after campaign: one campaign's nights held at a time (100,000 campaigns of 8
    # nights read at once, the chains of all of them in one query, held 219 MB).
    for key, account, upgrade, last_run in connection.execute(_CAMPAIGNS):
        if (recent := read(connection, key, last_run)) is not None:
            trend = campaign_trend(account, upgrade, recent, stalled_after=stalled_after)
            trends.append(msgspec.structs.replace(trend, nights=found.get(key, [])))
    return trends


_FLEET: Final = f"""SELECT r.run_id, min(h.polled_ms), sum(h.devices), sum(h.succeeded),
    sum(h.failed), sum(h.pending), sum(h.unknown), sum(h.on_target), sum(h.late)
FROM history AS h JOIN runs AS r ON r.run = h.run
WHERE {readable_night("h")}
GROUP BY h.run ORDER BY h.run DESC LIMIT ?"""  # noqa: S608 - readable_night: our SQL, not input


def read_fleet_nights(connection: sqlite3.Connection, *, nights: int) -> list[FleetNight]:
    """The last `nights` committed runs, each summed over its campaigns; oldest first.

    A run's time is its first campaign's; `on_target` and `late` are null when no campaign
    of the run knew them (`--inventory` off).
    """
    if not has_history(connection):
        return []
    rows = connection.execute(_FLEET, (nights,)).fetchall()
    return [FleetNight(run_id, polled_text(ms), *sums) for run_id, ms, *sums in reversed(rows)]


_TRANSITIONS: Final = f"""SELECT account_name, upgrade_id, transitions FROM campaigns
WHERE last_run = (SELECT max(run) FROM runs) AND {_NAMED}
ORDER BY account_name, upgrade_id"""  # noqa: S608 - our SQL, not input


def read_transitions(connection: sqlite3.Connection) -> dict[tuple[str, str], list[Transition]]:
    """Each campaign of the last committed run: its status transitions, most devices first.

    A campaign that run polled with nothing moving has an empty list; one it did not poll is
    not there, nor one whose transitions are not the JSON a run writes (a file edited by
    hand: unknown, as a night that is no night, state/recent.py).
    """
    if not has_history(connection):
        return {}
    found: dict[tuple[str, str], list[Transition]] = {}
    for account, upgrade, moves in connection.execute(_TRANSITIONS):
        if moves is not None and not isinstance(moves, str):
            continue  # stored as another type than the text a run writes
        try:
            decoded = [] if moves is None else _moves_decoder.decode(moves)
        except msgspec.MsgspecError:
            continue
        listed = [Transition(*m) for m in decoded]
        listed.sort(key=lambda t: (-t.count, str(t.from_status), str(t.to_status)))
        found[account, upgrade] = listed
    return found
