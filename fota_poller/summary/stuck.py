"""Per campaign, how many devices the state database says are stuck: `summary --state`.

Stuck as `fota-poller state stuck` means it: a pending or unknown phase (the phase table,
with the config's `[phases]`) whose status has not changed for longer than the cutoff. One
grouped query: a count per campaign and status, never a row per device.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
from pathlib import Path
from typing import Final

from fota_poller.model.phases import PhaseTable
from fota_poller.state.queries import STUCK_PHASES, utc_now
from fota_poller.state.schema import open_database, sqlite_error
from fota_poller.state.store import to_ms

_STUCK_COUNTS: Final = """SELECT c.account_name, c.upgrade_id, d.status, COUNT(*)
FROM devices AS d JOIN campaigns AS c ON c.campaign = d.campaign
WHERE d.status_since < ?
GROUP BY d.campaign, d.status"""


def stuck_counts(
    path: Path, *, longer_than_s: float, phases: PhaseTable
) -> dict[tuple[str, str], int]:
    """(account, upgrade id) -> devices stuck longer than `longer_than_s`; absent means none."""
    counts: dict[tuple[str, str], int] = {}
    if not math.isfinite(longer_than_s):
        return counts
    cutoff = to_ms(utc_now()) - round(longer_than_s * 1000)
    with contextlib.closing(open_database(path, read_only=True)) as connection:
        try:
            for account, upgrade, status, count in connection.execute(_STUCK_COUNTS, (cutoff,)):
                if phases.phase(status) in STUCK_PHASES:
                    key = (account, upgrade)
                    counts[key] = counts.get(key, 0) + count
        except sqlite3.Error as exc:
            raise sqlite_error(path, exc) from None
    return counts
