"""`state stuck --by campaign`: where the stuck devices are, the campaigns most stuck first.

The condition is `queries.py`'s (`STUCK_WHERE`, the phase table, `--status`), counted in
one grouped query: a row per campaign and status, never one per device. A campaign's groups
come together (its devices are one range of the key), so it is summed as they stream, and
only the `limit` most stuck campaigns are kept while reading (a heap): memory is the limit,
or one small Struct per campaign without one.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Final

import msgspec

from fota_poller.model.phases import PhaseTable, status_key
from fota_poller.state import queries
from fota_poller.state.schema import sqlite_error
from fota_poller.state.times import stored_time, stored_time_text, to_ms

_GROUPS: Final = f"""SELECT c.account_name, c.upgrade_id, {queries.STATUS}, COUNT(*),
    MIN(d.status_since)
FROM devices AS d JOIN campaigns AS c ON c.campaign = d.campaign
{queries.STUCK_WHERE}
GROUP BY d.campaign, {queries.STATUS}
ORDER BY d.campaign"""  # noqa: S608 - constant text, no input: the values are parameters


class CampaignStuck(msgspec.Struct):
    """One campaign's stuck devices: how many, and since when the oldest of them is stuck."""

    account_name: str
    upgrade_id: str
    stuck: int
    # The oldest stuck device's `status_since`, and how long ago that is; null when the
    # stored time is no time (`times.stored_time`: a database edited by hand).
    oldest_status_since: str | None
    longest_stuck_for_s: int | None


def stuck_by_campaign(
    connection: sqlite3.Connection,
    path: Path,
    *,
    longer_than_s: float,
    phases: PhaseTable,
    statuses: Collection[str] = (),
    limit: int | None = None,
) -> list[CampaignStuck]:
    """The campaigns with stuck devices, most first (then the oldest, account, upgrade id).

    At most `limit` of them; the condition is `queries.stuck_devices`' exactly.
    """
    cutoff = queries.stuck_cutoff_ms(longer_than_s)
    if cutoff is None:
        return []
    now_ms = to_ms(queries.utc_now())
    campaigns = _campaigns(connection, path, cutoff, phases, statuses)
    # Most stuck first; then the longest stuck (an unknown time last), account, upgrade.
    ranked = (
        (-count, oldest is None, oldest or 0, account, upgrade)
        for account, upgrade, count, oldest in campaigns
    )
    kept = heapq.nsmallest(limit, ranked) if limit is not None else sorted(ranked)
    return [
        CampaignStuck(
            account_name=account,
            upgrade_id=upgrade,
            stuck=-negative_count,
            oldest_status_since=None if unknown else stored_time_text(oldest),
            longest_stuck_for_s=None if unknown else (now_ms - oldest) // 1000,
        )
        for negative_count, unknown, oldest, account, upgrade in kept
    ]


def _campaigns(
    connection: sqlite3.Connection,
    path: Path,
    cutoff: int,
    phases: PhaseTable,
    statuses: Collection[str],
) -> Iterator[tuple[str, str, int, int | None]]:
    """(account, upgrade id, stuck devices, oldest status time in ms or None) per campaign."""
    wanted = {status_key(status) for status in statuses}
    current: tuple[str, str] | None = None
    count, oldest = 0, None
    try:
        query = queries.for_schema(connection, _GROUPS)
        for account, upgrade, status, devices, since in connection.execute(query, (cutoff,)):
            if queries.stuck_phase(phases, status, wanted) is None:
                continue
            if (account, upgrade) != current:
                if current is not None:
                    yield (*current, count, oldest)
                current, count, oldest = (account, upgrade), 0, None
            count += devices
            moment = since if stored_time(since) is not None else None
            if moment is not None and (oldest is None or moment < oldest):
                oldest = moment
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    if current is not None:
        yield (*current, count, oldest)
